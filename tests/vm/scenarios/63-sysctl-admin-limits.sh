#!/usr/bin/env bash
# An administrator's own sysctl file beside groundwork's (issue #14): the spec asks for
# `user.max_user_namespaces: { value: 28633, at_least: true }`.
#   a later file raises it to 100000   plan in sync, apply changes nothing; after a reboot the
#                                      kernel runs 100000 and groundwork's file is not rewritten
#                                      to chase it
#   the later file lowers it to 1000   plan blocked, fix "set it to at least 28633"; verify warns
#                                      (boot_warnings); after a reboot the fix still asks for the
#                                      spec's minimum, not the former 100000
# Reboots are real: systemd-sysctl reads the files in its own order.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

require_groundwork apply --no-verify
require_groundwork verify --skip-cluster

vm_start_applied host

# case KEY: the plan's exit code, items, fixes, the kernel's value and groundwork's file.
read -r -d '' CASE <<'SH' || true
spec=/root/lab/lab.yaml
kv() { printf '%s=%s\n' "$1" "$2"; }
plan_case() {
  local key=$1 rc=0
  groundwork plan --output json "$spec" >"/root/plan-$key.json" 2>&1 || rc=$?
  kv "$key.rc" "$rc"
  python3 - "$key" <<'PY'
import json, sys
key = sys.argv[1]
p = json.load(open(f"/root/plan-{key}.json"))
print(f"{key}.items=" + " ".join(i["id"] for i in p["items"]))
print(f"{key}.fixes=" + " | ".join(i.get("manual_fix") or "" for i in p["items"]))
PY
  kv "$key.runtime" "$(sysctl -n user.max_user_namespaces)"
  kv "$key.ours" "$(grep '^user.max_user_namespaces' /etc/sysctl.d/90-groundwork.conf | tr -d ' ')"
}
SH

OUT=$(vm_script host <<GUEST
set -u
$CASE
ours_before=\$(stat -c '%i %Y' /etc/sysctl.d/90-groundwork.conf)
printf 'user.max_user_namespaces = 100000\n' >/etc/sysctl.d/99-admin.conf
sysctl -q --system
plan_case raised
groundwork apply --yes --no-verify "\$spec" >/root/apply-raised.txt 2>&1
kv raised.apply "\$?"
kv raised.file_kept "\$([ "\$(stat -c '%i %Y' /etc/sysctl.d/90-groundwork.conf)" = "\$ours_before" ] && echo yes || echo no)"
GUEST
)
kv() { kv_get "$OUT" "$1"; }
vm_log "guest: $OUT"
assert_eq "kernel after the administrator's file" 100000 "$(kv raised.runtime)"
assert_eq "plan exit code with a later file raising the limit" 0 "$(kv raised.rc)"
assert_eq "plan items with a later file raising the limit" "" "$(kv raised.items)"
assert_eq "apply with a later file raising the limit" 0 "$(kv raised.apply)"
assert_eq "groundwork's file untouched by that apply (inode and mtime)" yes "$(kv raised.file_kept)"

vm_reboot host
OUT=$(vm_script host <<GUEST
set -u
$CASE
plan_case rebooted
GUEST
)
vm_log "guest: $OUT"
assert_eq "kernel after the reboot" 100000 "$(kv rebooted.runtime)"
assert_eq "plan exit code after the reboot" 0 "$(kv rebooted.rc)"
assert_eq "plan items after the reboot (no chasing the kernel's value)" "" "$(kv rebooted.items)"
assert_eq "groundwork's file after the reboot" "user.max_user_namespaces=28633" "$(kv rebooted.ours)"

OUT=$(vm_script host <<GUEST
set -u
$CASE
printf 'user.max_user_namespaces = 1000\n' >/etc/sysctl.d/99-admin.conf
sysctl -q --system
plan_case lowered
groundwork verify --skip-cluster --output json "\$spec" >/root/verify-lowered.json 2>/dev/null
kv lowered.verify "\$?"
python3 -c 'import json; print("lowered.warnings=" + " | ".join(json.load(open("/root/verify-lowered.json"))["boot_warnings"]))'
groundwork verify --skip-cluster "\$spec" >/root/verify-lowered.txt 2>&1
kv lowered.verify_text "\$(grep -c WARNING /root/verify-lowered.txt)"
GUEST
)
vm_log "guest: $OUT"
assert_eq "plan exit code with a later file lowering the limit" 3 "$(kv lowered.rc)"
assert_match "plan items with a later file lowering the limit" "$(kv lowered.items)" '^sysctl/user\.max_user_namespaces'
assert_contains "the fix" "$(kv lowered.fixes)" "remove that line, or set it to at least 28633"
assert_contains "verify's boot warning" "$(kv lowered.warnings)" "/etc/sysctl.d/99-admin.conf"
(($(kv lowered.verify_text) >= 1)) || fail "verify's text has no WARNING line"
ok "verify's text warns"

vm_reboot host
OUT=$(vm_script host <<GUEST
set -u
$CASE
plan_case lowered_rebooted
rm -f /etc/sysctl.d/99-admin.conf
groundwork apply --yes --no-verify "\$spec" >/root/apply-repair.txt 2>&1
kv repair "\$?"
kv repaired "\$(sysctl -n user.max_user_namespaces)"
groundwork drift "\$spec" >/dev/null 2>&1
kv drift "\$?"
GUEST
)
vm_log "guest: $OUT"
assert_eq "kernel after the reboot with the lower file" 1000 "$(kv lowered_rebooted.runtime)"
assert_eq "plan exit code after that reboot" 3 "$(kv lowered_rebooted.rc)"
assert_contains "the fix after the reboot names the spec's minimum" "$(kv lowered_rebooted.fixes)" "set it to at least 28633"
assert_not_contains "the fix after the reboot" "$(kv lowered_rebooted.fixes)" "100000"
assert_eq "apply once the administrator's file is gone" 0 "$(kv repair)"
assert_eq "kernel after that apply" 28633 "$(kv repaired)"
assert_eq "drift at the end" 0 "$(kv drift)"

vm_stop host
