#!/usr/bin/env bash
# Builds, or reuses, the Debian image that the real-host VM suite boots: Debian 12 (bookworm) by
# default, or Debian 13 (trixie) with GW_VM_RELEASE=trixie (`12` and `13` are accepted too).
#
#   tests/vm/build-image.sh                  build if needed; print the image directory on stdout
#   tests/vm/build-image.sh --print-dir      only print where the image is (or would be)
#   tests/vm/build-image.sh --check          exit 0 if the image is already built, 1 if not
#   tests/vm/build-image.sh --print-release  only print the release's codename (bookworm, trixie)
#
# The image lives in $GW_VM_CACHE/<release>-<hash> (default /var/tmp/groundwork-vm), where <hash>
# is the sha256 of the release, this script and the package lists in packages/: editing either
# builds a new one, a second run reuses it, and each release has its own image beside the others.
# It holds vmlinuz, initrd.img, base.qcow2 (read-only: every VM runs on a throw-away overlay of
# it), the test key id_ed25519 and a manifest.
#
# Needs root, debootstrap, mkfs.ext4 (with -d), qemu-img, apt-ftparchive and ssh-keygen, and the
# Debian mirror that the host's apt already uses. Logs go to stderr and to build.log.
set -euo pipefail

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE_ROOT=${GW_VM_CACHE:-/var/tmp/groundwork-vm}

# release_codename NAME: the Debian codename for NAME (a codename or a version); empty means the
# default, bookworm. The same package lists and steps build both releases.
release_codename() {
  case "${1:-bookworm}" in
    bookworm | 12) echo bookworm ;;
    trixie | 13) echo trixie ;;
    *) return 1 ;;
  esac
}

SUITE=$(release_codename "${GW_VM_RELEASE:-}") || {
  echo "build-image: GW_VM_RELEASE must be bookworm, trixie, 12 or 13, not '$GW_VM_RELEASE'" >&2
  exit 64
}
# Sparse: the qcow2 only grows with what is written. Room for k3s and its images later.
DISK_SIZE=8G
# The initrd only has to find an ext4 root on virtio: 6.5 MB instead of 35 MB, and a faster
# boot under emulation.
INITRD_MODULES=(virtio_pci virtio_blk virtio_net ext4 crc32c_generic)
# Nothing may grab the dpkg lock, touch the disk or the clock behind a test's back, and boot must
# not wait for a network that restrict=on never completes.
UNITS_TO_MASK=(apt-daily.timer apt-daily-upgrade.timer apt-daily.service apt-daily-upgrade.service
  dpkg-db-backup.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer
  systemd-timesyncd.service systemd-networkd-wait-online.service)
# How many other image versions of the same release to keep in the cache (another branch may
# still want them); the other releases keep theirs.
KEEP_OLD_IMAGES=1

log() { printf '[build-image %s] %s\n' "$(date +%T)" "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

# A package list without comments and blank lines.
read_list() { sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$1"; }

image_hash() {
  {
    echo "release=$SUITE"
    cat "$VM_DIR/build-image.sh" "$VM_DIR/packages/base.txt" "$VM_DIR/packages/localrepo.txt"
  } | sha256sum | cut -c1-16
}

image_dir() { echo "$CACHE_ROOT/$SUITE-$(image_hash)"; }

is_built() { [[ -f "$1/.complete" ]]; }

# The archive that the host's apt already uses: the one place we know is reachable.
debian_mirror() {
  local m=""
  if [[ -r /etc/apt/sources.list.d/debian.sources ]]; then
    m=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [[ -z "$m" && -r /etc/apt/sources.list ]]; then
    m=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }' \
      /etc/apt/sources.list)
  fi
  [[ -n "$m" ]] || die "no Debian mirror found in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"
  echo "$m"
}

check_tools() {
  [[ $EUID -eq 0 ]] || die "must run as root (debootstrap, chroot, mkfs)"
  local t
  for t in debootstrap mkfs.ext4 qemu-img apt-ftparchive ssh-keygen flock chroot mountpoint; do
    command -v "$t" >/dev/null || die "missing tool: $t"
  done
}

# Bind mounts for the chroot steps. Unmounted in reverse order; never remove a rootfs that still
# has one (rm -rf would walk into the host's /dev).
CHROOT_MOUNTS=()
mount_chroot() {
  local r=$1 d
  for d in proc sys dev dev/pts; do
    mkdir -p "$r/$d"
    mount --bind "/$d" "$r/$d"
    CHROOT_MOUNTS+=("$r/$d")
  done
}

umount_chroot() {
  local i
  for ((i = ${#CHROOT_MOUNTS[@]} - 1; i >= 0; i--)); do
    if mountpoint -q "${CHROOT_MOUNTS[i]}"; then umount -l "${CHROOT_MOUNTS[i]}"; fi
  done
  CHROOT_MOUNTS=()
}

in_chroot() {
  local r=$1
  shift
  chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    LC_ALL=C.UTF-8 "$@"
}

BUILD_DIR=""
cleanup_build() {
  umount_chroot
  if [[ -n "$BUILD_DIR" && -d "$BUILD_DIR" ]]; then
    cp -f "$BUILD_DIR/build.log" "$CACHE_ROOT/failed-build-$SUITE.log" 2>/dev/null &&
      log "build failed; its log is in $CACHE_ROOT/failed-build-$SUITE.log"
    if grep -q " $BUILD_DIR/" /proc/mounts; then
      log "NOT removing $BUILD_DIR: something is still mounted below it"
    else
      rm -rf --one-file-system "$BUILD_DIR"
    fi
  fi
}

run_debootstrap() {
  local rootfs=$1 mirror=$2 include
  include=$(read_list "$VM_DIR/packages/base.txt" | paste -sd, -)
  log "debootstrap $SUITE from $mirror (minbase + $include)"
  debootstrap --variant=minbase --include="$include" "$SUITE" "$rootfs" "$mirror" >>"$BUILD_DIR/build.log" 2>&1 ||
    die "debootstrap failed; see the end of $BUILD_DIR/build.log: $(tail -n 5 "$BUILD_DIR/build.log")"
}

write_guest_files() {
  local r=$1 key_pub=$2
  echo gw-vm >"$r/etc/hostname"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\tgw-vm\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$r/etc/hosts"
  echo '/dev/vda / ext4 rw,relatime,errors=remount-ro 0 1' >"$r/etc/fstab"

  mkdir -p "$r/etc/systemd/network"
  printf '[Match]\nName=en*\n\n[Network]\nDHCP=ipv4\n' >"$r/etc/systemd/network/10-wired.network"

  install -d -m 0700 "$r/root/.ssh"
  install -m 0600 "$key_pub" "$r/root/.ssh/authorized_keys"

  # A root shell on the serial console: when SSH never comes up, the console log still shows why.
  mkdir -p "$r/etc/systemd/system/serial-getty@ttyS0.service.d"
  # shellcheck disable=SC2016 # $TERM is for systemd to expand, not us
  printf '[Service]\nExecStart=\nExecStart=-/sbin/agetty --autologin root --keep-baud 115200,38400,9600 %%I $TERM\n' \
    >"$r/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf"
}

configure_units() {
  local r=$1 u
  in_chroot "$r" systemctl enable systemd-networkd.service ssh.service >>"$BUILD_DIR/build.log" 2>&1
  for u in "${UNITS_TO_MASK[@]}"; do
    in_chroot "$r" systemctl mask "$u" >>"$BUILD_DIR/build.log" 2>&1
  done
  # A fixed machine-id: no first-boot work on every boot of every clone.
  rm -f "$r/etc/machine-id"
  in_chroot "$r" systemd-machine-id-setup >>"$BUILD_DIR/build.log" 2>&1
}

# The packages groundwork installs, with their dependencies, in an apt repository inside the
# image, which becomes the guest's only apt source: apt works offline and behind restrict=on.
build_local_repo() {
  local r=$1 pkgs
  mapfile -t pkgs < <(read_list "$VM_DIR/packages/localrepo.txt")
  log "offline repo: ${pkgs[*]}"
  in_chroot "$r" apt-get update -qq >>"$BUILD_DIR/build.log" 2>&1
  # debootstrap leaves its own .debs in the cache: only what the download adds goes to the repo.
  in_chroot "$r" apt-get clean
  in_chroot "$r" apt-get install -y -qq --download-only "${pkgs[@]}" >>"$BUILD_DIR/build.log" 2>&1
  install -d -m 0755 "$r/opt/localrepo"
  mv "$r"/var/cache/apt/archives/*.deb "$r/opt/localrepo/"
  (cd "$r/opt/localrepo" && apt-ftparchive packages . >Packages 2>>"$BUILD_DIR/build.log")
  chmod -R a+rX "$r/opt/localrepo"
  echo 'deb [trusted=yes] file:/opt/localrepo ./' >"$r/etc/apt/sources.list"
  rm -rf "$r"/etc/apt/sources.list.d/* "$r"/var/lib/apt/lists/*
  in_chroot "$r" apt-get update -qq >>"$BUILD_DIR/build.log" 2>&1
  in_chroot "$r" apt-get clean
  verify_local_repo "$r" "${pkgs[@]}"
}

# The image is only useful if those packages are absent and installable offline.
verify_local_repo() {
  local r=$1 p
  shift
  for p in "$@"; do
    # shellcheck disable=SC2016 # a dpkg-query format, not a shell expansion
    if in_chroot "$r" dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
      die "$p is installed in the image; groundwork must find it missing"
    fi
  done
  in_chroot "$r" apt-get install -s -qq "$@" >>"$BUILD_DIR/build.log" 2>&1 ||
    die "the offline repo cannot install $*; see $BUILD_DIR/build.log"
}

make_small_initrd() {
  local r=$1
  sed -i 's/^MODULES=.*/MODULES=list/' "$r/etc/initramfs-tools/initramfs.conf"
  printf '%s\n' "${INITRD_MODULES[@]}" >>"$r/etc/initramfs-tools/modules"
  in_chroot "$r" update-initramfs -u -k all >>"$BUILD_DIR/build.log" 2>&1
  # The host boots the kernel and initrd directly. A package that triggers mkinitramfs in the
  # guest (fuse3 does) would otherwise spend 15 minutes under emulation for nothing.
  sed -i 's/^update_initramfs=.*/update_initramfs=no/' "$r/etc/initramfs-tools/update-initramfs.conf"
}

# The one file a glob matches (debootstrap installs exactly one kernel).
only_match() {
  local m=("$@")
  [[ ${#m[@]} -eq 1 && -e "${m[0]}" ]] || die "expected exactly one match, got: ${m[*]}"
  echo "${m[0]}"
}

make_disk() {
  local r=$1 out=$2
  cp "$(only_match "$r"/boot/vmlinuz-*)" "$out/vmlinuz"
  cp "$(only_match "$r"/boot/initrd.img-*)" "$out/initrd.img"
  truncate -s "$DISK_SIZE" "$out/base.raw"
  # No partition table and no boot loader: the kernel is booted from the host (root=/dev/vda).
  mkfs.ext4 -q -L root -d "$r" "$out/base.raw"
  qemu-img convert -O qcow2 "$out/base.raw" "$out/base.qcow2"
  rm -f "$out/base.raw"
  chmod a-w "$out/base.qcow2"
}

write_manifest() {
  local r=$1 out=$2 mirror=$3 started=$4
  {
    echo "hash=$(image_hash)"
    echo "suite=$SUITE"
    echo "mirror=$mirror"
    echo "built=$(date -u +%FT%TZ)"
    echo "build_seconds=$((SECONDS - started))"
    echo "kernel=$(basename "$(only_match "$r"/boot/vmlinuz-*)")"
    echo "localrepo_debs=$(find "$r/opt/localrepo" -name '*.deb' | wc -l)"
  } >"$out/manifest"
}

# Old image versions of this release and builds that died half-way; a live build of another
# process keeps its dir, and the other releases keep their images.
prune_cache() {
  local current=$1 d pid n=0 mine="$SUITE-[0-9a-f]{16}"
  # Before the release was part of the key, every image was bookworm's, named by its hash alone.
  [[ "$SUITE" != bookworm ]] || mine="(bookworm-)?[0-9a-f]{16}"
  for d in "$CACHE_ROOT"/*.build.*; do
    [[ -d "$d" ]] || continue
    pid=${d##*.}
    if ! kill -0 "$pid" 2>/dev/null && ! grep -q " $d/" /proc/mounts; then rm -rf --one-file-system "$d"; fi
  done
  while read -r d; do
    [[ "$d" == "$current" ]] && continue
    n=$((n + 1))
    if ((n > KEEP_OLD_IMAGES)); then
      log "removing old image $d"
      chmod -R u+w "$d"
      rm -rf --one-file-system "$d"
    fi
  done < <(find "$CACHE_ROOT" -mindepth 1 -maxdepth 1 -type d -regextype posix-extended -regex ".*/$mine" -printf '%T@ %p\n' |
    sort -rn | cut -d' ' -f2-)
}

build_image() {
  local out=$1 started=$SECONDS mirror rootfs
  mirror=$(debian_mirror)
  BUILD_DIR="$out.build.$$"
  trap cleanup_build EXIT
  trap 'exit 130' INT TERM
  mkdir -p "$BUILD_DIR"
  rootfs="$BUILD_DIR/rootfs"
  log "building $out, Debian $SUITE (log: $BUILD_DIR/build.log)"

  ssh-keygen -q -t ed25519 -N '' -C groundwork-vm-test -f "$BUILD_DIR/id_ed25519"
  run_debootstrap "$rootfs" "$mirror"
  log "debootstrap done after $((SECONDS - started)) s; configuring"
  mount_chroot "$rootfs"
  write_guest_files "$rootfs" "$BUILD_DIR/id_ed25519.pub"
  configure_units "$rootfs"
  build_local_repo "$rootfs"
  make_small_initrd "$rootfs"
  umount_chroot
  # Only now: the chroot's apt needed the host's DNS, which debootstrap copied in. The guest
  # reaches nothing but its own loopback; with no name server, lookups fail at once instead of
  # timing out.
  echo '# The test VM has no DNS on purpose.' >"$rootfs/etc/resolv.conf"
  log "making the disk after $((SECONDS - started)) s"
  make_disk "$rootfs" "$BUILD_DIR"
  write_manifest "$rootfs" "$BUILD_DIR" "$mirror" "$started"
  rm -rf --one-file-system "$rootfs"
  touch "$BUILD_DIR/.complete"
  mv "$BUILD_DIR" "$out"
  BUILD_DIR=""
  log "built $out in $((SECONDS - started)) s"
}

main() {
  local out
  out=$(image_dir)
  case "${1:-}" in
    --print-dir)
      echo "$out"
      return
      ;;
    --check)
      is_built "$out"
      return
      ;;
    --print-release)
      echo "$SUITE"
      return
      ;;
    "") ;;
    *) die "unknown argument: $1 (use --print-dir, --check or --print-release)" ;;
  esac
  if is_built "$out"; then
    log "reusing $out"
    echo "$out"
    return
  fi
  check_tools
  mkdir -p "$CACHE_ROOT"
  # One build at a time; whoever waited finds the image built.
  exec 9>"$CACHE_ROOT/.lock"
  flock 9
  if ! is_built "$out"; then
    prune_cache "$out"
    build_image "$out"
  fi
  echo "$out"
}

main "$@"
