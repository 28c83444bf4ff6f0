# shellcheck shell=bash
# The real-host VM harness, sourced by run-suite.sh and by every scenario.
#
# A scenario runs in its own bash process and does:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
#   vm_start main                                    # a fresh, booted Debian VM
#   vm_install_lab main                              # the package, the lab spec, the stand-in
#   vm_ssh main 'apt-get install -y -q /root/lab/groundwork.deb'
#   out=$(vm_ssh main 'groundwork plan /root/lab/lab.yaml') || rc=$?
#   assert_contains "plan output" "$out" "subids"
#
# When the scenario's shell exits, for any reason (a failed assertion, set -e, Ctrl-C, a
# timeout's SIGTERM), a trap stops every VM it started; after a failure it first saves the serial
# console, qemu's log and the guest's `journalctl -b` into target/vm-artifacts/<scenario>/. If the
# shell is killed outright, qemu still dies with it (setpriv --pdeathsig), and run-suite.sh
# sweeps up whatever is left. Call vm_start from the scenario's main shell, never in $(...).
#
# The guests run Debian 12 (bookworm) by default, or Debian 13 (trixie) with GW_VM_RELEASE=trixie
# (or 12, 13); GW_VM_RELEASE holds the codename once this file is sourced. Scenarios assert on what
# the guest itself reports, not on a fixed release.
#
# Each VM is a throw-away copy-on-write overlay. By default it is restored from a live snapshot
# of an already booted guest (about 4 s to SSH under TCG, against about a minute for a boot); the
# snapshot is made on first use and kept beside the image. GW_VM_SNAPSHOTS=0 boots instead.
#
# Settings (environment): GW_VM_RELEASE (bookworm), GROUNDWORK_BIN_DIR (target/release),
# GROUNDWORK_DEB (the Debian package of those binaries: target/debian/groundwork_*.deb),
# GW_VM_ACCEL (auto|tcg|kvm), GW_VM_MEM (2048), GW_VM_CPUS (2), GW_VM_BOOT_TIMEOUT (300 s),
# GW_VM_SNAPSHOTS (1), GW_VM_ARTIFACTS (target/vm-artifacts; each scenario's evidence goes to
# <release>/<scenario>/ below it), GW_VM_IMAGE_DIR (from build-image.sh, for GW_VM_RELEASE).

if [[ -z "${GW_VM_LIB_SOURCED:-}" ]]; then
GW_VM_LIB_SOURCED=1

GW_VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GW_REPO=$(cd "$GW_VM_DIR/../.." && pwd)
# shellcheck disable=SC2034 # for the scenarios
GW_BIN_DIR=${GROUNDWORK_BIN_DIR:-$GW_REPO/target/release}
GW_SCENARIO=${GW_SCENARIO:-$(basename "$0" .sh)}
# The codename (bookworm or trixie), however GW_VM_RELEASE spelled it; build-image.sh knows them.
GW_VM_RELEASE=$("$GW_VM_DIR/build-image.sh" --print-release) || exit 64
export GW_VM_RELEASE
GW_ARTIFACTS=${GW_VM_ARTIFACTS:-$GW_REPO/target/vm-artifacts}/$GW_VM_RELEASE/$GW_SCENARIO
GW_VM_MEM=${GW_VM_MEM:-2048}
GW_VM_CPUS=${GW_VM_CPUS:-2}
# Measured under TCG on 2 cores: 35-85 s from power-on to SSH; slack for a loaded CI machine.
GW_VM_BOOT_TIMEOUT=${GW_VM_BOOT_TIMEOUT:-300}
# A restore answers in about 4 s; past this it is broken, and we boot instead.
GW_VM_RESTORE_TIMEOUT=${GW_VM_RESTORE_TIMEOUT:-60}
GW_VM_SNAPSHOTS=${GW_VM_SNAPSHOTS:-1}
GW_VM_KERNEL_ARGS='root=/dev/vda rw console=ttyS0 mitigations=off quiet'
# Under run-suite.sh every scenario's VMs live below the suite's directory, where its own trap
# can find them; scenario snapshots (vm_save_snapshot) are shared by the scenarios of one suite run.
GW_VM_SUITE_DIR=${GW_VM_SUITE_DIR:-}
GW_VM_RUN=""
GW_VMS=()
GW_VM_T0=$SECONDS

# ---------------------------------------------------------------------------------------------
# Logging and assertions. Every assertion prints what it checked; a failed one ends the scenario.

vm_log() { printf '[%s/%s +%ds] %s\n' "$GW_VM_RELEASE" "$GW_SCENARIO" "$((SECONDS - GW_VM_T0))" "$*" >&2; }

fail() {
  printf 'FAIL: %s\n' "$*" >&2
  exit 1
}

ok() { printf 'ok: %s\n' "$*" >&2; }

# Shows the start of a long value in a failure message.
vm__excerpt() { printf '%s' "$1" | head -c 3000; }

# A value short enough for an "ok:" line.
vm__brief() {
  if [[ "$1" == *$'\n'* || ${#1} -gt 100 ]]; then
    printf '<%d lines, %d bytes>' "$(wc -l <<<"$1")" "${#1}"
  else
    printf '%s' "$1"
  fi
}

assert_eq() {
  local what=$1 expected=$2 actual=$3
  [[ "$actual" == "$expected" ]] ||
    fail "$what: expected"$'\n'"$(vm__excerpt "$expected")"$'\n'"got"$'\n'"$(vm__excerpt "$actual")"
  ok "$what = $(vm__brief "$expected")"
}

# vm__assert_grep WANT GREP_FLAG WHAT HAYSTACK PATTERN DESCRIPTION: WANT is "found" or "absent".
vm__assert_grep() {
  local want=$1 flag=$2 what=$3 haystack=$4 pattern=$5 desc=$6 found=absent
  if grep -q "$flag" -- "$pattern" <<<"$haystack"; then found=found; fi
  [[ "$found" == "$want" ]] ||
    fail "$what: expected $desc ($want), but it is $found in:"$'\n'"$(vm__excerpt "$haystack")"
  ok "$what: $desc ($want)"
}

assert_contains() { vm__assert_grep found -F "$1" "$2" "$3" "'$3'"; }

assert_not_contains() { vm__assert_grep absent -F "$1" "$2" "$3" "'$3'"; }

# An extended regular expression, matched line by line.
assert_match() { vm__assert_grep found -E "$1" "$2" "$3" "a line matching /$3/"; }

assert_no_match() { vm__assert_grep absent -E "$1" "$2" "$3" "a line matching /$3/"; }

# require_groundwork COMMAND [FLAG]: the scenario needs the groundwork binary (missing: FAIL) with
# COMMAND, and FLAG in its help (absent: SKIP, exit 77). The CLI grows while the suite does.
require_groundwork() {
  local cmd=$1 flag=${2:-} help
  [[ -x "$GW_BIN_DIR/groundwork" ]] || fail "no groundwork binary in $GW_BIN_DIR"
  help=$("$GW_BIN_DIR/groundwork" "$cmd" --help 2>/dev/null) || help=""
  if [[ -z "$help" || ( -n "$flag" && "$help" != *"$flag"* ) ]]; then
    vm_log "SKIP: this groundwork binary has no '$cmd${flag:+ $flag}' yet"
    exit 77
  fi
}

# ---------------------------------------------------------------------------------------------
# Image, accelerator and the qemu command line.

# Builds the image if needed. In the main shell: the answer must outlive this call. An image
# handed down in GW_VM_IMAGE_DIR must be of the release asked for.
vm__resolve_image() {
  local built
  if [[ -z "${GW_VM_IMAGE_DIR:-}" ]]; then
    GW_VM_IMAGE_DIR=$("$GW_VM_DIR/build-image.sh") || fail "the $GW_VM_RELEASE VM image could not be built"
    export GW_VM_IMAGE_DIR
  fi
  built=$(kv_get "$(cat "$GW_VM_IMAGE_DIR/manifest" 2>/dev/null)" suite)
  [[ "$built" == "$GW_VM_RELEASE" ]] ||
    fail "the image $GW_VM_IMAGE_DIR is Debian '${built:-?}', but GW_VM_RELEASE is $GW_VM_RELEASE"
}

vm_image_dir() {
  [[ -n "${GW_VM_IMAGE_DIR:-}" ]] || fail "no VM image yet (vm_start resolves it)"
  echo "$GW_VM_IMAGE_DIR"
}

# KVM here is often kvm_pvm (this machine is itself a guest): it runs only PVM-patched guest
# kernels, and Debian's dies under it. Software emulation (TCG) is slower but works everywhere.
vm__accel() {
  case "${GW_VM_ACCEL:-auto}" in
    tcg | kvm) echo "$GW_VM_ACCEL" ;;
    auto)
      if [[ -e /sys/module/kvm_pvm || ! -w /dev/kvm ]]; then echo tcg; else echo kvm; fi
      ;;
    *) fail "GW_VM_ACCEL must be auto, tcg or kvm, not '$GW_VM_ACCEL'" ;;
  esac
}

# Fills the array QEMU_ARGS. The disk, port and directory vary per run; everything else must be
# identical between a snapshot and its restores (vm__machine_signature hashes it).
vm__qemu_args() {
  local img=$1 disk=$2 port=$3 dir=$4 accel
  accel=$(vm__accel)
  QEMU_ARGS=(-nodefaults -machine q35)
  if [[ "$accel" == kvm ]]; then
    QEMU_ARGS+=(-accel kvm -cpu host)
  else
    # qemu64 beat -cpu max by 2x on decompression under TCG, with the same fork speed.
    QEMU_ARGS+=(-accel "tcg,thread=multi" -cpu qemu64)
  fi
  QEMU_ARGS+=(-m "$GW_VM_MEM" -smp "$GW_VM_CPUS"
    -kernel "$img/vmlinuz" -initrd "$img/initrd.img" -append "$GW_VM_KERNEL_ARGS"
    -drive "file=$disk,if=virtio,format=qcow2,cache=unsafe"
    # restrict=on: the guest reaches nothing; the only way in is the forwarded loopback port.
    -netdev "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:$port-:22" -device "virtio-net-pci,netdev=n0"
    -device virtio-rng-pci -display none -serial "file:$dir/console.log" -monitor none
    -qmp "unix:$dir/qmp.sock,server=on,wait=off" -pidfile "$dir/qemu.pid")
}

vm__machine_signature() {
  local img=$1
  vm__qemu_args "$img" DISK PORT DIR
  {
    qemu-system-x86_64 --version | head -n 1
    printf '%s\n' "${QEMU_ARGS[@]}"
  } | sha256sum | cut -c1-16
}

# ---------------------------------------------------------------------------------------------
# Processes: every qemu is ours, recorded by pid, and checked to be that qemu before a signal.

vm__dir() { echo "$GW_VM_RUN/$1"; }

vm__pid() {
  local f
  f="$(vm__dir "$1")/qemu.pid"
  [[ -s "$f" ]] && tr -d ' \n' <"$f"
}

# True while PID is a live (not zombie) qemu running on a disk below DIR. The command line is
# read whole first: `tr | grep -q` under pipefail fails whenever grep quits before tr is done.
vm__is_our_qemu() {
  local pid=$1 dir=$2 cmdline
  [[ -n "$pid" ]] && ! vm__exited "$pid" || return 1
  cmdline=$(tr '\0' '\n' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [[ "$cmdline" == *"file=$dir/"* ]]
}

# True when PID is gone or a zombie. Not "not our qemu": right after `cmd &`, the child is still
# a copy of this shell until it execs, and waiting on a live process would block for good.
vm__exited() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 0
  [[ -z "$state" || "$state" == Z ]]
}

vm__alive() { vm__is_our_qemu "$(vm__pid "$1")" "$(vm__dir "$1")"; }

# TERM, then KILL after 5 s; reaps it when it is our child.
vm__kill_pid() {
  local pid=$1 dir=$2 i
  vm__is_our_qemu "$pid" "$dir" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    vm__is_our_qemu "$pid" "$dir" || break
    sleep 0.1
  done
  if vm__is_our_qemu "$pid" "$dir"; then kill -KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
}

# Kills every qemu recorded below DIR (a run or a whole suite directory). For traps.
vm_kill_all_below() {
  local root=$1 pidfile
  [[ -d "$root" ]] || return 0
  while IFS= read -r pidfile; do
    vm__kill_pid "$(tr -d ' \n' <"$pidfile")" "$(dirname "$pidfile")"
  done < <(find "$root" -name qemu.pid 2>/dev/null)
}

# A loopback port that nothing listens on now. qemu may still lose a race for it: vm__launch
# then retries with another.
vm__free_port() {
  local port hex i
  for ((i = 0; i < 100; i++)); do
    port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    hex=$(printf ':%04X' "$port")
    if ! awk -v h="$hex" 'FNR > 1 && $4 == "0A" && substr($2, length($2) - 4) == h { f = 1 } END { exit !f }' \
      /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  fail "no free loopback port found"
}

# ---------------------------------------------------------------------------------------------
# QMP: one command per connection, kept open until its answer arrives (qemu drops queued
# commands of a client that has already hung up).

vm__qmp() {
  local name=$1 cmd=$2 sock line reply="" answers=0 fd_in fd_out qpid
  sock="$(vm__dir "$name")/qmp.sock"
  [[ -S "$sock" ]] || return 1
  coproc QMP_CONN { socat - "UNIX-CONNECT:$sock" 2>/dev/null; }
  qpid=$QMP_CONN_PID
  # Our own copies: bash drops the coproc's descriptors as soon as socat exits.
  exec {fd_in}>&"${QMP_CONN[1]:-/dev/null}" {fd_out}<&"${QMP_CONN[0]:-/dev/null}"
  # In a subshell: should socat be gone already, SIGPIPE ends that, not the scenario.
  (printf '{"execute":"qmp_capabilities"}\n%s\n' "$cmd" >&"$fd_in") 2>/dev/null || true
  while IFS= read -r -t 30 line <&"$fd_out"; do
    case "$line" in
      '{"return"'* | '{"error"'*)
        answers=$((answers + 1))
        if ((answers == 2)); then
          reply=$line
          break
        fi
        ;;
    esac
  done
  exec {fd_in}>&- {fd_out}<&-
  kill "$qpid" 2>/dev/null || true
  wait "$qpid" 2>/dev/null || true
  printf '%s\n' "$reply"
  [[ -n "$reply" && "$reply" != '{"error"'* ]]
}

# The value of a string field in a QMP reply.
vm__json_str() { sed -n "s/.*\"$2\": *\"\\([^\"]*\\)\".*/\\1/p" <<<"$1" | head -n 1; }

vm__qmp_status() { vm__json_str "$(vm__qmp "$1" '{"execute":"query-status"}')" status; }

# ---------------------------------------------------------------------------------------------
# Starting a VM.

vm__init_run_dir() {
  vm__resolve_image
  [[ -n "$GW_VM_RUN" ]] && return 0
  local parent=${GW_VM_SUITE_DIR:-/tmp}
  mkdir -p "$parent"
  # Short: unix socket paths must stay under 108 bytes.
  GW_VM_RUN=$(mktemp -d "$parent/gwvm.XXXXXX")
}

# Starts qemu on DISK, from STATE (a saved RAM file) when given. Retries when another process
# took the port first.
vm__launch() {
  local name=$1 disk=$2 state=${3:-} img dir port try
  img=$(vm_image_dir)
  dir=$(vm__dir "$name")
  for ((try = 1; try <= 3; try++)); do
    port=$(vm__free_port)
    rm -f "$dir/qemu.pid" "$dir/qmp.sock"
    vm__qemu_args "$img" "$disk" "$port" "$dir"
    if [[ -n "$state" ]]; then QEMU_ARGS+=(-incoming "exec:cat '$state'"); fi
    echo "$port" >"$dir/port"
    printf '%q ' qemu-system-x86_64 "${QEMU_ARGS[@]}" >"$dir/qemu.cmdline"
    # setsid: Ctrl-C in the terminal reaches our trap, not qemu. --pdeathsig: qemu dies with this
    # shell even when the shell is killed outright. Not -daemonize: migration to a file fails
    # under it.
    setsid setpriv --pdeathsig KILL qemu-system-x86_64 "${QEMU_ARGS[@]}" </dev/null >"$dir/qemu.log" 2>&1 &
    # setsid and setpriv exec without forking: $! is qemu itself.
    if vm__wait_qmp "$name" "$!"; then return 0; fi
    if grep -q 'host forwarding' "$dir/qemu.log"; then
      vm_log "port $port was taken; retrying"
      continue
    fi
    fail "qemu for '$name' did not start: $(tail -n 5 "$dir/qemu.log")"
  done
  fail "qemu for '$name' found no free port in 3 tries"
}

# Until qemu's pidfile and QMP socket are there (true), or it has exited (false).
vm__wait_qmp() {
  local name=$1 launched=$2 dir i
  dir=$(vm__dir "$name")
  for ((i = 0; i < 300; i++)); do
    if [[ -S "$dir/qmp.sock" ]] && vm__alive "$name"; then return 0; fi
    if vm__exited "$launched"; then
      wait "$launched" 2>/dev/null || true
      return 1
    fi
    sleep 0.1
  done
  return 1
}

vm__ssh_opts() {
  local name=$1 dir img
  dir=$(vm__dir "$name")
  img=$(vm_image_dir)
  SSH_OPTS=(-i "$img/id_ed25519" -o BatchMode=yes -o StrictHostKeyChecking=no
    -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=10
    -o ServerAliveInterval=10 -o ServerAliveCountMax=6 -o IdentitiesOnly=yes
    # One TCP connection per VM, opened by vm__open_master: halves the cost of a command.
    -o ControlMaster=no -o "ControlPath=$dir/ssh.sock")
}

vm__open_master() {
  local name=$1 port
  port=$(<"$(vm__dir "$name")/port")
  vm__ssh_opts "$name"
  ssh "${SSH_OPTS[@]}" -p "$port" -o ControlMaster=yes -o ControlPersist=yes -fN root@127.0.0.1 \
    </dev/null >/dev/null 2>&1 || vm_log "no SSH master connection for '$name'; commands will connect one by one"
}

vm__close_master() {
  local name=$1 port
  [[ -S "$(vm__dir "$name")/ssh.sock" ]] || return 0
  port=$(<"$(vm__dir "$name")/port")
  vm__ssh_opts "$name"
  ssh "${SSH_OPTS[@]}" -p "$port" -O exit root@127.0.0.1 >/dev/null 2>&1 || true
}

# Kernel panics. Under TCG a Debian 13 guest panics in about one boot out of 13, a few seconds in
# ("Oops: int3" in sched_clock_cpu, then "Kernel panic - not syncing"), and then hangs for good.
# Every wait for a boot watches the serial console, and resets such a guest once instead of
# waiting out its timeout.

# The console log's size: vm__panicked looks only at what comes after it.
vm__console_size() { stat -c %s "$(vm__dir "$1")/console.log" 2>/dev/null || echo 0; }

# vm__panicked NAME OFFSET: the serial console shows a kernel panic past byte OFFSET.
vm__panicked() {
  local f
  f="$(vm__dir "$1")/console.log"
  [[ -f "$f" ]] && grep -qa 'Kernel panic' < <(tail -c +"$(($2 + 1))" "$f")
}

# vm__reset_after_panic NAME OFFSET: says so, keeps the console of the panicked boot in the
# artifacts, and resets the machine (QMP system_reset: the same disk, port and qemu; the guest
# boots again, as after a reboot).
vm__reset_after_panic() {
  local name=$1 offset=$2 console kept
  console="$(vm__dir "$name")/console.log"
  kept="$GW_ARTIFACTS/$name/console-panic-$(date +%H%M%S).log"
  mkdir -p "$GW_ARTIFACTS/$name"
  cp -f "$console" "$kept" 2>/dev/null || true
  vm_log "KERNEL PANIC on '$name': $(tail -c +"$((offset + 1))" "$console" | grep -a -m 1 'Kernel panic' | tr -d '\r')"
  vm_log "KERNEL PANIC: restarting '$name' once (QMP system_reset); the panicked console is in $kept"
  vm__qmp "$name" '{"execute":"system_reset"}' >/dev/null || vm_log "system_reset of '$name' failed"
}

# vm__await NAME TIMEOUT WHAT PROBE...: runs PROBE about once a second until it succeeds (true),
# qemu exits or TIMEOUT seconds pass (false). A kernel panic on the console meanwhile restarts the
# guest once, with a new TIMEOUT; a second panic fails at once.
vm__await() {
  local name=$1 timeout=$2 what=$3 deadline offset restarted=0
  shift 3
  offset=$(vm__console_size "$name")
  deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    vm__alive "$name" || {
      vm_log "qemu of '$name' exited while waiting for $what"
      return 1
    }
    if "$@"; then return 0; fi
    if vm__panicked "$name" "$offset"; then
      if ((restarted)); then
        vm_log "KERNEL PANIC on '$name' again after the restart: giving up on $what"
        return 1
      fi
      vm__reset_after_panic "$name" "$offset"
      restarted=1
      # After the reset: the old kernel's last lines ("end Kernel panic") are written by then.
      offset=$(vm__console_size "$name")
      echo "$offset" >"$(vm__dir "$name")/console.handled"
      deadline=$((SECONDS + timeout))
      continue
    fi
    sleep 1
  done
  vm_log "no $what on '$name' after ${timeout}s"
  return 1
}

# vm__panic_line NAME: the first "Kernel panic" line on NAME's console past the panics a restart
# already handled; empty when there is none. A panic can also strike a running guest (the same
# "Oops: int3", when the kernel patches its code), and the scenario then fails on whatever it
# was doing: vm__on_exit says so.
vm__panic_line() {
  local dir offset=0
  dir=$(vm__dir "$1")
  [[ -f "$dir/console.log" ]] || return 0
  [[ -s "$dir/console.handled" ]] && offset=$(<"$dir/console.handled")
  tail -c +"$((offset + 1))" "$dir/console.log" | grep -a -m 1 'Kernel panic' | tr -d '\r' || true
}

# vm__probe_ssh NAME PORT [BOOT_ID]: one SSH attempt; with BOOT_ID, true only once the guest runs
# another boot.
vm__probe_ssh() {
  local id
  id=$(timeout 20 ssh "${SSH_OPTS[@]}" -o ConnectTimeout=5 -p "$2" root@127.0.0.1 \
    cat /proc/sys/kernel/random/boot_id </dev/null 2>/dev/null) || return 1
  [[ -n "$id" && "$id" != "${3:-}" ]]
}

# vm_wait_ssh NAME [TIMEOUT]: until SSH works. Fails when qemu dies or time runs out; a kernel
# panic restarts the guest once (vm__await).
vm_wait_ssh() {
  local name=$1 timeout=${2:-$GW_VM_BOOT_TIMEOUT} port
  port=$(<"$(vm__dir "$name")/port")
  vm__ssh_opts "$name"
  vm__await "$name" "$timeout" SSH vm__probe_ssh "$name" "$port"
}

# vm_start NAME [--cold]: a fresh VM. From the booted snapshot unless --cold or GW_VM_SNAPSHOTS=0;
# `--from SNAP` restores a snapshot saved by vm_save_snapshot in this suite run.
vm_start() {
  local name=$1 mode=snapshot snap="" t0=$SECONDS
  shift
  while (($#)); do
    case "$1" in
      --cold) mode=cold ;;
      --from)
        snap=$2
        shift
        ;;
      *) fail "vm_start: unknown option $1" ;;
    esac
    shift
  done
  [[ "$BASHPID" == "$$" ]] || fail "vm_start must run in the scenario's main shell, not in a subshell"
  vm__init_run_dir
  [[ ! -e "$(vm__dir "$name")" ]] || fail "vm_start: a VM named '$name' already exists"
  if [[ -n "$snap" ]]; then
    vm__restore "$name" "$(vm__suite_snapshot_dir "$snap")" || fail "could not restore snapshot '$snap'"
  elif [[ "$mode" == snapshot && "$GW_VM_SNAPSHOTS" != 0 ]] && vm__ensure_booted_snapshot; then
    if ! vm__restore "$name" "$(vm__booted_snapshot_dir)"; then
      vm_log "RESTORE FAILED for '$name': dropping the booted snapshot and booting instead"
      vm__discard "$name"
      rm -rf "$(vm__booted_snapshot_dir)"
      vm__boot "$name"
    fi
  else
    vm__boot "$name"
  fi
  vm_log "VM '$name' ready after $((SECONDS - t0)) s (ssh port $(<"$(vm__dir "$name")/port"))"
}

# A cold boot from the base image. When KVM was chosen but cannot boot this kernel, falls back to
# TCG once, loudly.
vm__boot() {
  local name=$1 img dir
  img=$(vm_image_dir)
  dir=$(vm__dir "$name")
  mkdir -p "$dir"
  GW_VMS+=("$name")
  qemu-img create -q -f qcow2 -b "$img/base.qcow2" -F qcow2 "$dir/disk.qcow2"
  vm__launch "$name" "$dir/disk.qcow2"
  if ! vm_wait_ssh "$name"; then
    if [[ "$(vm__accel)" == kvm && "${GW_VM_ACCEL:-auto}" == auto ]]; then
      vm_log "KVM DID NOT BOOT THE GUEST: falling back to TCG for this run"
      export GW_VM_ACCEL=tcg
      vm__discard "$name"
      vm__boot "$name"
      return
    fi
    fail "VM '$name' did not boot to SSH; console tail: $(tail -n 20 "$dir/console.log" 2>/dev/null)"
  fi
  vm__open_master "$name"
}

# Restores a saved, running guest: a new overlay on the snapshot's disk, its RAM state, `cont`,
# then the guest's clock is set (it stood still while saved).
vm__restore() {
  local name=$1 snapdir=$2 dir i status
  dir=$(vm__dir "$name")
  [[ -f "$snapdir/.complete" ]] || return 1
  mkdir -p "$dir"
  GW_VMS+=("$name")
  qemu-img create -q -f qcow2 -b "$snapdir/disk.qcow2" -F qcow2 "$dir/disk.qcow2"
  vm__launch "$name" "$dir/disk.qcow2" "$snapdir/ram.state"
  for ((i = 0; i < 600; i++)); do
    status=$(vm__qmp_status "$name") || true
    [[ -n "$status" && "$status" != inmigrate ]] && break
    vm__alive "$name" || return 1
    sleep 0.1
  done
  [[ "$status" == paused || "$status" == postmigrate ]] || {
    vm_log "restored VM '$name' is in state '$status'"
    return 1
  }
  vm__qmp "$name" '{"execute":"cont"}' >/dev/null || return 1
  vm_wait_ssh "$name" "$GW_VM_RESTORE_TIMEOUT" || return 1
  vm__open_master "$name"
  vm_ssh "$name" "date -s @$(date +%s) >/dev/null" || return 1
}

# ---------------------------------------------------------------------------------------------
# Snapshots.

vm__booted_snapshot_dir() {
  local img
  img=$(vm_image_dir)
  echo "$img/snap-$(vm__machine_signature "$img")"
}

# Shared by the scenarios of one release in one run-suite.sh run; a scenario run on its own keeps
# them until it exits.
vm__suite_snapshot_dir() { echo "${GW_VM_SUITE_DIR:-$GW_VM_RUN}/snapshots/$GW_VM_RELEASE/$1"; }

# The booted snapshot, made once per image and qemu command line, beside the image.
vm__ensure_booted_snapshot() {
  local snapdir img lock t0=$SECONDS
  img=$(vm_image_dir)
  snapdir=$(vm__booted_snapshot_dir)
  [[ -f "$snapdir/.complete" ]] && return 0
  exec {lock}>"$img/.snapshot.lock"
  flock "$lock"
  if [[ ! -f "$snapdir/.complete" ]]; then
    vm_log "making the booted snapshot $snapdir (one boot, once per image)"
    find "$img" -maxdepth 1 -name 'snap-*' -type d -exec rm -rf {} +
    vm__boot __snapshot
    # Boot jobs finished, and nothing failed: every clone starts from a quiet, healthy guest.
    local state
    state=$(vm_ssh __snapshot 'timeout 120 systemctl is-system-running --wait; systemctl --failed --no-legend --plain') || true
    [[ "$state" == running ]] || fail "the fresh guest is not healthy: $state"
    vm__save_state __snapshot "$snapdir"
    vm_log "booted snapshot made in $((SECONDS - t0)) s"
  fi
  exec {lock}>&-
}

# For run-suite.sh: the booted snapshot, made before the first scenario so its cost shows apart.
vm_prepare_snapshot() {
  vm__init_run_dir
  vm__ensure_booted_snapshot
}

# Freezes a running VM into SNAPDIR (its disk and RAM) and ends it.
vm__save_state() {
  local name=$1 snapdir=$2 dir tmp i reply status=""
  dir=$(vm__dir "$name")
  tmp="$snapdir.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  vm_ssh "$name" sync
  vm__close_master "$name"
  vm__qmp "$name" '{"execute":"stop"}' >/dev/null || fail "QMP stop failed on '$name'"
  vm__qmp "$name" "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"exec:cat > '$tmp/ram.state'\"}}" >/dev/null ||
    fail "QMP migrate failed on '$name'"
  for ((i = 0; i < 1200; i++)); do
    reply=$(vm__qmp "$name" '{"execute":"query-migrate"}') || true
    status=$(vm__json_str "$reply" status)
    [[ "$status" == completed || "$status" == failed || "$status" == cancelled ]] && break
    sleep 0.1
  done
  [[ "$status" == completed ]] || fail "saving '$name' ended as '$status': $reply"
  vm__qmp "$name" '{"execute":"quit"}' >/dev/null || true
  vm__kill_pid "$(vm__pid "$name")" "$dir"
  mv "$dir/disk.qcow2" "$tmp/disk.qcow2"
  chmod a-w "$tmp/disk.qcow2"
  touch "$tmp/.complete"
  rm -rf "$snapdir"
  mv "$tmp" "$snapdir"
  vm__forget "$name"
}

# vm_save_snapshot NAME SNAP: saves a running VM as SNAP for the later scenarios of this suite run
# (vm_start OTHER --from SNAP) and ends it. The VM is gone afterwards; restore it to go on.
vm_save_snapshot() {
  local name=$1 snap=$2 snapdir
  snapdir=$(vm__suite_snapshot_dir "$snap")
  mkdir -p "$(dirname "$snapdir")"
  vm__save_state "$name" "$snapdir"
  vm_log "saved '$name' as snapshot '$snap'"
}

vm_has_snapshot() { [[ -f "$(vm__suite_snapshot_dir "$1")/.complete" ]]; }

# ---------------------------------------------------------------------------------------------
# Talking to a VM.

# kv_get REPORT KEY: the value of KEY in a guest's report of KEY=VALUE lines (the first one).
kv_get() { sed -n "s/^$2=//p" <<<"$1" | head -n 1; }

# vm_ssh NAME COMMAND...: runs COMMAND as root in the guest (stdin is forwarded, so
# `vm_ssh NAME bash -s <script` works); its exit code and output pass through.
vm_ssh() {
  local name=$1 port rc=0
  shift
  port=$(<"$(vm__dir "$name")/port")
  vm__ssh_opts "$name"
  ssh "${SSH_OPTS[@]}" -p "$port" root@127.0.0.1 "$@" || rc=$?
  # LogLevel=ERROR keeps ssh quiet about a connection it lost: say it, or a scenario just stops.
  ((rc != 255)) || vm_log "ssh to '$name' failed (exit 255: no connection, or it was lost); $(vm__state "$name")"
  return "$rc"
}

# vm__state NAME: one line on whether NAME's qemu still runs, for messages about a lost guest.
vm__state() {
  if vm__alive "$1"; then echo "its qemu still runs"; else echo "its qemu has exited"; fi
}

# vm_script NAME < SCRIPT: runs SCRIPT with bash in the guest as root, detached from the SSH
# connection, and gives back its stdout, its stderr and its exit code once it ends. For the long
# guest scripts: a connection lost meanwhile (a guest too busy under TCG to answer ssh's
# keep-alives for a minute) is opened again, and the script goes on unharmed.
vm_script() {
  local name=$1 g rc lost=0
  g=/root/.vm-script-$$-$RANDOM
  vm_ssh "$name" "umask 077; cat >$g.sh" || return
  # setsid: out of the SSH session, which ends with this command. (Not `cd && setsid ... &`:
  # that backgrounds a subshell that keeps SSH's output open until the script ends.)
  vm_ssh "$name" "cd /root || exit; setsid bash -c 'bash $g.sh >$g.out 2>$g.err </dev/null; echo \$? >$g.rc.new; mv $g.rc.new $g.rc' </dev/null >/dev/null 2>&1 &" ||
    return
  while :; do
    rc=0
    vm_ssh "$name" "timeout 60 bash -c 'until [ -e $g.rc ]; do sleep 0.5; done'" || rc=$?
    ((rc != 0)) || break
    ((rc == 124)) && continue
    vm__alive "$name" || return 255
    [[ -z "$(vm__panic_line "$name")" ]] || return 255
    lost=$((lost + 1))
    ((lost <= 10)) || return 255
    vm_log "the script on '$name' goes on; asking again ($lost of 10)"
    sleep 2
  done
  vm_ssh "$name" "cat $g.err >&2; cat $g.out; rc=\$(cat $g.rc); rm -f $g.*; exit \$rc"
}

# vm_copy NAME SRC... DEST: host files into the guest.
vm_copy() {
  local name=$1 port
  shift
  local srcs=("${@:1:$#-1}") dest=${!#}
  port=$(<"$(vm__dir "$name")/port")
  vm__ssh_opts "$name"
  scp -q "${SSH_OPTS[@]}" -P "$port" "${srcs[@]}" "root@127.0.0.1:$dest"
}

# vm_fetch NAME GUEST_PATH HOST_PATH: a guest file to the host.
vm_fetch() {
  local name=$1 src=$2 dest=$3 port
  port=$(<"$(vm__dir "$name")/port")
  vm__ssh_opts "$name"
  scp -q "${SSH_OPTS[@]}" -P "$port" "root@127.0.0.1:$src" "$dest"
}

# vm_reboot NAME: a real reboot of the guest; returns when SSH answers with a new boot id. A
# kernel panic in the new boot restarts the guest once (vm__await), and the log says so.
vm_reboot() {
  local name=$1 before port t0=$SECONDS
  before=$(vm_ssh "$name" cat /proc/sys/kernel/random/boot_id)
  vm_ssh "$name" 'systemctl reboot' >/dev/null 2>&1 || true
  vm__close_master "$name"
  port=$(<"$(vm__dir "$name")/port")
  vm__ssh_opts "$name"
  vm__await "$name" "$GW_VM_BOOT_TIMEOUT" "SSH after the reboot" vm__probe_ssh "$name" "$port" "$before" ||
    fail "VM '$name' did not come back from the reboot; console tail: $(tail -n 20 "$(vm__dir "$name")/console.log" 2>/dev/null)"
  vm__open_master "$name"
  vm_log "VM '$name' rebooted in $((SECONDS - t0)) s"
}

# vm_stop NAME: ACPI power-off (the guest shuts down cleanly), killed after 30 s; the overlay is
# deleted.
vm_stop() {
  local name=$1 dir pid i
  dir=$(vm__dir "$name")
  pid=$(vm__pid "$name") || true
  vm__close_master "$name"
  vm__qmp "$name" '{"execute":"system_powerdown"}' >/dev/null 2>&1 || true
  for ((i = 0; i < 300; i++)); do
    vm__is_our_qemu "$pid" "$dir" || break
    sleep 0.1
  done
  if vm__is_our_qemu "$pid" "$dir"; then vm_log "VM '$name' ignored the power-off; killing it"; fi
  vm__discard "$name"
}

# Kills a VM and deletes its files.
vm__discard() {
  local name=$1 dir
  dir=$(vm__dir "$name")
  vm__close_master "$name"
  vm__kill_pid "$(vm__pid "$name")" "$dir"
  rm -rf "$dir"
  vm__forget "$name"
}

vm__forget() {
  local name=$1 i
  for i in "${!GW_VMS[@]}"; do
    [[ "${GW_VMS[i]}" == "$name" ]] && unset 'GW_VMS[i]'
  done
  GW_VMS=("${GW_VMS[@]}")
}

# ---------------------------------------------------------------------------------------------
# The lab: groundwork installed in a guest the way tests/vm/provision.sh does it everywhere.

GW_LAB=/root/lab
# Where specs/lab.yaml expects its k3s release server: the guest's own loopback.
GW_K3S_RELEASE_PORT=8099

# The k3s version the lab spec pins.
vm_lab_k3s_version() { sed -n 's/^  version: *//p' "$GW_VM_DIR/specs/lab.yaml" | head -n 1; }

# vm_install_lab NAME [--from-source]: puts the Debian package (vm_deb) as
# /root/lab/groundwork.deb, provision.sh, the lab spec and the k3s stand-in into /root/lab/, and
# serves the stand-in with its sha256sum file on 127.0.0.1:8099 inside the guest, as
# specs/lab.yaml expects. Nothing is installed: vm_provision installs the package. --from-source
# puts the release binaries (GROUNDWORK_BIN_DIR) in /root/lab/bin/ instead of the package, for the
# scenarios that install groundwork the README's way from source. One SSH round trip: the files
# travel as a tar stream.
vm_install_lab() {
  local name=$1 from_source=${2:-} bins=(groundwork) version deb=""
  [[ -z "$from_source" || "$from_source" == --from-source ]] || fail "vm_install_lab: unknown option $from_source"
  [[ -f "$GW_BIN_DIR/groundwork-helper" ]] && bins+=(groundwork-helper)
  [[ -n "$from_source" ]] || deb=$(vm_deb)
  version=$(vm_lab_k3s_version)
  [[ -n "$version" ]] || fail "no k3s version in specs/lab.yaml"
  {
    tar -C "$GW_VM_DIR" -cf - provision.sh specs/lab.yaml fixtures/serve-k3s-release.sh
    tar -C "$GW_REPO/tests/standin" --transform 's,^k3s$,k3s-standin,' -cf - k3s
    if [[ -n "$from_source" ]]; then
      tar -C "$GW_BIN_DIR" --transform 's,^,bin/,' -cf - "${bins[@]}"
    else
      tar -C "$(dirname "$deb")" --transform 's,^.*$,groundwork.deb,' -cf - "$(basename "$deb")"
    fi
  } | vm_ssh "$name" "set -e; mkdir -p $GW_LAB; tar -x -i -C $GW_LAB; mv $GW_LAB/specs/lab.yaml $GW_LAB/;
      mv $GW_LAB/fixtures/* $GW_LAB/; $GW_LAB/serve-k3s-release.sh $GW_LAB/k3s-standin '$version' $GW_K3S_RELEASE_PORT" ||
    fail "installing the lab in '$name' failed"
}

# vm_deb_mismatch DEB: nothing when the package holds GROUNDWORK_BIN_DIR's groundwork and
# groundwork-helper byte for byte (packaging/build.sh packages target/release as it is); else the
# packaged paths that differ or are missing, one line each.
vm_deb_mismatch() {
  local deb=$1 tree bin path
  tree=$(mktemp -d)
  dpkg-deb --fsys-tarfile "$deb" 2>/dev/null |
    tar -x -C "$tree" ./usr/bin/groundwork ./usr/libexec/groundwork/groundwork-helper 2>/dev/null || true
  for bin in groundwork:usr/bin/groundwork groundwork-helper:usr/libexec/groundwork/groundwork-helper; do
    path=${bin#*:}
    cmp -s "$tree/$path" "$GW_BIN_DIR/${bin%%:*}" || printf '/%s\n' "$path"
  done
  rm -rf "$tree"
}

# vm_deb: the Debian package to install (GROUNDWORK_DEB, else the one packaging/build.sh left in
# target/debian/, which it empties first). Fails the scenario, saying how to build one, when
# there is none, or when it does not hold the binaries of this run (GROUNDWORK_BIN_DIR): a
# package of an older build is never installed in its stead. run-suite.sh builds it when needed.
vm_deb() {
  local deb=${GROUNDWORK_DEB:-} built=("$GW_REPO"/target/debian/groundwork_*.deb) stale
  [[ -n "$deb" ]] || deb=${built[-1]}
  [[ -f "$deb" ]] || fail "no Debian package ($deb): build it with packaging/build.sh deb"
  stale=$(vm_deb_mismatch "$deb")
  [[ -z "$stale" ]] || fail "the Debian package $deb is stale: it holds other binaries than" \
    "$GW_BIN_DIR's (${stale//$'\n'/ }); build it again with packaging/build.sh deb"
  printf '%s\n' "$deb"
}

# vm_provision NAME: runs provision.sh in the guest on the lab spec: it installs the package that
# vm_install_lab put there (apt-get: groundwork in /usr/bin, the helper at
# /usr/libexec/groundwork/groundwork-helper), then apply, then verify (the rootless smoke test,
# and the cluster stage against the k3s stand-in); prints its output and returns its exit code.
# With --from-source, after `vm_install_lab NAME --from-source`: the binaries in $GW_LAB/bin,
# installed the README's way from source instead.
vm_provision() {
  local from=$GW_LAB/groundwork.deb
  [[ "${2:-}" != --from-source ]] || from=$GW_LAB/bin
  vm_ssh "$1" "$GW_LAB/provision.sh $GW_LAB/lab.yaml $from"
}

# provision_step_rc OUTPUT STEP: the exit code provision.sh reported for `groundwork STEP`
# (apply or verify); empty when the step did not run.
provision_step_rc() { sed -n "s/^==== provision: groundwork $2 exited \([0-9]*\) .*/\1/p" <<<"$1"; }

# vm_start_applied NAME [--from-source]: a VM on which the lab spec is applied and converged.
# Restored from the snapshot `applied` that 20-fresh-apply saves; a scenario run without it
# provisions here (about 1.5 min more), from the package or, with --from-source, from
# GROUNDWORK_BIN_DIR's binaries (which then never come from the snapshot).
vm_start_applied() {
  local name=$1 from_source=${2:-} out rc=0
  if [[ -z "$from_source" ]] && vm_has_snapshot applied; then
    vm_start "$name" --from applied
    return
  fi
  vm_log "no 'applied' snapshot in this run: provisioning the lab spec here"
  vm_start "$name"
  vm_install_lab "$name" "$from_source"
  out=$(vm_provision "$name" "$from_source" 2>&1) || rc=$?
  [[ "$(provision_step_rc "$out" apply)" == 0 ]] ||
    fail "provisioning failed (provision.sh exit code $rc):"$'\n'"$(vm__excerpt "$out")"
}

# vm_install_drift_units NAME: the README's scheduled drift check, set up in the guest as the
# package's users are told to, on a host where vm_provision installed the package: its drift
# service and timer (/usr/lib/systemd/system, running /usr/bin/groundwork as k3s, the spec's
# user) are used as shipped, nothing is enabled or started here; the lab spec as
# /etc/groundwork/spec.yaml; the link from node_exporter's textfile directory.
vm_install_drift_units() {
  vm_ssh "$1" "LAB=$GW_LAB bash -s" <<'GUEST' || fail "installing the drift units in '$1' failed"
set -eu
[ "$(dpkg-query -W -f='${db:Status-Status}' groundwork 2>&1)" = installed ] ||
  { echo 'the groundwork package is not installed'; exit 1; }
for u in groundwork-drift.service groundwork-drift.timer; do
  [ "$(dpkg-query -S "/usr/lib/systemd/system/$u" 2>&1)" = "groundwork: /usr/lib/systemd/system/$u" ] ||
    { echo "the package ships no $u"; exit 1; }
done
install -d /etc/groundwork /var/lib/node_exporter/textfile_collector
cp "$LAB/lab.yaml" /etc/groundwork/spec.yaml
ln -sf /var/lib/groundwork-drift/groundwork.prom /var/lib/node_exporter/textfile_collector/
GUEST
}

# ---------------------------------------------------------------------------------------------
# Failure evidence and the exit trap.

vm__collect_artifacts() {
  local name=$1 dir port
  dir=$(vm__dir "$name")
  mkdir -p "$GW_ARTIFACTS/$name"
  cp -f "$dir/console.log" "$dir/qemu.log" "$dir/qemu.cmdline" "$GW_ARTIFACTS/$name/" 2>/dev/null || true
  vm__alive "$name" || return 0
  port=$(<"$dir/port")
  vm__ssh_opts "$name"
  timeout 60 ssh "${SSH_OPTS[@]}" -p "$port" root@127.0.0.1 \
    'journalctl -b --no-pager; echo "==== failed units"; systemctl --failed --no-pager' \
    </dev/null >"$GW_ARTIFACTS/$name/journal.txt" 2>&1 || true
}

# vm__failure_clues NAME: what the kept evidence says of the guest's own troubles, in the log,
# which is all a CI run shows: the kernel's and systemd's complaints, the console's last lines.
vm__failure_clues() {
  local dir=$GW_ARTIFACTS/$1 clues
  clues=$(grep -a -E -i 'out of memory|oom-kill|killed process|segfault|hung task|soft lockup|watchdog|Failed to start' \
    "$dir/journal.txt" 2>/dev/null | tail -n 8 || true)
  [[ -z "$clues" ]] || vm_log "'$1': its journal's complaints:"$'\n'"$clues"
  [[ ! -s "$dir/console.log" ]] ||
    vm_log "'$1': the last lines of its console:"$'\n'"$(tail -n 6 "$dir/console.log" | tr -d '\r')"
}

vm__on_exit() {
  local rc=$1 name panic
  trap - EXIT INT TERM ERR
  # set -e stopped the scenario without an assertion's FAIL line: say where.
  [[ -z "$GW_VM_STOPPED_AT" ]] || vm_log "the scenario stopped at $GW_VM_STOPPED_AT"
  for name in "${GW_VMS[@]}"; do
    if ((rc != 0)); then
      panic=$(vm__panic_line "$name")
      # Not worth a minute of SSH timeouts: a panicked guest answers nothing.
      if [[ -n "$panic" ]]; then vm__kill_pid "$(vm__pid "$name")" "$(vm__dir "$name")"; fi
      vm__collect_artifacts "$name"
      vm_log "artifacts of '$name' kept in $GW_ARTIFACTS/$name"
      vm__failure_clues "$name"
      [[ -z "$panic" ]] || vm_log "GUEST KERNEL PANIC in '$name': $panic (see its console.log)." \
        "Whatever failed after that moment failed because the guest was dead."
    fi
    vm__discard "$name"
  done
  # Whatever a subshell may have started despite the rules.
  if [[ -n "$GW_VM_RUN" ]]; then
    vm_kill_all_below "$GW_VM_RUN"
    rm -rf "$GW_VM_RUN"
  fi
  exit "$rc"
}

GW_VM_STOPPED_AT=""
trap 'GW_VM_STOPPED_AT="${BASH_SOURCE[0]##*/} line $LINENO (exit $?): $BASH_COMMAND"' ERR
trap 'vm__on_exit $?' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fi
