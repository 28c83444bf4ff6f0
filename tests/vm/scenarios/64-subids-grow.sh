#!/usr/bin/env bash
# Subordinate ranges that grow (issue #14), with the guest's own newuidmap and newgidmap:
#   count 65536 -> 131072 (start: auto)    one range of 131072 ids, extended in place
#   start 100000, count 196608             one range again, not a second on top of the first
#   the user's own two ranges overlapping  (as an older apply left them) newuidmap refuses them:
#                                          verify fails and says why, drift reports it, apply
#                                          merges them, and verify passes
# verify maps every range at once, the way rootlesskit does when k3s starts.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

require_groundwork apply --no-verify
require_groundwork verify --skip-cluster

vm_start_applied host

OUT=$(vm_ssh host bash -s <<'GUEST'
set -u
kv() { printf '%s=%s\n' "$1" "$2"; }
lines() { grep '^k3s:' "$1" | xargs; }
spec=/root/lab/lab.yaml
kv start "$(lines /etc/subuid)"

sed 's/^  count: 65536$/  count: 131072/' "$spec" >/root/grown.yaml
groundwork apply --yes --no-verify /root/grown.yaml >/root/apply-grown.txt 2>&1
kv grown.apply "$?"
kv grown.subuid "$(lines /etc/subuid)"
kv grown.subgid "$(lines /etc/subgid)"
groundwork verify --skip-cluster /root/grown.yaml >/root/verify-grown.txt 2>&1
kv grown.verify "$?"
kv grown.maps "$(grep -o 'uid_map: .*' /root/verify-grown.txt | head -n 1)"

sed -e 's/^  start: auto$/  start: 100000/' -e 's/^  count: 65536$/  count: 196608/' "$spec" >/root/explicit.yaml
groundwork apply --yes --no-verify /root/explicit.yaml >/root/apply-explicit.txt 2>&1
kv explicit.apply "$?"
kv explicit.subuid "$(lines /etc/subuid)"
groundwork drift /root/explicit.yaml >/dev/null 2>&1
kv explicit.drift "$?"

# The state the old apply left: two ranges of k3s on top of each other.
for f in /etc/subuid /etc/subgid; do
  sed -i '/^k3s:/d' "$f"
  printf 'k3s:100000:65536\nk3s:100000:131072\n' >>"$f"
done
groundwork verify --skip-cluster /root/grown.yaml >/root/verify-overlap.txt 2>&1
kv overlap.verify "$?"
kv overlap.text "$(tr '\n' '|' </root/verify-overlap.txt)"
groundwork drift /root/grown.yaml >/dev/null 2>&1
kv overlap.drift "$?"
groundwork apply --yes --no-verify /root/grown.yaml >/root/apply-merge.txt 2>&1
kv merged.apply "$?"
kv merged.subuid "$(lines /etc/subuid)"
kv merged.subgid "$(lines /etc/subgid)"
groundwork verify --skip-cluster /root/grown.yaml >/dev/null 2>&1
kv merged.verify "$?"
GUEST
)
kv() { kv_get "$OUT" "$1"; }
vm_log "guest: $OUT"

assert_eq "k3s's range after the lab apply" "k3s:100000:65536" "$(kv start)"

assert_eq "apply growing the count" 0 "$(kv grown.apply)"
assert_eq "/etc/subuid after growing" "k3s:100000:131072" "$(kv grown.subuid)"
assert_eq "/etc/subgid after growing" "k3s:100000:131072" "$(kv grown.subgid)"
assert_eq "verify after growing" 0 "$(kv grown.verify)"
assert_contains "verify maps the whole range" "$(kv grown.maps)" "1 100000 131072"

assert_eq "apply with an explicit start" 0 "$(kv explicit.apply)"
assert_eq "/etc/subuid with an explicit start" "k3s:100000:196608" "$(kv explicit.subuid)"
assert_eq "drift after that apply" 0 "$(kv explicit.drift)"

assert_eq "verify with overlapping ranges of the user's own" 1 "$(kv overlap.verify)"
assert_contains "verify with overlapping ranges" "$(kv overlap.text)" "FAIL user namespace mapped onto subordinate ids"
assert_contains "verify with overlapping ranges: newuidmap's own words" "$(kv overlap.text)" "write to uid_map failed: Invalid argument"
assert_contains "verify with overlapping ranges: the cause" "$(kv overlap.text)" "ranges overlap each other"
assert_eq "drift with overlapping ranges" 2 "$(kv overlap.drift)"
assert_eq "apply merging them" 0 "$(kv merged.apply)"
assert_eq "/etc/subuid after merging" "k3s:100000:131072" "$(kv merged.subuid)"
assert_eq "/etc/subgid after merging" "k3s:100000:131072" "$(kv merged.subgid)"
assert_eq "verify after merging" 0 "$(kv merged.verify)"

vm_stop host
