# Shared by scripts/ab.sh and scripts/instructions.sh (sourced, not run).

# The path of the release build of the orchestration bench of the tree at $1, built into the target dir $2.
bench_binary() {
    local tree=$1 target=$2
    (cd "$tree" && CARGO_TARGET_DIR="$target" CARGO_INCREMENTAL=0 cargo bench --bench orchestration --no-run \
        --message-format=json 2>/dev/null) |
        python3 -c '
import json, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "orchestration":
        print(m["executable"])
' | tail -1
}

# Makes the A tree of the A/B at $2 when it is missing: a worktree of the checkout at $1 at commit 59c038f (main just
# before the merge of issue 14) with the bench-only patch scripts/ab-old-bench.patch applied.
old_tree_of() {
    local here=$1 tree=$2
    [ -d "$tree" ] && return 0
    git -C "$here" worktree add --detach "$tree" 59c038f >&2
    git -C "$tree" apply "$here/scripts/ab-old-bench.patch"
}

# A free TCP port on 127.0.0.1.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until the Redis on port $1 answers PING (up to 60 s: a Redis under callgrind starts slowly).
wait_redis() {
    for _ in $(seq 600); do
        redis-cli -p "$1" ping >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "redis-server on port $1 did not start" >&2
    return 1
}

# The first row of the table titled $2 (default "### Redis") that the bench printed (its stdout in file $1), as JSON
# keyed by column header.
redis_row() {
    python3 - "$1" "${2:-### Redis}" <<'EOF'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
start = next(i for i, line in enumerate(lines) if line == sys.argv[2] or line.startswith(sys.argv[2] + " ("))
header = [c.strip() for c in lines[start + 2].strip("|").split("|")]
row = [c.strip() for c in lines[start + 4].strip("|").split("|")]
print(json.dumps(dict(zip(header, row))))
EOF
}

# Redis's CPU seconds so far (user + system), from INFO CPU of the Redis on port $1.
redis_cpu() {
    redis-cli -p "$1" info cpu | tr -d '\r' | awk -F: '/^used_cpu_(user|sys):/ {sum += $2} END {printf "%.6f\n", sum}'
}
