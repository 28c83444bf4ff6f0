#!/usr/bin/env bash
# Subordinate ranges that grow (issue #14), with the guest's own newuidmap and newgidmap:
#   count 65536 -> 131072 (start: auto)    one range of 131072 ids, extended in place
#   start 100000, count 196608             one range again, not a second on top of the first
#   the user's own two ranges overlapping  (as an older apply left them) newuidmap refuses them:
#                                          verify fails and says why, drift reports it, apply
#                                          merges them, and verify passes
#   another owner's line in octal          `octal:0200000:65536`: shadow-utils reads numbers with
#                                          strtoul base 0, so getsubids and newuidmap give octal
#                                          the ids 65536-131071; drift and plan block on the line,
#                                          apply changes nothing, the helper grants nothing beside
#                                          it, and drift is back in sync once it is gone
# verify maps every range at once, the way rootlesskit does when k3s starts.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

require_groundwork apply --no-verify
require_groundwork verify --skip-cluster

vm_start_applied host

OUT=$(vm_script host <<'GUEST'
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

# Another owner whose line shadow-utils reads as octal. -K ..._COUNT=0: useradd gives octal no
# range of its own. /etc/subgid gets nothing: octal needs no gids to show the reading, and any
# range of 65536 ids there (decimal 65536, or the 200000 a decimal reader sees) overlaps k3s's
# 100000-231071, which would block on its own and keep drift from coming back once the subuid
# line is gone.
groundwork drift /root/grown.yaml >/root/drift-before-octal.txt 2>&1
kv octal.drift_before "$?"
groundwork plan -o json /root/explicit.yaml >/root/plan-explicit-before.json 2>&1
kv octal.explicit_plan_before "$?"
ids() { python3 -c 'import json, sys
for i in json.load(sys.stdin)["items"]: print(i["id"], i["action"])' <"$1" 2>&1 | xargs; }
kv octal.explicit_items_before "$(ids /root/plan-explicit-before.json)"
useradd -M -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 -s /usr/sbin/nologin octal
kv octal.useradd "$?"
printf 'octal:0200000:65536\n' >>/etc/subuid
kv octal.subuid "$(xargs </etc/subuid)"
kv octal.subgid "$(xargs </etc/subgid)"
kv octal.line "$(grep -n '^octal:' /etc/subuid | cut -d: -f1)"
kv octal.uidmap "$(dpkg-query -W -f='${Version}' uidmap 2>&1)"
kv octal.getsubids_is "$(dpkg-query -S "$(command -v getsubids)" 2>&1)"
getsubids octal >/root/getsubids.txt 2>&1
kv octal.getsubids_rc "$?"
kv octal.getsubids "$(xargs </root/getsubids.txt)"
# newuidmap, run by octal for a process of octal's in a new user namespace, maps 65536 ids from
# FIRST: allowed from 65536 (octal), refused from 200000 (the decimal reading).
newuidmap_from() {
  local first=$1 pid i rc
  setpriv --reuid=octal --regid=octal --clear-groups unshare --user sleep 60 &
  pid=$!
  for i in $(seq 100); do
    [ "$(readlink "/proc/$pid/ns/user")" != "$(readlink /proc/self/ns/user)" ] && break
    sleep 0.1
  done
  setpriv --reuid=octal --regid=octal --clear-groups newuidmap "$pid" 0 "$first" 65536 \
    >"/root/newuidmap-$first.txt" 2>&1
  rc=$?
  kv "octal.newuidmap_$first" "$rc"
  kv "octal.newuidmap_${first}_says" "$(xargs <"/root/newuidmap-$first.txt")"
  kv "octal.newuidmap_${first}_map" "$(xargs <"/proc/$pid/uid_map")"
  kill "$pid"
  wait "$pid" 2>/dev/null
}
newuidmap_from 65536
newuidmap_from 200000

groundwork drift /root/grown.yaml >/root/drift-octal.txt 2>&1
kv octal.drift "$?"
kv octal.drift_text "$(tr '\n' '|' </root/drift-octal.txt)"
groundwork drift -o json /root/grown.yaml >/root/drift-octal.json 2>&1
kv octal.drift_items "$(ids /root/drift-octal.json)"
groundwork plan /root/grown.yaml >/root/plan-octal.txt 2>&1
kv octal.plan "$?"
kv octal.plan_text "$(tr '\n' '|' </root/plan-octal.txt)"
sums() { sha256sum /etc/subuid /etc/subgid; }
before=$(sums)
groundwork apply --yes --no-verify /root/explicit.yaml >/root/apply-octal.txt 2>&1
kv octal.apply "$?"
kv octal.apply_text "$(tr '\n' '|' </root/apply-octal.txt)"
kv octal.apply_unchanged "$([ "$(sums)" = "$before" ] && echo yes || echo no)"
# The helper, asked by k3s itself through sudo for what that plan would have granted.
groundwork helper sudoers k3s >/etc/sudoers.d/groundwork-octal
chmod 0440 /etc/sudoers.d/groundwork-octal
printf '%s\n' '{"verb":"set_subids","user":"k3s","start":100000,"count":196608,"uids":true,"gids":true}' |
  runuser -u k3s -- sudo -n /usr/libexec/groundwork/groundwork-helper >/root/helper-octal.txt 2>&1
kv octal.helper "$?"
kv octal.helper_text "$(tr '\n' '|' </root/helper-octal.txt)"
rm -f /etc/sudoers.d/groundwork-octal
kv octal.helper_unchanged "$([ "$(sums)" = "$before" ] && echo yes || echo no)"

sed -i '/^octal:/d' /etc/subuid
kv octal.removed_subuid "$(xargs </etc/subuid)"
groundwork drift /root/grown.yaml >/root/drift-after-octal.txt 2>&1
kv octal.drift_after "$?"
kv octal.drift_after_text "$(tr '\n' '|' </root/drift-after-octal.txt)"
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

assert_eq "drift before octal's line" 0 "$(kv octal.drift_before)"
assert_eq "plan of the explicit start before octal's line: a change" 2 "$(kv octal.explicit_plan_before)"
assert_contains "its subids item: k3s's ranges to update" "$(kv octal.explicit_items_before)" "subids update"
assert_not_contains "nothing of it blocked" "$(kv octal.explicit_items_before)" "blocked"
assert_eq "useradd octal" 0 "$(kv octal.useradd)"
assert_eq "/etc/subuid with octal's line" "k3s:100000:131072 octal:0200000:65536" "$(kv octal.subuid)"
assert_eq "/etc/subgid without one" "k3s:100000:131072" "$(kv octal.subgid)"
assert_eq "octal's line number" 2 "$(kv octal.line)"
vm_log "uidmap $(kv octal.uidmap); getsubids: $(kv octal.getsubids_is)"
assert_match "getsubids comes with uidmap" "$(kv octal.getsubids_is)" '^uidmap: /usr/bin/getsubids$'
assert_eq "getsubids octal" 0 "$(kv octal.getsubids_rc)"
assert_eq "getsubids reads 0200000 as octal" "0: octal 65536 65536" "$(kv octal.getsubids)"
assert_eq "newuidmap from 65536, as shadow reads the line" 0 "$(kv octal.newuidmap_65536)"
assert_eq "the namespace's uid_map from 65536" "0 65536 65536" "$(kv octal.newuidmap_65536_map)"
assert_eq "newuidmap from 200000, as a decimal reader would" 1 "$(kv octal.newuidmap_200000)"
assert_contains "newuidmap from 200000: its own words" "$(kv octal.newuidmap_200000_says)" "not allowed"
assert_eq "the namespace's uid_map from 200000" "" "$(kv octal.newuidmap_200000_map)"

blocked="/etc/subuid:2: its start \`0200000\` has a leading zero: shadow-utils reads it as octal, 65536"
assert_eq "drift with octal's line" 2 "$(kv octal.drift)"
assert_contains "drift names the line" "$(kv octal.drift_text)" "  blocked: subids: $blocked|"
assert_eq "drift's only item" "subids/etc/subuid/line/2 blocked" "$(kv octal.drift_items)"
assert_eq "plan with octal's line: blocked" 3 "$(kv octal.plan)"
assert_contains "plan names the line" "$(kv octal.plan_text)" "! subids      $blocked|"
assert_contains "plan's fix" "$(kv octal.plan_text)" "fix: rewrite line 2 of /etc/subuid as owner:start:count in plain decimal, or delete it"
assert_contains "plan's count" "$(kv octal.plan_text)" "Plan: 0 to change (0 need root), 1 blocked"
assert_eq "apply of the explicit start beside octal's line: blocked" 3 "$(kv octal.apply)"
assert_contains "apply says so" "$(kv octal.apply_text)" "apply: blocked items need a manual fix first; nothing was changed."
assert_eq "/etc/subuid and /etc/subgid after that apply" yes "$(kv octal.apply_unchanged)"
assert_eq "the helper's set_subids beside octal's line: refused" 2 "$(kv octal.helper)"
assert_contains "the helper names the line" "$(kv octal.helper_text)" "$blocked; rewrite the line as owner:start:count in plain decimal, or delete it"
assert_eq "/etc/subuid and /etc/subgid after the helper" yes "$(kv octal.helper_unchanged)"
assert_eq "/etc/subuid without octal's line" "k3s:100000:131072" "$(kv octal.removed_subuid)"
assert_eq "drift once the line is gone" "$(kv octal.drift_before)" "$(kv octal.drift_after)"
assert_contains "drift once the line is gone: in sync" "$(kv octal.drift_after_text)" "in sync for user k3s"

vm_stop host
