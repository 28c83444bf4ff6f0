#!/usr/bin/env bash
# The drift check as a careful administrator would script it: the same checks as
# `groundwork drift` with the lab spec, with grep, sysctl, dpkg-query, test and systemctl.
# Exit 0 in sync, 2 on drift, as groundwork does.
set -u
user=${1:-k3s}
drift=0
note() { echo "drift: $*"; drift=2; }
uid=$(id -u "$user" 2>/dev/null) || { note "user $user missing"; exit 2; }
home=$(getent passwd "$user" | cut -d: -f6)
for f in /etc/subuid /etc/subgid; do
  total=$(awk -F: -v u="$user" -v id="$uid" '$1 == u || $1 == id { s += $3 } END { print s + 0 }' "$f")
  ((total >= 65536)) || note "$f: $total ids"
done
[[ $(sysctl -n net.ipv4.ip_forward) == 1 ]] || note "ip_forward"
(($(sysctl -n user.max_user_namespaces) >= 28633)) || note "max_user_namespaces"
[[ ! -e /proc/sys/kernel/unprivileged_userns_clone || $(sysctl -n kernel.unprivileged_userns_clone) == 1 ]] || note "userns_clone"
(($(sysctl -n fs.inotify.max_user_instances) >= 512)) || note "inotify instances"
(($(sysctl -n fs.inotify.max_user_watches) >= 524288)) || note "inotify watches"
grep -qx 'fs.inotify.max_user_watches = 524288' /etc/sysctl.d/90-groundwork.conf 2>/dev/null || note "sysctl file"
grep -qx 'net.ipv4.ip_forward = 1' /etc/sysctl.d/90-groundwork.conf 2>/dev/null || note "sysctl file"
for m in fuse tun br_netfilter overlay iptable_nat iptable_filter ip6table_nat ip6table_filter xt_MASQUERADE xt_conntrack xt_comment xt_mark xt_multiport xt_addrtype; do
  grep -q "^$m " /proc/modules || grep -q "/$m.ko" "/lib/modules/$(uname -r)/modules.builtin" || note "module $m"
done
grep -qx 'fuse' /etc/modules-load.d/groundwork.conf 2>/dev/null || note "modules file"
for p in uidmap dbus-user-session slirp4netns fuse-overlayfs; do
  [[ $(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null) == installed ]] || note "package $p"
done
grep -qx 'Delegate=cpu cpuset io memory pids' /etc/systemd/system/user@.service.d/delegate.conf 2>/dev/null || note "delegation"
[[ -e /var/lib/systemd/linger/$user ]] || note "linger"
[[ $(/usr/local/bin/k3s --version 2>/dev/null | awk 'NR == 1 { print $3 }') == v1.31.4+k3s1 ]] || note "k3s version"
grep -q 'server --rootless' "$home/.config/systemd/user/k3s-rootless.service" 2>/dev/null || note "unit file"
[[ -e $home/.config/systemd/user/default.target.wants/k3s-rootless.service ]] || note "unit enabled"
[[ $(systemctl --user -M "$user@" is-active k3s-rootless.service 2>/dev/null) == active ]] || note "unit active"
exit $drift
