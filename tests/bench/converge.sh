#!/usr/bin/env bash
# What `groundwork apply` does to a fresh host with the lab spec, as a careful administrator
# would script it: the apply side of the peer benchmark (fresh.sh). Idempotent; the managed
# files have groundwork's exact content, so that `groundwork drift` finds the host in sync
# afterwards (fresh.sh checks it). No `apt-get update`: the packages come from the image's
# local repository, as for groundwork.
set -euo pipefail
user=k3s version=v1.31.4+k3s1 release=http://127.0.0.1:8099
modules=(fuse tun br_netfilter overlay iptable_nat iptable_filter ip6table_nat ip6table_filter
  xt_MASQUERADE xt_conntrack xt_comment xt_mark xt_multiport xt_addrtype)

# write PATH MODE: stdin into PATH, atomically, when it differs; true when it changed.
write() {
  local tmp
  tmp=$(mktemp "$1.XXXXXX")
  cat >"$tmp"
  chmod "$2" "$tmp"
  if cmp -s "$tmp" "$1"; then rm -f "$tmp"; return 1; fi
  mv -f "$tmp" "$1"
}

missing=()
for p in uidmap dbus-user-session slirp4netns fuse-overlayfs; do
  [[ $(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null) == installed ]] || missing+=("$p")
done
if ((${#missing[@]})); then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

id -u "$user" >/dev/null 2>&1 || useradd --create-home "$user"
uid=$(id -u "$user")
home=$(getent passwd "$user" | cut -d: -f6)
for f in /etc/subuid /etc/subgid; do
  grep -qx "$user:100000:65536" "$f" 2>/dev/null || {
    grep -v "^$user:" "$f" 2>/dev/null | { cat; echo "$user:100000:65536"; } | write "$f" 0644 || true
  }
done

write /etc/sysctl.d/90-groundwork.conf 0644 <<'EOF' || true
# Managed by groundwork: rootless k3s prerequisites. Local edits are reverted.
fs.inotify.max_user_instances = 512
fs.inotify.max_user_watches = 524288
kernel.unprivileged_userns_clone = 1
net.ipv4.ip_forward = 1
user.max_user_namespaces = 28633
EOF
sysctl -q -e -p /etc/sysctl.d/90-groundwork.conf

{ echo "# Managed by groundwork: kernel modules for rootless k3s."; printf '%s\n' "${modules[@]}"; } |
  write /etc/modules-load.d/groundwork.conf 0644 || true
modprobe -a "${modules[@]}"

mkdir -p /etc/systemd/system/user@.service.d
if write /etc/systemd/system/user@.service.d/delegate.conf 0644 <<'EOF'; then
# Managed by groundwork: delegate cgroup v2 controllers to user managers (rootless k3s).
[Service]
Delegate=cpu cpuset io memory pids
EOF
  systemctl daemon-reload
fi

[[ -e /var/lib/systemd/linger/$user ]] || loginctl enable-linger "$user"
for ((i = 0; i < 240; i++)); do [[ -S /run/user/$uid/bus ]] && break; sleep 0.5; done
[[ -S /run/user/$uid/bus ]] || { echo "the user manager of $user did not start" >&2; exit 1; }

if [[ $(/usr/local/bin/k3s --version 2>/dev/null | awk 'NR == 1 { print $3 }') != "$version" ]]; then
  tmp=$(mktemp /usr/local/bin/.k3s.XXXXXX)
  python3 -c 'import shutil, sys, urllib.request as u; shutil.copyfileobj(u.urlopen(sys.argv[1]), sys.stdout.buffer)' \
    "$release/$version/k3s" >"$tmp"
  want=$(python3 -c 'import sys, urllib.request as u; print(u.urlopen(sys.argv[1]).read().decode().split()[0])' \
    "$release/$version/sha256sum-amd64.txt")
  [[ $(sha256sum "$tmp" | cut -d' ' -f1) == "$want" ]] || { rm -f "$tmp"; echo "k3s: checksum mismatch" >&2; exit 1; }
  chmod 0755 "$tmp"
  mv -f "$tmp" /usr/local/bin/k3s
fi

install -d -o "$user" -g "$user" "$home/.config" "$home/.config/systemd" "$home/.config/systemd/user"
unit=$home/.config/systemd/user/k3s-rootless.service
write "$unit" 0644 <<EOF || true
# Managed by groundwork: k3s $version in rootless mode. Local edits are reverted.
[Unit]
Description=k3s (rootless)

[Service]
Environment=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
Environment=K3S_ROOTLESS_PORT_DRIVER=slirp4netns
ExecStart=/usr/local/bin/k3s server --rootless --snapshotter=fuse-overlayfs --disable=traefik
ExecReload=/bin/kill -s HUP \$MAINPID
Type=simple
TimeoutSec=0
RestartSec=2
Restart=always
StartLimitBurst=3
StartLimitInterval=60s
LimitNOFILE=infinity
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
Delegate=yes
KillMode=mixed

[Install]
WantedBy=default.target
EOF
chown "$user:$user" "$unit"
systemctl --user -M "$user@" daemon-reload
systemctl --user -M "$user@" enable --now k3s-rootless.service
