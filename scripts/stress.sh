#!/usr/bin/env bash
# Runs one integration test binary (or one test in it) many times and prints the runs that failed.
#
#   scripts/stress.sh TARGET N [FILTER...]
#
# TARGET is the name of a test under tests/ (for example `conformance`, `hatchet_backend`), N the number of runs,
# FILTER optional arguments for the test binary (a test name, `--exact`, ...). The binary is built once, with every
# feature, then run N times in a row; the output of each failed run is kept under target/stress/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 2 ] || ! [[ $2 =~ ^[0-9]+$ ]]; then
  echo "usage: scripts/stress.sh TARGET N [FILTER...]   (for example: scripts/stress.sh hatchet_backend 50)" >&2
  exit 2
fi
target=$1
runs=$2
shift 2

binary=$(cargo test --all-features --test "$target" --no-run --message-format=json 2>/dev/null |
  python3 -c '
import json, sys
for line in sys.stdin:
    try:
        message = json.loads(line)
    except ValueError:
        continue
    if message.get("reason") == "compiler-artifact" and message.get("executable") and message["target"]["name"] == sys.argv[1]:
        print(message["executable"])
' "$target" | tail -n 1)
if [ -z "$binary" ]; then
  echo "cannot build the test target \`$target\`: run \`cargo test --all-features --test $target --no-run\` to see why" >&2
  exit 2
fi

logs="target/stress/$target"
rm -rf "$logs"
mkdir -p "$logs"
failed=0
started=$(date +%s)
for run in $(seq 1 "$runs"); do
  log="$logs/run-$run.log"
  if "$binary" "$@" >"$log" 2>&1; then
    if grep -q '^running 0 tests$' "$log"; then
      echo "no test of \`$target\` matches \`$*\`" >&2
      exit 2
    fi
    rm -f "$log"
  else
    failed=$((failed + 1))
    failures=$(grep -E '^test .* FAILED$|panicked at' "$log" | head -n 5 | tr '\n' ' ')
    echo "run $run FAILED: ${failures:-see $log}"
  fi
done
where=""
[ "$failed" -eq 0 ] || where=" (logs in $logs)"
echo "$target: $runs runs, $((runs - failed)) passed, $failed failed in $(($(date +%s) - started)) s$where"
[ "$failed" -eq 0 ]
