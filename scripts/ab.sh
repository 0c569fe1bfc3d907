#!/usr/bin/env bash
# A/B of the main before issue 14 (A) against this tree (B): both release builds of the orchestration bench run
# alternately (A B B A A B ...) in one invocation against one redis-server of their own, S1 and S2, one run per
# invocation (MAGEFLOW_BENCH_AB=1 MAGEFLOW_BENCH_RUNS=1: the scenario on Redis only). Prints the medians.
#
#   scripts/ab.sh [rounds]            # default 5 rounds per scenario
#
# A is the tree at AB_OLD_TREE: commit 59c038f, main just before the merge of issue 14, with the bench-only patch
# scripts/ab-old-bench.patch applied (the old bench then prints Redis µs in scripts and understands
# MAGEFLOW_BENCH_AB; its engine is untouched). By default a worktree next to this checkout (../mageflow-bench-a),
# made and patched when missing, built into its own target dir (AB_OLD_TARGET); B is this tree, built into
# CARGO_TARGET_DIR (default target). AB_OLD_BIN / AB_NEW_BIN skip the builds.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/scripts/bench-common.sh"
rounds=${1:-5}
old_tree=${AB_OLD_TREE:-$here/../mageflow-bench-a}
if [ -z "${AB_OLD_BIN:-}" ]; then
  old_tree_of "$here" "$old_tree"
fi
old_bin=${AB_OLD_BIN:-$(bench_binary "$old_tree" "${AB_OLD_TARGET:-$old_tree/target}")}
new_bin=${AB_NEW_BIN:-$(bench_binary "$here" "${CARGO_TARGET_DIR:-$here/target}")}
[ -x "$old_bin" ] && [ -x "$new_bin" ] || { echo "cannot build the two benches ($old_bin, $new_bin)" >&2; exit 1; }
echo "A (main before issue 14): $old_bin (tree $old_tree at $(git -C "$old_tree" log -1 --format=%h))"
echo "B (this tree):            $new_bin (tree $here at $(git -C "$here" log -1 --format=%h))"

work=$(mktemp -d /tmp/bench14-ab.XXXXXX)
port=$(free_port)
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no >"$work/redis.log" 2>&1 &
redis_pid=$!
trap 'kill $redis_pid 2>/dev/null; rm -rf "$work"' EXIT
wait_redis "$port"
redis-cli -p "$port" info server | grep redis_version

results="$work/results.jsonl"
for scenario in "S1 chain of 100" "S2 swarm of 1000,"; do
    for round in $(seq "$rounds"); do
        if [ $((round % 2)) -eq 1 ]; then order="A B"; else order="B A"; fi
        for build in $order; do
            bin=$old_bin
            [ "$build" = B ] && bin=$new_bin
            cpu_before=$(redis_cpu "$port")
            MAGEFLOW_TEST_REDIS_URL="redis://127.0.0.1:$port" MAGEFLOW_BENCH_AB=1 MAGEFLOW_BENCH_RUNS=1 \
                MAGEFLOW_BENCH_MAX_ITEMS=100 MAGEFLOW_BENCH_ONLY="$scenario" "$bin" >"$work/out" 2>"$work/err" ||
                { cat "$work/err" >&2; exit 1; }
            cpu_after=$(redis_cpu "$port")
            row=$(redis_row "$work/out")
            echo "{\"build\": \"$build\", \"scenario\": \"$scenario\", \"redis_cpu\": $(python3 -c "print($cpu_after - $cpu_before)"), \"row\": $row}" >>"$results"
            echo "$build $scenario: $(echo "$row" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tasks / s"])') tasks/s" >&2
        done
    done
done

python3 - "$results" "$rounds" <<'EOF'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
tasks = {"S1 chain of 100": 100, "S2 swarm of 1000,": 1000}
columns = [
    ("tasks / s", lambda r, n: float(r["tasks / s"])),
    ("Redis commands / task", lambda r, n: float(r["Redis commands / task"])),
    ("round trips / task", lambda r, n: float(r["round trips / task"])),
    ("Redis µs in scripts / task", lambda r, n: float(r["Redis µs in scripts / task"])),
    # INFO CPU of the whole invocation (client start, function or script load, the run, FLUSHALL)
    ("Redis CPU µs / task, whole invocation", lambda r, n: r["redis_cpu"] * 1e6 / n),
]
print(f"\n### A/B, medians of {sys.argv[2]} alternating runs each\n")
print("| scenario | build | " + " | ".join(c for c, _ in columns) + " |")
print("|---|---|" + "---|" * len(columns))
for scenario, n in tasks.items():
    medians = {}
    for build in ("A", "B"):
        values = [dict(r["row"], redis_cpu=r["redis_cpu"]) for r in rows if r["build"] == build and r["scenario"] == scenario]
        medians[build] = [statistics.median(f(v, n) for v in values) for _, f in columns]
        name = "main before issue 14" if build == "A" else "this tree"
        print(f"| {scenario.rstrip(',')} | {name} | " + " | ".join(f"{m:.2f}" if m < 100 else f"{m:.0f}" for m in medians[build]) + " |")
    ratio = [b / a if a else float("nan") for a, b in zip(medians["A"], medians["B"])]
    print(f"| {scenario.rstrip(',')} | B / A | " + " | ".join(f"{r:.2f}x" for r in ratio) + " |")
EOF
