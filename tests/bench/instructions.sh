#!/usr/bin/env bash
# drift against its floor in instructions, which emulation does not distort: callgrind counts
# every instruction of the whole process (the dynamic loader, the runtime's start, every thread)
# for `groundwork drift --root R` on growth.sh's smallest synthetic root, and for the floor doing
# the reads, stats and spawns of drift's own strace there (floor-ops.py, as peers.sh derives it).
#   tests/bench/instructions.sh [DIR-WITH-groundwork-AND-examples/bench-floor]
# Prints a Markdown table. Needs valgrind and strace; the binaries of `cargo build --release
# --bins --examples` (target/release by default).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-target/release}
for tool in valgrind strace callgrind_annotate; do
  command -v "$tool" >/dev/null || { echo "$tool is needed: apt-get install valgrind strace" >&2; exit 1; }
done
for b in "$bin/groundwork" "$bin/examples/bench-floor"; do
  [[ -x "$b" ]] || { echo "no $b: cargo build --release --bins --examples" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# growth.sh's spec and smallest root.
sed -n "/^cat > \"\$work\/spec.yaml\" <<'SPEC'$/,/^SPEC$/p" tests/bench/growth.sh | sed '1d;$d' >"$work/spec.yaml"
[[ -s "$work/spec.yaml" ]] || { echo "growth.sh's spec was not found" >&2; exit 1; }
tests/bench/synthetic-root.sh "$work/root" 100 300 20
drift=("$bin/groundwork" drift --root "$work/root" "$work/spec.yaml")
# A warm version cache, as in the timed benchmark.
export XDG_CACHE_HOME="$work/cache"
"${drift[@]}" >/dev/null 2>&1 || true
strace -f -qq -y -s 4096 -e trace=execve,openat,newfstatat,statx,readlink,readlinkat,access,faccessat2 \
  -o "$work/drift.strace" "${drift[@]}" >/dev/null 2>&1 || true
python3 tests/bench/floor-ops.py "$work/drift.strace" >"$work/floor.ops"

# count NAME COMMAND...: the instructions callgrind counts for the whole command.
count() {
  local name=$1
  shift
  valgrind --tool=callgrind --callgrind-out-file="$work/$name.cg" "$@" >/dev/null 2>"$work/$name.log" || true
  sed -n 's/^==[0-9]*== Collected : //p' "$work/$name.log" | tail -n 1
}
d=$(count drift "${drift[@]}")
f=$(count floor "$bin/examples/bench-floor" "$work/floor.ops")
[[ "$d" =~ ^[0-9]+$ && "$f" =~ ^[0-9]+$ ]] || { echo "callgrind counted nothing: $work/*.log" >&2; cat "$work"/*.log >&2; exit 1; }
echo "| program | instructions | ÷ floor |"
echo "|---|---:|---:|"
awk -v d="$d" -v f="$f" 'BEGIN {
  printf "| `groundwork drift` | %.2f M | %.2f× |\n", d / 1e6, d / f
  printf "| floor (`bench-floor`, %s) | %.2f M | 1.00× |\n", "drift'\''s own trace", f / 1e6
}'
echo
echo "The floor's operations: $(grep -vc "^#" "$work/floor.ops") ($(grep -v '^#' "$work/floor.ops" | cut -d' ' -f1 | sort | uniq -c | awk '{printf "%s%s %s", sep, $1, $2; sep=", "}'))."
