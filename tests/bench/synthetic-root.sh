#!/usr/bin/env bash
# Builds a synthetic host tree for `groundwork --root`: a converged-looking Debian 12 host with
# N subuid users, P dpkg packages and F sysctl.d files, to measure how observation scales.
#   synthetic-root.sh DIR USERS PACKAGES SYSCTL_FILES
set -euo pipefail
dir=$1 users=$2 packages=$3 files=$4
rm -rf "$dir"
mkdir -p "$dir"/{etc/sysctl.d,etc/modules-load.d,proc/sys/kernel,proc/sys/user,proc/sys/net/ipv4,var/lib/dpkg,var/lib/systemd/linger,run/systemd/system,sys/fs/cgroup,usr/bin,home/k3s/.config/systemd/user/default.target.wants,lib/modules/6.1.0-28-amd64}
echo 6.1.0-28-amd64 > "$dir/proc/sys/kernel/osrelease"
echo 28633 > "$dir/proc/sys/user/max_user_namespaces"
echo 1 > "$dir/proc/sys/net/ipv4/ip_forward"
echo "cpuset cpu io memory hugetlb pids rdma misc" > "$dir/sys/fs/cgroup/cgroup.controllers"
printf 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n' > "$dir/etc/os-release"
{
  echo "root:x:0:0:root:/root:/bin/bash"
  echo "k3s:x:1000:1000::/home/k3s:/bin/bash"
  awk -v n="$users" 'BEGIN { for (i = 1; i <= n; i++) printf "user%d:x:%d:%d::/home/user%d:/bin/bash\n", i, 1000 + i, 1000 + i, i }'
} > "$dir/etc/passwd"
# Every user gets 65536 ids, k3s last, so the search walks the whole file.
awk -v n="$users" 'BEGIN { for (i = 1; i <= n; i++) printf "user%d:%d:65536\n", i, 100000 + (i - 1) * 65536; printf "k3s:%d:65536\n", 100000 + n * 65536 }' > "$dir/etc/subuid"
cp "$dir/etc/subuid" "$dir/etc/subgid"
awk -v n="$packages" 'BEGIN {
  split("uidmap dbus-user-session slirp4netns fuse-overlayfs", wanted, " ")
  for (i = 1; i <= n; i++) printf "Package: pkg%d\nStatus: install ok installed\nPriority: optional\nSection: misc\nInstalled-Size: 100\nMaintainer: Nobody <nobody@example.org>\nArchitecture: amd64\nVersion: 1.0-%d\nDescription: synthetic package %d\n padding line of a long description\n\n", i, i, i
  for (w in wanted) printf "Package: %s\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0\nDescription: wanted\n\n", wanted[w]
}' > "$dir/var/lib/dpkg/status"
for i in $(seq 1 "$files"); do
  printf '# synthetic\nnet.core.somaxconn%d = 4096\nvm.swappiness = 60\n' "$i" > "$dir/etc/sysctl.d/$(printf '%03d' "$i")-synthetic.conf"
done
touch "$dir/var/lib/systemd/linger/k3s"
