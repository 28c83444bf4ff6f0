#!/usr/bin/env bash
# A fresh Debian host provisioned by tests/vm/provision.sh, as the Vagrant lab is: it installs
# groundwork's Debian package (groundwork in /usr/bin, the helper root's, 0755, in
# /usr/libexec/groundwork), then `groundwork apply --yes` installs the packages from the offline
# repo, creates the account, subids, sysctls, modules, delegation, linger, the k3s binary (a
# stand-in, from the guest's loopback) and the user unit, then verify passes: the rootless smoke
# test, and the cluster stage against the stand-in (it proves verify's plumbing, not a real
# cluster). The guest's own tools confirm each change; a second plan is empty and a second apply
# changes nothing. The converged VM, with the package installed, is saved as the snapshot
# `applied` for the scenarios after this one (vm_start_applied).
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

require_groundwork apply --no-verify

vm_start host
vm_install_lab host

t0=$SECONDS
rc=0
PROVISION=$(vm_provision host 2>&1) || rc=$?
printf '%s\n' "$PROVISION"
vm_log "provision.sh took $((SECONDS - t0)) s"
# provision.sh reports each groundwork command's exit code: apply is checked first, verify after
# the host itself, so that a failed smoke test still shows what apply did.
assert_eq "groundwork apply --yes exit code (converged)" 0 "$(provision_step_rc "$PROVISION" apply)"

# The guest's own tools, not groundwork, say what changed: one guest script of KEY=VALUE lines.
FACTS=$(vm_script host <<'GUEST'
set -u
kv() { printf '%s=%s\n' "$1" "$2"; }
uid=$(id -u k3s 2>/dev/null || echo none)
kv uid "$uid"
for p in uidmap dbus-user-session slirp4netns fuse-overlayfs; do
  kv "pkg.$p" "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || echo absent)"
done
kv subuid "$(grep '^k3s:' /etc/subuid | tr '\n' ' ')"
kv subgid "$(grep '^k3s:' /etc/subgid | tr '\n' ' ')"
kv ip_forward "$(sysctl -n net.ipv4.ip_forward)"
kv max_user_namespaces "$(sysctl -n user.max_user_namespaces)"
kv sysctl_persisted "$(grep -h '^net.ipv4.ip_forward' /etc/sysctl.d/*.conf 2>/dev/null | tr -d ' ' | tr '\n' ' ')"
for m in tun br_netfilter iptable_nat xt_MASQUERADE; do
  kv "module.$m" "$(grep -q "^$m " /proc/modules && echo loaded || echo missing)"
done
kv modules_persisted "$(cat /etc/modules-load.d/*.conf 2>/dev/null | grep -cx 'br_netfilter')"
kv delegate_dropin "$(grep -h '^Delegate=' /etc/systemd/system/user@.service.d/*.conf 2>/dev/null)"
kv user_controllers "$(cat "/sys/fs/cgroup/user.slice/user-$uid.slice/user@$uid.service/cgroup.controllers" 2>/dev/null)"
kv linger "$(test -e /var/lib/systemd/linger/k3s && echo yes || echo no)"
kv user_manager "$(systemctl is-active "user@$uid.service")"
kv k3s_sha "$(sha256sum /usr/local/bin/k3s 2>/dev/null | cut -d' ' -f1)"
kv standin_sha "$(sha256sum /srv/k3s-release/v1.31.4+k3s1/k3s | cut -d' ' -f1)"
kv k3s_version "$(/usr/local/bin/k3s --version 2>/dev/null | head -n 1)"
kv unit_active "$(systemctl --user -M k3s@ is-active k3s-rootless.service 2>&1)"
kv unit_enabled "$(systemctl --user -M k3s@ is-enabled k3s-rootless.service 2>&1)"
kv unit_process "$(pgrep -u k3s -f 'k3s server --rootless' >/dev/null && echo running || echo none)"
kv gw_package "$(dpkg-query -W -f='${db:Status-Status} ${Version}' groundwork 2>&1)"
kv gw_command "$(command -v groundwork)"
kv gw_binary "$(stat -c '%U:%G %a' /usr/bin/groundwork 2>&1)"
kv helper "$(stat -c '%U:%G %a' /usr/libexec/groundwork/groundwork-helper 2>&1)"
kv helper_owned_by "$(dpkg-query -S /usr/libexec/groundwork/groundwork-helper 2>&1)"
kv source_install "$(ls /usr/local/bin/groundwork /usr/local/libexec/groundwork-helper 2>/dev/null | wc -l)"
groundwork plan /root/lab/lab.yaml >/root/plan2.txt 2>&1
kv plan_again "$?"
# The second apply must write nothing and restart nothing: every managed file keeps its mtime
# (and inode), and the unit keeps its main process.
managed="/etc/subuid /etc/subgid /etc/sysctl.d/90-groundwork.conf /etc/modules-load.d/groundwork.conf
  /etc/systemd/system/user@.service.d/delegate.conf /usr/local/bin/k3s /var/lib/systemd/linger/k3s
  /home/k3s/.config/systemd/user/k3s-rootless.service"
# shellcheck disable=SC2086
before_stat=$(stat -c '%n %i %Y.%y' $managed 2>&1)
pid_before=$(systemctl --user -M k3s@ show -p MainPID --value k3s-rootless.service 2>&1)
sleep 1.1
groundwork apply --yes --no-verify --detailed-exitcodes /root/lab/lab.yaml >/root/apply2.txt 2>&1
kv apply_again "$?"
# shellcheck disable=SC2086
after_stat=$(stat -c '%n %i %Y.%y' $managed 2>&1)
kv files_untouched "$([[ "$before_stat" == "$after_stat" ]] && echo yes || { echo no; diff <(echo "$before_stat") <(echo "$after_stat") | tr '\n' ' '; })"
kv unit_pid_kept "$([[ $pid_before == "$(systemctl --user -M k3s@ show -p MainPID --value k3s-rootless.service 2>&1)" && $pid_before != 0 ]] && echo yes || echo "no ($pid_before)")"
groundwork drift /root/lab/lab.yaml >/dev/null 2>&1
kv drift "$?"
GUEST
)
kv() { kv_get "$FACTS" "$1"; }

UID_K3S=$(kv uid)
assert_match "k3s account uid" "$UID_K3S" '^[0-9]+$'
for p in uidmap dbus-user-session slirp4netns fuse-overlayfs; do
  assert_eq "package $p" installed "$(kv "pkg.$p")"
done
assert_match "/etc/subuid" "$(kv subuid)" '^k3s:[0-9]+:65536 $'
assert_eq "/etc/subgid = /etc/subuid" "$(kv subuid)" "$(kv subgid)"
assert_eq "net.ipv4.ip_forward" 1 "$(kv ip_forward)"
(($(kv max_user_namespaces) >= 28633)) || fail "user.max_user_namespaces is $(kv max_user_namespaces), below 28633"
ok "user.max_user_namespaces >= 28633"
assert_eq "net.ipv4.ip_forward persisted in /etc/sysctl.d" "net.ipv4.ip_forward=1 " "$(kv sysctl_persisted)"
for m in tun br_netfilter iptable_nat xt_MASQUERADE; do
  assert_eq "module $m" loaded "$(kv "module.$m")"
done
assert_eq "br_netfilter persisted in /etc/modules-load.d" 1 "$(kv modules_persisted)"
assert_eq "delegation drop-in" "Delegate=cpu cpuset io memory pids" "$(kv delegate_dropin)"
for c in cpu cpuset io memory pids; do
  assert_match "controllers delegated to user@$UID_K3S.service" " $(kv user_controllers) " " $c "
done
assert_eq "linger file for k3s" yes "$(kv linger)"
assert_eq "user@$UID_K3S.service" active "$(kv user_manager)"
assert_eq "installed k3s binary = the served stand-in" "$(kv standin_sha)" "$(kv k3s_sha)"
assert_contains "k3s --version" "$(kv k3s_version)" "v1.31.4+k3s1"
assert_eq "k3s-rootless.service (user unit)" active "$(kv unit_active)"
assert_eq "k3s-rootless.service enabled" enabled "$(kv unit_enabled)"
assert_eq "k3s server process of user k3s" running "$(kv unit_process)"
assert_contains "provision.sh installed the package" "$PROVISION" "==== provision: installed the package groundwork "
assert_match "the groundwork package" "$(kv gw_package)" '^installed [0-9]'
assert_eq "groundwork on root's PATH" /usr/bin/groundwork "$(kv gw_command)"
assert_eq "/usr/bin/groundwork owner and mode" "root:root 755" "$(kv gw_binary)"
assert_eq "helper owner and mode (/usr/libexec/groundwork/groundwork-helper)" "root:root 755" "$(kv helper)"
assert_eq "the helper is the package's" "groundwork: /usr/libexec/groundwork/groundwork-helper" "$(kv helper_owned_by)"
assert_eq "no groundwork from source in /usr/local" 0 "$(kv source_install)"
assert_eq "plan after apply (in sync)" 0 "$(kv plan_again)"
assert_eq "second apply --detailed-exitcodes (no change)" 0 "$(kv apply_again)"
assert_eq "second apply wrote no managed file (mtime and inode kept)" yes "$(kv files_untouched)"
assert_eq "second apply did not restart the unit (MainPID kept)" yes "$(kv unit_pid_kept)"
assert_eq "drift after apply" 0 "$(kv drift)"

# The host is converged whatever the smoke test says: later scenarios start from here.
vm_save_snapshot host applied

assert_contains "apply ends with verify: the stand-in's cluster answers" "$PROVISION" "PASS nodes Ready"
assert_eq "groundwork verify exit code (smoke test, and the cluster stage on the stand-in)" 0 \
  "$(provision_step_rc "$PROVISION" verify)"
assert_eq "provision.sh exit code" 0 "$rc"
