#!/usr/bin/env bash
# Kernel modules that only the kernel's build configuration can account for (issue #14): on
# WSL2 and many cloud kernels the modules are built in (`=y`) and no modules.builtin lists them.
# On the converged host, xt_comment is unloaded and, in a private mount namespace, the kernel's
# module tree is hidden (no modules.dep, no modules.builtin), so that only the configuration
# can tell whether the kernel has it:
#   config says =m (the real /boot/config-*)   blocked: the module is not installed
#   config says =y (a copy that says so)       in sync, nothing to load
#   /proc/config.gz only (Debian's `configs`)  read from there, facts say so
#   no configuration at all                    in sync, with a note that says "unknown"
# Afterwards the module is loaded again and drift is 0.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

require_groundwork plan
require_groundwork drift

vm_start_applied host

OUT=$(vm_script host <<'GUEST'
set -u
kv() { printf '%s=%s\n' "$1" "$2"; }
spec=/root/lab/lab.yaml
release=$(uname -r)
kv config_m "$(grep -c '^CONFIG_NETFILTER_XT_MATCH_COMMENT=m$' "/boot/config-$release")"
rmmod xt_comment
kv unloaded "$(grep -c '^xt_comment ' /proc/modules)"
modprobe configs 2>/dev/null
kv proc_config "$([ -e /proc/config.gz ] && echo yes || echo no)"
sed 's/^CONFIG_NETFILTER_XT_MATCH_COMMENT=m$/CONFIG_NETFILTER_XT_MATCH_COMMENT=y/' \
  "/boot/config-$release" >/root/config-builtin

# plan_case KEY: the plan's exit code, its items and notes as `id` lines, and the human text.
cat >/root/plan-case.sh <<'SH'
plan_case() {
  local key=$1 rc=0
  groundwork plan --output json /root/lab/lab.yaml >/root/plan-$key.json 2>/root/plan-$key.err || rc=$?
  printf '%s.rc=%s\n' "$key" "$rc"
  python3 - "$key" <<'PY'
import json, sys
key = sys.argv[1]
p = json.load(open(f"/root/plan-{key}.json"))
print(f"{key}.items=" + " ".join(i["id"] for i in p["items"]))
print(f"{key}.summaries=" + " | ".join(i["summary"] for i in p["items"]))
print(f"{key}.notes=" + " | ".join(n["text"] for n in p["notes"]))
PY
}
SH
unshare --mount --propagation private bash -s <<'NS'
. /root/plan-case.sh
release=$(uname -r)
mount -t tmpfs none "/lib/modules/$release"
[ -e /proc/config.gz ] && mount --bind /dev/null /proc/config.gz
plan_case config_m
mount --bind /root/config-builtin "/boot/config-$release"
plan_case config_y
umount "/boot/config-$release"
mount -t tmpfs none /boot
plan_case no_config
if [ -e /proc/config.gz ]; then
  umount /proc/config.gz
  plan_case proc_config
  groundwork facts --output json | python3 -c 'import json,sys; print("proc_config.source=" + str(json.load(sys.stdin)["modules"].get("config_source")))'
fi
NS
modprobe xt_comment
kv reloaded "$(grep -c '^xt_comment ' /proc/modules)"
groundwork drift "$spec" >/dev/null 2>&1
kv drift "$?"
GUEST
)
kv() { kv_get "$OUT" "$1"; }
vm_log "guest: $OUT"

assert_eq "Debian's kernel builds xt_comment as a module" 1 "$(kv config_m)"
assert_eq "xt_comment unloaded" 0 "$(kv unloaded)"

assert_eq "plan exit code, config =m and no module tree" 3 "$(kv config_m.rc)"
assert_eq "plan items, config =m and no module tree" "modules/unavailable" "$(kv config_m.items)"
assert_contains "plan, config =m" "$(kv config_m.summaries)" "has no module xt_comment"

assert_eq "plan exit code, config =y" 0 "$(kv config_y.rc)"
assert_eq "plan items, config =y" "" "$(kv config_y.items)"
assert_eq "plan notes, config =y" "" "$(kv config_y.notes)"

assert_eq "plan exit code, no configuration and no module lists" 0 "$(kv no_config.rc)"
assert_eq "plan items, no configuration" "" "$(kv no_config.items)"
assert_contains "plan note, no configuration" "$(kv no_config.notes)" "whether it has xt_comment is unknown"

if [[ "$(kv proc_config)" == yes ]]; then
  assert_eq "plan exit code, /proc/config.gz only" 3 "$(kv proc_config.rc)"
  assert_eq "the configuration facts read" /proc/config.gz "$(kv proc_config.source)"
else
  vm_log "NOTE: this kernel offers no /proc/config.gz (no configs module): that case was not run"
fi

assert_eq "xt_comment loaded again" 1 "$(kv reloaded)"
assert_eq "drift at the end" 0 "$(kv drift)"

vm_stop host
