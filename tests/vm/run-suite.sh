#!/usr/bin/env bash
# The real-host suite: each scenario in tests/vm/scenarios/NN-name.sh runs against real Debian VMs
# under qemu, one scenario (and one VM) at a time: Debian 12 (bookworm) by default, or the releases
# asked for, one after the other.
#
#   tests/vm/run-suite.sh                   every scenario, on bookworm
#   tests/vm/run-suite.sh 10-fresh-plan 20  a subset: full names, or number prefixes
#   GW_VM_RELEASE=trixie tests/vm/run-suite.sh 10 20    on Debian 13 instead (12 and 13 work too)
#   GW_VM_RELEASES="bookworm trixie" tests/vm/run-suite.sh 10 20   each release in turn
#   GW_VM_RELEASES="bookworm trixie" GW_VM_TRIXIE_SCENARIOS="10 20 22 30 40 50 90" tests/vm/run-suite.sh
#                                           everything on bookworm, those six on trixie
#
# GW_VM_RELEASES (default: GW_VM_RELEASE, else bookworm) lists the releases; each gets its own
# image, booted snapshot and `applied` snapshot. A release runs the scenarios in
# GW_VM_<RELEASE>_SCENARIOS (the codename in capitals) when that is set, else the ones named on the
# command line, else all of them. Summary lines and artifacts are named <release>/<scenario>.
#
# Expects built binaries in target/release (or $GROUNDWORK_BIN_DIR): groundwork, and
# groundwork-helper once it exists. The lab hosts install groundwork's Debian package
# (target/debian/groundwork_*.deb, or $GROUNDWORK_DEB): before any VM starts, the package must
# hold exactly those binaries; a missing or stale one in target/debian is built again here, once
# (packaging/build.sh deb, which needs cargo-deb), and a GROUNDWORK_DEB of other binaries fails
# the suite. Builds or reuses the VM image (build-image.sh) and the booted snapshot first. A scenario exits 0 (PASS), 77 (SKIP: what it needs does not exist yet) or
# anything else (FAIL); each runs under a timeout: GW_VM_SCENARIO_TIMEOUT (900 s), or the
# scenario's own `# suite-timeout: SECONDS` line for the long ones. Logs and, on
# failure, the console and journal of its VMs are in target/vm-artifacts/<release>/<scenario>/.
# A scenario that failed while one of its guests' kernel panicked runs once more (GW_VM_PANIC_RETRY=0:
# never), and its summary line says so.
# The last line is `vm-suite: N passed, N failed`; the exit code is 1 when anything failed.
#
# Where a real VM cannot run here at all (not root, no qemu or debootstrap), it says so in one
# loud line and exits 0, claiming nothing.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$VM_DIR/../.." && pwd)
BIN_DIR=${GROUNDWORK_BIN_DIR:-$REPO/target/release}
ARTIFACTS=${GW_VM_ARTIFACTS:-$REPO/target/vm-artifacts}
SCENARIO_TIMEOUT=${GW_VM_SCENARIO_TIMEOUT:-900}
EXIT_SKIP=77

skip_suite() {
  echo "==== REAL-HOST VM SUITE SKIPPED: $* ===="
  exit 0
}

check_preconditions() {
  [[ $EUID -eq 0 ]] || skip_suite "needs root (debootstrap, chroot); run as root"
  local tool missing=()
  for tool in qemu-system-x86_64 debootstrap qemu-img mkfs.ext4 apt-ftparchive ssh scp ssh-keygen \
    socat setpriv flock timeout; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  ((${#missing[@]} == 0)) || skip_suite "missing tools: ${missing[*]} (apt-get install qemu-system-x86 qemu-utils debootstrap apt-utils openssh-client socat)"
}

# Scenario files for the names given (all when none): `10-fresh-plan`, `10-fresh-plan.sh` or `10`.
select_scenarios() {
  local arg f matched
  if (($# == 0)); then
    find "$VM_DIR/scenarios" -maxdepth 1 -name '[0-9][0-9]-*.sh' | sort
    return
  fi
  for arg in "$@"; do
    arg=$(basename "$arg" .sh)
    matched=0
    for f in "$VM_DIR"/scenarios/"$arg"*.sh; do
      [[ -f "$f" ]] || continue
      echo "$f"
      matched=1
    done
    ((matched)) || {
      echo "run-suite: no scenario matches '$arg' in $VM_DIR/scenarios" >&2
      return 1
    }
  done
}

# The releases to run, as codenames, in order and each once.
select_releases() {
  local r codename seen=" "
  for r in ${GW_VM_RELEASES:-${GW_VM_RELEASE:-bookworm}}; do
    codename=$(GW_VM_RELEASE=$r "$VM_DIR/build-image.sh" --print-release) || return 1
    [[ "$seen" == *" $codename "* ]] && continue
    seen+="$codename "
    echo "$codename"
  done
}

# The scenario files of one release: GW_VM_<RELEASE>_SCENARIOS, else the command line's.
select_release_scenarios() {
  local release=$1 var
  shift
  var="GW_VM_${release^^}_SCENARIOS"
  if [[ -n "${!var:-}" ]]; then
    # shellcheck disable=SC2086 # a list of names
    select_scenarios ${!var}
  else
    select_scenarios "$@"
  fi
}

PASSED=0
FAILED=0
SKIPPED=0
SUMMARY=()
# label=output.log of each failed scenario: the summary ends with the end of each, so that a log
# that only keeps its last lines (CI's) still says why.
FAILED_LOGS=()
# 0 when the current release's booted snapshot failed: its scenarios boot their VMs.
RELEASE_SNAPSHOTS=1
# The exit code of the last scenario run (run_attempt).
RC=0
# Ctrl-C reaches the scenario first; its trap stops its VMs and exits 130, and we stop there.
INTERRUPTED=0

record() {
  local verdict=$1 name=$2 secs=$3
  case "$verdict" in
    PASS) PASSED=$((PASSED + 1)) ;;
    SKIP) SKIPPED=$((SKIPPED + 1)) ;;
    *) FAILED=$((FAILED + 1)) ;;
  esac
  SUMMARY+=("$(printf '%-4s %-40s %5ds' "$verdict" "$name" "$secs")")
  printf '==== %s %s (%ds)\n' "$verdict" "$name" "$secs"
}

# The image and the booted snapshot of the release in GW_VM_RELEASE, timed apart from the
# scenarios. A failed snapshot is not fatal: that release's scenarios then boot their VMs (slower,
# same result).
prepare() {
  local t0=$SECONDS
  echo "==== preparing the $GW_VM_RELEASE VM image"
  if ! GW_VM_IMAGE_DIR=$("$VM_DIR/build-image.sh"); then
    record FAIL "$GW_VM_RELEASE/image-build" $((SECONDS - t0))
    return 1
  fi
  export GW_VM_IMAGE_DIR
  echo "image: $GW_VM_IMAGE_DIR ready after $((SECONDS - t0)) s"
  RELEASE_SNAPSHOTS=${GW_VM_SNAPSHOTS:-1}
  [[ "$RELEASE_SNAPSHOTS" != 0 ]] || return 0
  t0=$SECONDS
  if GW_SCENARIO=prepare-snapshot bash -c 'source "$1/lib.sh"; vm_prepare_snapshot' _ "$VM_DIR"; then
    echo "booted snapshot ready after $((SECONDS - t0)) s"
  else
    echo "==== BOOTED SNAPSHOT FAILED: scenarios will boot their VMs instead (see $ARTIFACTS/$GW_VM_RELEASE/prepare-snapshot)"
    RELEASE_SNAPSHOTS=0
  fi
}

# run_attempt FILE NAME LOG LIMIT: one run of a scenario, its output in LOG; sets RC.
run_attempt() {
  local file=$1 name=$2 log=$3 limit=$4
  mkdir -p "$(dirname "$log")"
  set +e
  # --foreground: Ctrl-C still reaches the scenario, whose trap stops its VMs.
  GW_SCENARIO=$name GW_VM_SNAPSHOTS=$RELEASE_SNAPSHOTS timeout --foreground -k 30 "$limit" bash "$file" 2>&1 |
    tee "$log"
  RC=${PIPESTATUS[0]}
  set -e
  # A scenario killed outright leaves its qemu to us.
  vm_kill_all_below "$GW_VM_SUITE_DIR"
}

# A scenario, run again once when it failed while a guest's kernel had panicked (lib.sh says
# GUEST KERNEL PANIC): Debian 13 under TCG does that now and then, whatever the scenario does.
# The first attempt's evidence stays in <release>/<scenario>.panicked/.
run_scenario() {
  local file=$1 name t0=$SECONDS limit label dir log panics note=""
  name=$(basename "$file" .sh)
  label=$GW_VM_RELEASE/$name
  dir=$ARTIFACTS/$label
  log=$dir/output.log
  limit=$(sed -n 's/^# suite-timeout: *\([0-9][0-9]*\)$/\1/p' "$file" | head -n 1)
  limit=${limit:-$SCENARIO_TIMEOUT}
  rm -rf "${dir:?}" "$dir.panicked"
  echo "==== RUN  $label"
  run_attempt "$file" "$name" "$log" "$limit"
  if [[ "$RC" != 0 && "$RC" != "$EXIT_SKIP" && "$RC" != 130 && "${GW_VM_PANIC_RETRY:-1}" != 0 ]] &&
    grep -q 'GUEST KERNEL PANIC' "$log"; then
    mv "$dir" "$dir.panicked"
    echo "==== RETRY $label: a guest kernel panicked during it (evidence in $dir.panicked/)"
    note=" (retried after a guest kernel panic)"
    run_attempt "$file" "$name" "$log" "$limit"
  fi
  # Guests restarted after a kernel panic (lib.sh's boot waits) show in the summary.
  panics=$(grep -c 'KERNEL PANIC: restarting' "$log" || true)
  ((panics == 0)) || note+=" ($panics kernel panic, restarted)"
  if [[ "$RC" != 0 ]] && grep -q 'GUEST KERNEL PANIC' "$log"; then note+=" (guest kernel panic)"; fi
  label+=$note
  [[ "$RC" == 0 || "$RC" == "$EXIT_SKIP" ]] || FAILED_LOGS+=("$label=$log")
  case "$RC" in
    0) record PASS "$label" $((SECONDS - t0)) ;;
    "$EXIT_SKIP") record SKIP "$label" $((SECONDS - t0)) ;;
    124) record FAIL "$label (timed out after ${limit}s)" $((SECONDS - t0)) ;;
    130)
      record FAIL "$label (interrupted)" $((SECONDS - t0))
      INTERRUPTED=1
      ;;
    137) record FAIL "$label (killed)" $((SECONDS - t0)) ;;
    *) record FAIL "$label" $((SECONDS - t0)) ;;
  esac
}

# run_release RELEASE SCENARIO_FILE...: the image and booted snapshot of RELEASE, then each
# scenario on it. Its suite snapshots (`applied`) go when it is done.
run_release() {
  local f t0=$SECONDS
  export GW_VM_RELEASE=$1
  shift
  echo "==== release $GW_VM_RELEASE: $# scenario(s)"
  unset GW_VM_IMAGE_DIR
  if prepare; then
    for f in "$@"; do
      run_scenario "$f"
      ((INTERRUPTED == 0)) || break
    done
  fi
  rm -rf "${GW_VM_SUITE_DIR:?}/snapshots/$GW_VM_RELEASE"
  echo "release $GW_VM_RELEASE: $((SECONDS - t0)) s"
}

print_summary() {
  local line tail=""
  echo "==== real-host VM suite summary"
  for line in "${SUMMARY[@]}"; do echo "  $line"; done
  ((SKIPPED == 0)) || tail=", $SKIPPED skipped"
  for line in "${FAILED_LOGS[@]}"; do
    echo "---- why ${line%%=*} failed: the last 25 lines of ${line#*=}"
    tail -n 25 "${line#*=}" 2>/dev/null | sed 's/^/  | /'
  done
  echo "vm-suite: $PASSED passed, $FAILED failed$tail"
}

# The Debian package the lab hosts install (lib.sh's vm_deb), current before any VM: built when
# target/debian has none, or one whose groundwork or helper differs from BIN_DIR's (a build of an
# older commit). Under a lock, so that two suites started together (run-all.sh's two lanes, which
# find it already built by run-all.sh) build it once. Sets DEB; returns 1, having said why, when
# there is no current package.
ensure_package() {
  local built stale
  if [[ -z "${GROUNDWORK_DEB:-}" && "$BIN_DIR" -ef "$REPO/target/release" ]]; then
    mkdir -p "$REPO/target"
    (
      flock 9
      built=("$REPO"/target/debian/groundwork_*.deb)
      if [[ ! -f "${built[-1]}" ]]; then
        stale="there is none in target/debian"
      else
        stale=$(vm_deb_mismatch "${built[-1]}")
        [[ -z "$stale" ]] || stale="${built[-1]##*/} holds other binaries than $BIN_DIR's (${stale//$'\n'/ })"
      fi
      [[ -n "$stale" ]] || exit 0
      echo "==== building the Debian package (packaging/build.sh deb): $stale"
      "$REPO/packaging/build.sh" deb
    ) 9>"$REPO/target/.vm-deb.lock" || return 1
  fi
  DEB=$(vm_deb) || return 1
}

on_exit() {
  local rc=$?
  trap - EXIT INT TERM
  vm_kill_all_below "$GW_VM_SUITE_DIR"
  rm -rf "$GW_VM_SUITE_DIR"
  exit "$rc"
}

main() {
  local releases release list t0=$SECONDS total=0 per_release=() scenarios i
  check_preconditions
  list=$(select_releases) || exit 64
  mapfile -t releases <<<"$list"
  # Every release's selection first: a typo fails before any VM starts.
  for release in "${releases[@]}"; do
    list=$(select_release_scenarios "$release" "$@") || exit 1
    [[ -n "$list" ]] || {
      echo "run-suite: no scenarios found for $release" >&2
      exit 1
    }
    per_release+=("$list")
    total=$((total + $(wc -l <<<"$list")))
  done
  if [[ ! -x "$BIN_DIR/groundwork" ]]; then
    echo "==== REAL-HOST VM SUITE FAILED: $BIN_DIR/groundwork is missing (cargo build --release --bins) ===="
    echo "vm-suite: 0 passed, 1 failed"
    exit 1
  fi
  GW_VM_SUITE_DIR=$(mktemp -d /tmp/gwsuite.XXXXXX)
  export GW_VM_SUITE_DIR GROUNDWORK_BIN_DIR=$BIN_DIR GW_VM_ARTIFACTS=$ARTIFACTS
  # For vm_kill_all_below and vm_prepare_snapshot; this shell starts no VM itself.
  # shellcheck disable=SC2034 # read by lib.sh
  GW_SCENARIO=run-suite
  export GW_VM_RELEASE=${releases[0]}
  # shellcheck source=lib.sh
  source "$VM_DIR/lib.sh"
  trap on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  if ! ensure_package; then
    echo "==== REAL-HOST VM SUITE FAILED: no Debian package of $BIN_DIR's binaries" \
      "(packaging/build.sh deb; it needs \`cargo install cargo-deb --locked\`) ===="
    echo "vm-suite: 0 passed, 1 failed"
    exit 1
  fi
  echo "==== real-host VM suite: $total scenario run(s) on ${releases[*]}, binaries from $BIN_DIR," \
    "package $DEB"
  for i in "${!releases[@]}"; do
    mapfile -t scenarios <<<"${per_release[i]}"
    run_release "${releases[i]}" "${scenarios[@]}"
    ((INTERRUPTED == 0)) || break
  done
  echo "total: $((SECONDS - t0)) s"
  print_summary
  ((INTERRUPTED == 0)) || exit 130
  ((FAILED == 0))
}

main "$@"
