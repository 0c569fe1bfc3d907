#!/usr/bin/env bash
# Instructions per task (valgrind --tool=callgrind; this machine has no hardware counters) for redis-server and for
# the mageflow process, S2 (a closed swarm, concurrency 50, local backend) at two sizes: the difference of the two
# divided by the difference in tasks, so that start-up, connection and shutdown cancel out. Then S1 (a chain of 100
# steps) and the bare apalis-redis peer (1,000 jobs at concurrency 50, end to end): two runs minus one run, per step
# or job.
#
#   scripts/instructions.sh            # this tree (B); with AB_OLD_BIN or AB_OLD_TREE also the main before issue 14 (A)
#
# Each number comes from its own run: redis-server under callgrind with the bench running natively against it, then
# the bench under callgrind against a native redis-server (so the process not measured keeps its normal speed).
# A process under callgrind runs ~50x slower, which changes how many transitions the batcher coalesces; the Redis
# command counts of each run are printed beside its instructions. Keeps the callgrind files in INSTR_KEEP (if set).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/scripts/bench-common.sh"
small=${INSTR_SMALL:-100}
large=${INSTR_LARGE:-1000}
new_bin=${AB_NEW_BIN:-$(bench_binary "$here" "${CARGO_TARGET_DIR:-$here/target}")}
builds="B:$new_bin"
if [ -n "${AB_OLD_BIN:-}" ] || [ -n "${AB_OLD_TREE:-}" ]; then
    [ -n "${AB_OLD_BIN:-}" ] || old_tree_of "$here" "$AB_OLD_TREE"
    old_bin=${AB_OLD_BIN:-$(bench_binary "$AB_OLD_TREE" "${AB_OLD_TARGET:-$AB_OLD_TREE/target}")}
    builds="A:$old_bin $builds"
fi
work=$(mktemp -d /tmp/bench14-instr.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    if [ -n "${INSTR_KEEP:-}" ]; then mkdir -p "$INSTR_KEEP" && cp "$work"/*.out "$INSTR_KEEP"/ 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

total_ir() { awk '/^(summary|totals):/ {print $2; exit}' "$1"; }

# Runs bench $1 against the Redis on port $2 with its stdout in $3 and the command prefix $4; the bench's settings
# from bench_ab, bench_runs, bench_max and bench_only.
run_bench() {
    local bin=$1 port=$2 out=$3 prefix=${4:-}
    # shellcheck disable=SC2086
    MAGEFLOW_TEST_REDIS_URL="redis://127.0.0.1:$port" MAGEFLOW_BENCH_AB=$bench_ab MAGEFLOW_BENCH_RUNS=$bench_runs \
        MAGEFLOW_BENCH_MAX_ITEMS=$bench_max MAGEFLOW_BENCH_ONLY=$bench_only $prefix "$bin" >"$out" 2>"$out.err" ||
        { cat "$out.err" >&2; return 1; }
}

# The bench's settings for one S2 run of $1 items: "S2 swarm of 100," selects one row (the comma keeps
# "S2 swarm of 1000," apart); 1000 items are also the main S2 row, so the scale rows stop below it.
s2_settings() {
    bench_ab=1 bench_runs=1 bench_max=$1 bench_only="S2 swarm of $1,"
    [ "$1" = 1000 ] && bench_max=100
    return 0
}

declare -A ir
# Measures bench $2 with the settings of run_bench: redis-server under callgrind with the bench native, then the bench under
# callgrind with redis-server native. Sets ir[$1-redis] and ir[$1-bench]; the bench's stdout of each run in
# $work/$1-native.txt and $work/$1-callgrind.txt.
measure() {
    local tag=$1 bin=$2 port
    port=$(free_port)
    valgrind --tool=callgrind --callgrind-out-file="$work/redis-$tag.out" \
        redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no >"$work/redis.log" 2>&1 &
    pids+=($!)
    wait_redis "$port"
    run_bench "$bin" "$port" "$work/$tag-native.txt"
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
    wait "${pids[-1]}" || true
    ir[$tag-redis]=$(total_ir "$work/redis-$tag.out")
    port=$(free_port)
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no >"$work/redis.log" 2>&1 &
    pids+=($!)
    wait_redis "$port"
    run_bench "$bin" "$port" "$work/$tag-callgrind.txt" \
        "valgrind --tool=callgrind --callgrind-out-file=$work/bench-$tag.out"
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
    wait "${pids[-1]}" || true
    ir[$tag-bench]=$(total_ir "$work/bench-$tag.out")
}

commands() { redis_row "$1" "${2:-### Redis}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Redis commands / task"])'; }

echo "| build | S2 items | redis-server Ir | mageflow process Ir | Redis commands / task (Redis measured, client measured) |"
echo "|---|---|---|---|---|"
for entry in $builds; do
    build=${entry%%:*}
    bin=${entry#*:}
    for items in "$small" "$large"; do
        s2_settings "$items"
        measure "$build-$items" "$bin"
        echo "| $build | $items | ${ir[$build-$items-redis]} | ${ir[$build-$items-bench]} |" \
            "$(commands "$work/$build-$items-native.txt"), $(commands "$work/$build-$items-callgrind.txt") |"
    done
done
echo
echo "| build | redis-server instructions / task | mageflow process instructions / task |"
echo "|---|---|---|"
for entry in $builds; do
    build=${entry%%:*}
    per() { echo $(((ir[$build-$large-$1] - ir[$build-$small-$1]) / (large - small))); }
    echo "| $build | $(per redis) | $(per bench) |"
done

# S1 (a chain of 100 on the local backend): two runs minus one run, per step
echo
echo "| build | S1 redis-server instructions / step | S1 mageflow process instructions / step | Redis commands / step (Redis measured, client measured) |"
echo "|---|---|---|---|"
for entry in $builds; do
    build=${entry%%:*}
    bin=${entry#*:}
    for runs in 1 2; do
        bench_ab=1 bench_runs=$runs bench_max=100 bench_only="S1 chain of 100"
        measure "$build-s1-$runs" "$bin"
    done
    echo "| $build | $(((ir[$build-s1-2-redis] - ir[$build-s1-1-redis]) / 100)) |" \
        "$(((ir[$build-s1-2-bench] - ir[$build-s1-1-bench]) / 100)) |" \
        "$(commands "$work/$build-s1-2-native.txt"), $(commands "$work/$build-s1-2-callgrind.txt") |"
done

# the bare apalis peer (this tree's bench): two runs of 1,000 jobs end to end minus one run, per job
for runs in 1 2; do
    bench_ab=0 bench_runs=$runs bench_max=100 bench_only="apalis-redis bare: 1000 jobs, concurrency 50, end to end"
    measure "peer-$runs" "$new_bin"
done
echo
echo "| bare apalis-redis, 1,000 jobs at concurrency 50, end to end | redis-server instructions / job | apalis process instructions / job | Redis commands / job (Redis measured, client measured) |"
echo "|---|---|---|---|"
peer_table="### Redis, apalis without mageflow"
echo "| (2 runs minus 1 run) / 1,000 | $(((ir[peer-2-redis] - ir[peer-1-redis]) / 1000)) |" \
    "$(((ir[peer-2-bench] - ir[peer-1-bench]) / 1000)) |" \
    "$(commands "$work/peer-2-native.txt" "$peer_table"), $(commands "$work/peer-2-callgrind.txt" "$peer_table") |"

for entry in $builds; do
    build=${entry%%:*}
    file="$work/redis-$build-$large.out"
    echo
    echo "redis-server's profile, $build, S2 of $large (inclusive instructions; the binary is stripped, exported symbols only):"
    callgrind_annotate --inclusive=yes --threshold=100 "$file" 2>/dev/null | python3 -c '
import re, sys
total, found = None, {}
for line in sys.stdin:
    m = re.match(r"\s*([\d,]+) \([ \d.]+%\)\s+(\S+)", line)
    if not m:
        continue
    ir, name = int(m.group(1).replace(",", "")), m.group(2)
    if name == "PROGRAM":
        total = ir
    fn = name.split(":", 1)[-1] if name.startswith("???:") else name
    if fn in ("fcallCommand", "evalShaCommand", "evalCommand", "scriptCall", "call\x272", "lua_pcall\x272") and fn not in found:
        found[fn] = ir
scripts = sum(found.get(f, 0) for f in ("fcallCommand", "evalShaCommand", "evalCommand"))
nested = found.get("call\x272", 0)
bridge = found.get("scriptCall", 0)
pct = lambda x: f"{100 * x / total:.1f}%"
print(f"- in scripts (FCALL/EVALSHA, inclusive): {pct(scripts)}")
print(f"  - Redis commands the scripts call (call, nested): {pct(nested)}; with the redis.call bridge around them: {pct(bridge)}")
print(f"  - Lua itself (the scripts minus redis.call): {pct(scripts - bridge)}")
print(f"- outside scripts (network, parsing, other commands): {pct(total - scripts)}")
'
done
