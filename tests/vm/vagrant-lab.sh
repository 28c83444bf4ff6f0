# shellcheck shell=bash
# The Vagrant lab under test: the repository's own Vagrantfile booted with vagrant-libvirt, sourced
# by the Vagrant scenarios after lib.sh.
#
#   lab_require                  SKIP (77), loudly, without vagrant, vagrant-libvirt or libvirt
#   lab_start                    a network namespace with its own virtlogd and libvirtd
#   lab_build_box FILE           a box of the suite's Debian image (direct kernel boot)
#   lab_box_settings             only export how such a box boots
#   lab_vagrant ARGS...          vagrant, from the repository, inside the namespace
#   lab_virsh ARGS...            virsh against the lab's libvirtd
#
# Everything runs inside a network namespace this file creates: libvirt's NAT network
# (vagrant-libvirt's `vagrant-libvirt`, a bridge with dnsmasq on 192.168.121.0/24) and the guest's
# address exist there only, never on the machine's own network. libvirtd also gets a mount
# namespace of its own, in which /etc/libvirt (a copy), /run, /var/lib/libvirt, /var/log/libvirt
# and /var/cache/libvirt are the lab's directories: the storage pool, networks and logs live below
# LAB_DIR, and another libvirt on the machine is neither read nor changed. vagrant and virsh run
# in both namespaces (nsenter), with VAGRANT_HOME below LAB_DIR.
#
# The exit trap destroys the domains, kills every process in the namespace (the daemons, dnsmasq,
# qemu), deletes the namespace and LAB_DIR, then runs lib.sh's trap. On failure it first keeps
# the lab's logs (vagrant's output, libvirt's qemu log) in the scenario's artifacts.

LAB_DIR=""
LAB_NS=""
LAB_LIBVIRTD_PID=""
LAB_LOG=""
# What the lab box and its users are called; the Vagrantfile's machine.
LAB_MACHINE=debian12
# shellcheck disable=SC2034 # for the scenarios
LAB_BASE_BOX=groundwork-lab-base
# The lab's k3s release mirror in the box: where specs/lab.yaml expects it.
LAB_RELEASE_UNIT=gw-k3s-release.service

lab_skip() {
  echo "==== VAGRANT LAB SCENARIO SKIPPED ($GW_SCENARIO): $* ====" >&2
  exit 77
}

# vagrant-libvirt, libvirt and the tools to build a box. .ci/run installs them.
lab_require() {
  local t missing=()
  [[ $EUID -eq 0 ]] || lab_skip "needs root (network namespace, libvirtd)"
  for t in vagrant libvirtd virtlogd virsh dnsmasq iptables ip nsenter debugfs qemu-img; do
    command -v "$t" >/dev/null || missing+=("$t")
  done
  ((${#missing[@]} == 0)) || lab_skip "missing ${missing[*]} (apt-get install --no-install-recommends" \
    "vagrant vagrant-libvirt libvirt-daemon-system libvirt-daemon-system-sysv libvirt-daemon-driver-qemu" \
    "libvirt-clients dnsmasq-base iptables)"
  local home plugins
  home=$(mktemp -d)
  plugins=$(VAGRANT_HOME=$home VAGRANT_CHECKPOINT_DISABLE=1 vagrant plugin list 2>&1) || true
  rm -rf "$home"
  [[ "$plugins" == *vagrant-libvirt* ]] ||
    lab_skip "vagrant has no libvirt provider (apt-get install vagrant-libvirt): $plugins"
}

# The machine's own network, as the scenario must leave it: addresses, links, routes, firewall
# (without packet counters), forwarding and the network namespaces other than the lab's.
lab_host_network() {
  ip -o addr show
  ip -o link show | sed 's/ qlen [0-9]*//'
  ip route show table all
  iptables-save 2>&1 | sed -e '/^#/d' -e 's/\[[0-9]*:[0-9]*\]//'
  ip6tables-save 2>&1 | sed -e '/^#/d' -e 's/\[[0-9]*:[0-9]*\]//'
  sysctl -n net.ipv4.ip_forward net.ipv6.conf.all.forwarding
  ip netns list | grep -v "^${LAB_NS:-none}\b" || true
}

# Runs a command in the lab's network and mount namespaces.
lab_ns() { nsenter -t "$LAB_LIBVIRTD_PID" -n -m -- "$@"; }

lab_virsh() { lab_ns virsh -q -c qemu:///system "$@"; }

# lab_vagrant ARGS...: vagrant in the lab, from the repository (its Vagrantfile), with the
# environment the scenario exported (GW_BOX, GW_SPEC...). Its output is appended to the lab log.
lab_vagrant() {
  local t0=$SECONDS rc=0
  echo "==== vagrant $*" >>"$LAB_LOG"
  # Without the progress meters that box uploads redraw on one line.
  lab_ns env -C "$GW_REPO" VAGRANT_NO_COLOR=1 vagrant "$@" 2>&1 |
    sed -u -e $'s/\r\e\\[KProgress: [^\r]*//g' -e $'s/\r\e\\[K//g' | tee -a "$LAB_LOG" || rc=$?
  vm_log "vagrant $*: exit $rc after $((SECONDS - t0)) s"
  return "$rc"
}

lab_start() {
  local accel
  LAB_DIR=$(mktemp -d /var/tmp/gw-vagrant.XXXXXX)
  # qemu runs as libvirt-qemu and must reach the kernel, initrd and pool below this directory.
  chmod 0711 "$LAB_DIR"
  LAB_LOG=$LAB_DIR/vagrant.log
  : >"$LAB_LOG"
  LAB_NS=gw-vagrant-$$
  mkdir -p "$LAB_DIR"/{run,vagrant-home}
  cp -a /etc/libvirt "$LAB_DIR/etc"
  cp -a /var/lib/libvirt "$LAB_DIR/lib"
  cp -a /var/log/libvirt "$LAB_DIR/log"
  cp -a /var/cache/libvirt "$LAB_DIR/cache"
  accel=$(vm__accel)
  if [[ "$accel" == tcg ]]; then
    # Software emulation. The qemu driver's "mount" namespace would try to move /dev/kvm, which is
    # hidden below, and fails the domain's start ("Unable to move ... mount to /dev/kvm").
    echo 'namespaces = []' >>"$LAB_DIR/etc/qemu.conf"
    export GW_LIBVIRT_DRIVER=qemu
  fi
  # An empty file to hide /dev/kvm from libvirtd: with a KVM that cannot run the guest (see
  # lib.sh), libvirt sees it come and go and probes qemu again on almost every call, 2 s each.
  install -m 0600 /dev/null "$LAB_DIR/kvm-hidden"

  ip netns add "$LAB_NS"
  ip -n "$LAB_NS" link set lo up
  # One `ip netns exec` gives one mount namespace: the daemons started in it keep it.
  ip netns exec "$LAB_NS" bash -s -- "$LAB_DIR" "$accel" <<'NS' || fail "starting libvirtd in the lab namespace failed"
set -euo pipefail
d=$1 accel=$2
if [[ "$accel" == tcg && -e /dev/kvm ]]; then mount --bind "$d/kvm-hidden" /dev/kvm; fi
mount --bind "$d/etc" /etc/libvirt
mount -t tmpfs -o mode=0755 lab-run /run
mount --bind "$d/lib" /var/lib/libvirt
mount --bind "$d/log" /var/log/libvirt
mount --bind "$d/cache" /var/cache/libvirt
virtlogd -d -p "$d/virtlogd.pid"
for _ in $(seq 100); do [[ -S /run/libvirt/virtlogd-sock ]] && break; sleep 0.1; done
libvirtd -d -p "$d/libvirtd.pid"
NS
  for _ in $(seq 100); do
    [[ -s "$LAB_DIR/libvirtd.pid" ]] && break
    sleep 0.1
  done
  LAB_LIBVIRTD_PID=$(<"$LAB_DIR/libvirtd.pid")
  for _ in $(seq 150); do
    lab_virsh version >/dev/null 2>&1 && break
    sleep 0.2
  done
  lab_virsh version >/dev/null || fail "libvirtd does not answer in the lab namespace"
  export VAGRANT_HOME=$LAB_DIR/vagrant-home VAGRANT_DOTFILE_PATH=$LAB_DIR/dotfile
  export VAGRANT_CHECKPOINT_DISABLE=1 VAGRANT_DEFAULT_PROVIDER=libvirt
  vm_log "libvirtd $(lab_virsh version | sed -n 's/^Running hypervisor: *//p') in network namespace $LAB_NS ($LAB_DIR)"
}

# lab_box_settings: how a box of the suite's image boots, exported for the Vagrantfile. The image
# has no boot loader: GW_BOX_KERNEL, GW_BOX_INITRD and GW_BOX_CMDLINE boot its kernel from the
# host, and root logs in with the image's key (GW_BOX_SSH_KEY). Copies: libvirt hands them to the
# qemu user, and the image cache stays as it is.
lab_box_settings() {
  local img b=$LAB_DIR/box
  img=$(vm_image_dir)
  mkdir -p "$b"
  chmod 0711 "$b"
  cp "$img/vmlinuz" "$img/initrd.img" "$b/"
  install -m 0600 "$img/id_ed25519" "$b/id_ed25519"
  export GW_BOX_KERNEL=$b/vmlinuz GW_BOX_INITRD=$b/initrd.img GW_BOX_SSH_KEY=$b/id_ed25519
  export GW_BOX_CMDLINE=$GW_VM_KERNEL_ARGS
}

# lab_build_box FILE: a libvirt box of the suite's Debian image (metadata.json and box.img): the
# image's disk plus the lab's k3s release mirror (specs/lab.yaml downloads the stand-in from the
# guest's loopback; the box has no other network). Exports its boot settings (lab_box_settings).
lab_build_box() {
  local out=$1 img b=$LAB_DIR/box version t0=$SECONDS
  lab_box_settings
  img=$(vm_image_dir)
  mkdir -p "$b/files"
  version=$(vm_lab_k3s_version)
  sed "s/@VERSION@/$version/g" "$GW_REPO/tests/standin/k3s" >"$b/files/k3s"
  chmod 0755 "$b/files/k3s"
  (cd "$b/files" && sha256sum k3s >sha256sum-amd64.txt)
  cat >"$b/files/$LAB_RELEASE_UNIT" <<UNIT
[Unit]
Description=The lab's k3s release mirror: the k3s stand-in on 127.0.0.1:$GW_K3S_RELEASE_PORT (tests/vm)

[Service]
ExecStart=/usr/bin/python3 -m http.server $GW_K3S_RELEASE_PORT --bind 127.0.0.1 --directory /srv/k3s-release

[Install]
WantedBy=multi-user.target
UNIT
  qemu-img convert -O raw "$img/base.qcow2" "$b/disk.raw"
  # debugfs writes into the ext4 file system without mounting it.
  debugfs -w -f - "$b/disk.raw" >"$b/debugfs.log" 2>&1 <<EOF
mkdir /srv/k3s-release
mkdir /srv/k3s-release/$version
write $b/files/k3s /srv/k3s-release/$version/k3s
write $b/files/sha256sum-amd64.txt /srv/k3s-release/$version/sha256sum-amd64.txt
write $b/files/$LAB_RELEASE_UNIT /etc/systemd/system/$LAB_RELEASE_UNIT
symlink /etc/systemd/system/multi-user.target.wants/$LAB_RELEASE_UNIT /etc/systemd/system/$LAB_RELEASE_UNIT
EOF
  # debugfs goes on after a failed command: any line but its echo and banner is an error.
  if grep -vqE '^(debugfs[ :]|Allocated inode: )' "$b/debugfs.log"; then
    fail "writing the release mirror into the box failed: $(cat "$b/debugfs.log")"
  fi
  qemu-img convert -O qcow2 "$b/disk.raw" "$b/box.img"
  rm -f "$b/disk.raw"
  printf '{"provider":"libvirt","format":"qcow2","virtual_size":%s}\n' \
    "$(($(qemu-img info --output=json "$b/box.img" | sed -n 's/.*"virtual-size": *\([0-9]*\).*/\1/p') / 1073741824))" \
    >"$b/metadata.json"
  tar -C "$b" -cf "$out" metadata.json box.img
  rm -f "$b/box.img"
  vm_log "built the box $out in $((SECONDS - t0)) s ($(du -h "$out" | cut -f1))"
}

# The lab's guest, as one shell script on stdin, as root (one SSH round trip: 3 to 5 s each).
lab_guest() { lab_vagrant ssh "$LAB_MACHINE" -c 'sudo bash -s'; }

# The pool's volumes, one name a line (`default` is the pool vagrant-libvirt creates).
lab_volumes() { lab_virsh vol-list default 2>/dev/null | awk '{print $1}'; }

# lab_remove_box NAME: `vagrant box remove`, then the box's volume, which vagrant-libvirt leaves
# in the pool; the pool must then be empty.
lab_remove_box() {
  local name=$1 vol
  lab_vagrant box remove --force "$name" >/dev/null || fail "vagrant box remove $name failed"
  for vol in $(lab_volumes | grep "^${name}_vagrant_box_image_"); do
    lab_virsh vol-delete --pool default "$vol" >/dev/null || fail "deleting the volume $vol failed"
  done
  assert_eq "libvirt's pool after removing the box $name" "" "$(lab_volumes | xargs)"
}

# lab_package FILE: `vagrant package` of the lab machine (it halts it first). vagrant-libvirt
# 0.11 cleans the disk with virt-sysprep and virt-sparsify (libguestfs-tools, which it
# recommends) and stops with "No such file or directory" when they are missing. libguestfs boots
# an appliance with the host's own kernel from /boot, which this machine does not have: where
# they are missing, two stand-ins say so and leave the disk as the machine left it.
lab_package() {
  local out=$1 tool rc=0 contents
  mkdir -p "$LAB_DIR/bin"
  for tool in virt-sysprep virt-sparsify; do
    command -v "$tool" >/dev/null && continue
    vm_log "$tool (libguestfs-tools) is not installed: the box is packaged without it"
    printf '#!/bin/sh\necho "%s: not installed here; the disk is packaged as it is" >&2\n' "$tool" \
      >"$LAB_DIR/bin/$tool"
    chmod 0755 "$LAB_DIR/bin/$tool"
  done
  PATH=$LAB_DIR/bin:$PATH lab_vagrant package "$LAB_MACHINE" --output "$out" >/dev/null || rc=$?
  assert_eq "vagrant package exit code" 0 "$rc"
  contents=$(tar -tzf "$out" | sed 's,^\./,,' | sort | xargs)
  assert_eq "the packaged box's files" "Vagrantfile box.img metadata.json" "$contents"
  vm_log "packaged the lab box: $(du -h "$out" | cut -f1)"
}

# Where 65-vagrant-lab leaves the packaged lab box for 66-vagrant-box in the same suite run.
lab_shared_box() { echo "${GW_VM_SUITE_DIR:-}/vagrant/lab-applied-$GW_VM_RELEASE.box"; }

# In a suite run, packages the converged lab for the scenario after this one; alone, nothing.
lab_package_for_next_scenario() {
  local out
  if [[ -z "${GW_VM_SUITE_DIR:-}" ]]; then
    vm_log "run alone: no lab box is packaged for 66-vagrant-box (it packages its own)"
    return 0
  fi
  out=$(lab_shared_box)
  mkdir -p "$(dirname "$out")"
  lab_package "$out.part"
  mv "$out.part" "$out"
}

lab__kill_namespace() {
  local pids pid sig
  for sig in TERM TERM KILL; do
    pids=$(ip netns pids "$LAB_NS" 2>/dev/null) || return 0
    [[ -n "$pids" ]] || return 0
    for pid in $pids; do kill "-$sig" "$pid" 2>/dev/null || true; done
    for _ in $(seq 50); do
      [[ -z "$(ip netns pids "$LAB_NS" 2>/dev/null)" ]] && return 0
      sleep 0.1
    done
  done
}

# Stops the lab: its domains, every process in its namespace, the namespace, its directory.
lab_stop() {
  local dom
  [[ -n "$LAB_NS" ]] || return 0
  if [[ -n "$LAB_LIBVIRTD_PID" ]] && kill -0 "$LAB_LIBVIRTD_PID" 2>/dev/null; then
    for dom in $(lab_virsh list --all --name 2>/dev/null); do
      lab_virsh destroy "$dom" >/dev/null 2>&1 || true
    done
  fi
  lab__kill_namespace
  ip netns del "$LAB_NS" 2>/dev/null || true
  if [[ -n "$LAB_DIR" && -d "$LAB_DIR" ]]; then rm -rf --one-file-system "$LAB_DIR"; fi
  LAB_NS="" LAB_DIR="" LAB_LIBVIRTD_PID=""
}

lab__on_exit() {
  local rc=$1
  if ((rc != 0 && rc != 77)) && [[ -n "$LAB_DIR" ]]; then
    mkdir -p "$GW_ARTIFACTS"
    cp -f "$LAB_LOG" "$GW_ARTIFACTS/" 2>/dev/null || true
    cp -rf "$LAB_DIR/log/qemu" "$GW_ARTIFACTS/libvirt-qemu-logs" 2>/dev/null || true
    vm_log "the lab's vagrant output and libvirt logs are kept in $GW_ARTIFACTS"
  fi
  lab_stop
  vm__on_exit "$rc"
}

trap 'lab__on_exit $?' EXIT
