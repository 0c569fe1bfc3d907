#!/usr/bin/env bash
# Instructions per task (valgrind --tool=callgrind; this machine has no hardware counters) for redis-server and for
# the mageflow process, S2 (a closed swarm, concurrency 50, local backend) at two sizes: the difference of the two
# divided by the difference in tasks, so that start-up, connection and shutdown cancel out.
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
    old_bin=${AB_OLD_BIN:-$(bench_binary "$AB_OLD_TREE" "${AB_OLD_TARGET:-/work/target-bench-old}")}
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

# Runs bench $1 for S2 of $2 items against the Redis on port $3; its stdout in $4.
run_bench() {
    local bin=$1 items=$2 port=$3 out=$4 prefix=${5:-} max=$2
    # "S2 swarm of 100," selects one row (the comma keeps "S2 swarm of 1000," apart); 1000 items are also the main
    # S2 row, so the scale rows stop below it
    [ "$items" = 1000 ] && max=100
    MAGEFLOW_TEST_REDIS_URL="redis://127.0.0.1:$port" MAGEFLOW_BENCH_AB=1 MAGEFLOW_BENCH_RUNS=1 \
        MAGEFLOW_BENCH_MAX_ITEMS="$max" MAGEFLOW_BENCH_ONLY="S2 swarm of $items," $prefix "$bin" >"$out" 2>"$out.err" ||
        { cat "$out.err" >&2; return 1; }
}

commands() { redis_row "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Redis commands / task"])'; }

echo "| build | S2 items | redis-server Ir | mageflow process Ir | Redis commands / task (Redis measured, client measured) |"
echo "|---|---|---|---|---|"
declare -A ir
for entry in $builds; do
    build=${entry%%:*}
    bin=${entry#*:}
    for items in "$small" "$large"; do
        # redis-server under callgrind, the bench native
        port=$(free_port)
        valgrind --tool=callgrind --callgrind-out-file="$work/redis-$build-$items.out" \
            redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no >"$work/redis.log" 2>&1 &
        pids+=($!)
        wait_redis "$port"
        run_bench "$bin" "$items" "$port" "$work/bench-native.txt"
        redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
        wait "${pids[-1]}" || true
        redis_ir=$(total_ir "$work/redis-$build-$items.out")
        # the bench under callgrind, redis-server native
        port=$(free_port)
        redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no >"$work/redis.log" 2>&1 &
        pids+=($!)
        wait_redis "$port"
        run_bench "$bin" "$items" "$port" "$work/bench-callgrind.txt" \
            "valgrind --tool=callgrind --callgrind-out-file=$work/bench-$build-$items.out"
        redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
        wait "${pids[-1]}" || true
        bench_ir=$(total_ir "$work/bench-$build-$items.out")
        ir[$build-$items-redis]=$redis_ir
        ir[$build-$items-bench]=$bench_ir
        echo "| $build | $items | $redis_ir | $bench_ir | $(commands "$work/bench-native.txt"), $(commands "$work/bench-callgrind.txt") |"
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
