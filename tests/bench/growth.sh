#!/usr/bin/env bash
# How the cost of `groundwork drift` grows with the host's inputs: subuid users, dpkg packages
# and sysctl.d files, on synthetic host trees (`--root`). Prints a Markdown table of medians.
#   tests/bench/growth.sh [path/to/groundwork]
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-target/release/groundwork}
command -v hyperfine >/dev/null || { echo "hyperfine is needed: apt-get install hyperfine" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/spec.yaml" <<'SPEC'
user: { name: k3s }
sysctls:
  net.ipv4.ip_forward: 1
packages: [uidmap, dbus-user-session, slirp4netns, fuse-overlayfs]
k3s: { version: v1.31.4+k3s1 }
SPEC
echo "| subuid users | dpkg packages | sysctl.d files | median (ms) | min (ms) | max (ms) |"
echo "|---:|---:|---:|---:|---:|---:|"
for size in "100 300 20" "1000 1000 50" "5000 2000 100" "10000 3000 200" "20000 6000 400"; do
  read -r users packages files <<<"$size"
  tests/bench/synthetic-root.sh "$work/root" "$users" "$packages" "$files"
  hyperfine --warmup 3 --runs 30 -N -i --export-json "$work/r.json" \
    "$bin drift --root $work/root $work/spec.yaml" >/dev/null 2>&1
  python3 - "$work/r.json" "$users" "$packages" "$files" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
ms = lambda s: f"{s * 1000:.1f}"
print(f"| {sys.argv[2]} | {sys.argv[3]} | {sys.argv[4]} | {ms(r['median'])} | {ms(r['min'])} | {ms(r['max'])} |")
PY
done
