#!/usr/bin/env bash
# A converged host survives a real reboot: the sysctls and modules come back from their files,
# linger starts the k3s user manager with the delegated controllers, the user unit starts by
# itself, and `groundwork drift` finds nothing. About a minute of it is the boot under emulation.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

require_groundwork drift
require_groundwork apply --no-verify

vm_start_applied host
vm_reboot host

OUT=$(vm_script host <<'GUEST'
set -u
kv() { printf '%s=%s\n' "$1" "$2"; }
uid=$(id -u k3s)
# Linger starts the user manager, and that the unit, some seconds after SSH is up.
for _ in $(seq 60); do
  [[ "$(systemctl --user -M k3s@ is-active k3s-rootless.service 2>/dev/null)" == active ]] && break
  sleep 1
done
kv uptime_s "$(cut -d' ' -f1 /proc/uptime)"
kv ip_forward "$(sysctl -n net.ipv4.ip_forward)"
kv max_user_namespaces "$(sysctl -n user.max_user_namespaces)"
kv modules "$(for m in tun br_netfilter iptable_nat xt_MASQUERADE; do grep -q "^$m " /proc/modules && echo "$m"; done | xargs)"
kv user_manager "$(systemctl is-active "user@$uid.service")"
kv user_controllers "$(cat "/sys/fs/cgroup/user.slice/user-$uid.slice/user@$uid.service/cgroup.controllers" 2>/dev/null)"
kv unit_active "$(systemctl --user -M k3s@ is-active k3s-rootless.service 2>&1)"
groundwork drift /root/lab/lab.yaml >/root/drift.txt 2>&1
kv drift "$?"
kv drift_text "$(tr '\n' ' ' </root/drift.txt)"
GUEST
)
kv() { kv_get "$OUT" "$1"; }

vm_log "the guest was up $(kv uptime_s) s when checked"
assert_eq "net.ipv4.ip_forward after reboot" 1 "$(kv ip_forward)"
(($(kv max_user_namespaces) >= 28633)) || fail "user.max_user_namespaces is $(kv max_user_namespaces) after reboot"
ok "user.max_user_namespaces >= 28633 after reboot"
assert_eq "modules loaded at boot" "tun br_netfilter iptable_nat xt_MASQUERADE" "$(kv modules)"
assert_eq "k3s user manager (linger)" active "$(kv user_manager)"
for c in cpu cpuset io memory pids; do
  assert_match "controllers delegated after reboot" " $(kv user_controllers) " " $c "
done
assert_eq "k3s-rootless.service started at boot" active "$(kv unit_active)"
assert_eq "drift after reboot" 0 "$(kv drift)"
assert_contains "drift output" "$(kv drift_text)" "in sync"

vm_stop host
