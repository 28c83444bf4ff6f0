#!/usr/bin/env bash
# The real-host suite: each scenario in tests/vm/scenarios/NN-name.sh runs against real Debian 12
# VMs under qemu, one scenario (and one VM) at a time.
#
#   tests/vm/run-suite.sh                   every scenario
#   tests/vm/run-suite.sh 10-fresh-plan 20  a subset: full names, or number prefixes
#
# Expects built binaries in target/release (or $GROUNDWORK_BIN_DIR): groundwork, and
# groundwork-helper once it exists. Builds or reuses the VM image (build-image.sh) and the booted
# snapshot first. A scenario exits 0 (PASS), 77 (SKIP: what it needs does not exist yet) or
# anything else (FAIL); each runs under a timeout: GW_VM_SCENARIO_TIMEOUT (900 s), or the
# scenario's own `# suite-timeout: SECONDS` line for the long ones. Logs and, on
# failure, the console and journal of its VMs are in target/vm-artifacts/<scenario>/.
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

PASSED=0
FAILED=0
SKIPPED=0
SUMMARY=()
# Ctrl-C reaches the scenario first; its trap stops its VMs and exits 130, and we stop there.
INTERRUPTED=0

record() {
  local verdict=$1 name=$2 secs=$3
  case "$verdict" in
    PASS) PASSED=$((PASSED + 1)) ;;
    SKIP) SKIPPED=$((SKIPPED + 1)) ;;
    *) FAILED=$((FAILED + 1)) ;;
  esac
  SUMMARY+=("$(printf '%-4s %-32s %5ds' "$verdict" "$name" "$secs")")
  printf '==== %s %s (%ds)\n' "$verdict" "$name" "$secs"
}

# The image and the booted snapshot, timed apart from the scenarios. A failed snapshot is not
# fatal: the scenarios then boot their VMs (slower, same result).
prepare() {
  local t0=$SECONDS
  echo "==== preparing the VM image"
  if ! GW_VM_IMAGE_DIR=$("$VM_DIR/build-image.sh"); then
    record FAIL image-build $((SECONDS - t0))
    return 1
  fi
  export GW_VM_IMAGE_DIR
  echo "image: $GW_VM_IMAGE_DIR ready after $((SECONDS - t0)) s"
  [[ "${GW_VM_SNAPSHOTS:-1}" != 0 ]] || return 0
  t0=$SECONDS
  if GW_SCENARIO=prepare-snapshot bash -c 'source "$1/lib.sh"; vm_prepare_snapshot' _ "$VM_DIR"; then
    echo "booted snapshot ready after $((SECONDS - t0)) s"
  else
    echo "==== BOOTED SNAPSHOT FAILED: scenarios will boot their VMs instead (see $ARTIFACTS/prepare-snapshot)"
    export GW_VM_SNAPSHOTS=0
  fi
}

run_scenario() {
  local file=$1 name rc t0=$SECONDS limit
  name=$(basename "$file" .sh)
  limit=$(sed -n 's/^# suite-timeout: *\([0-9][0-9]*\)$/\1/p' "$file" | head -n 1)
  limit=${limit:-$SCENARIO_TIMEOUT}
  rm -rf "${ARTIFACTS:?}/$name"
  mkdir -p "$ARTIFACTS/$name"
  echo "==== RUN  $name"
  set +e
  # --foreground: Ctrl-C still reaches the scenario, whose trap stops its VMs.
  GW_SCENARIO=$name timeout --foreground -k 30 "$limit" bash "$file" 2>&1 |
    tee "$ARTIFACTS/$name/output.log"
  rc=${PIPESTATUS[0]}
  set -e
  # A scenario killed outright leaves its qemu to us.
  vm_kill_all_below "$GW_VM_SUITE_DIR"
  case "$rc" in
    0) record PASS "$name" $((SECONDS - t0)) ;;
    "$EXIT_SKIP") record SKIP "$name" $((SECONDS - t0)) ;;
    124) record FAIL "$name (timed out after ${limit}s)" $((SECONDS - t0)) ;;
    130)
      record FAIL "$name (interrupted)" $((SECONDS - t0))
      INTERRUPTED=1
      ;;
    137) record FAIL "$name (killed)" $((SECONDS - t0)) ;;
    *) record FAIL "$name" $((SECONDS - t0)) ;;
  esac
}

print_summary() {
  local line tail=""
  echo "==== real-host VM suite summary"
  for line in "${SUMMARY[@]}"; do echo "  $line"; done
  ((SKIPPED == 0)) || tail=", $SKIPPED skipped"
  echo "vm-suite: $PASSED passed, $FAILED failed$tail"
}

on_exit() {
  local rc=$?
  trap - EXIT INT TERM
  vm_kill_all_below "$GW_VM_SUITE_DIR"
  rm -rf "$GW_VM_SUITE_DIR"
  exit "$rc"
}

main() {
  local scenarios list t0=$SECONDS f
  check_preconditions
  list=$(select_scenarios "$@") || exit 1
  mapfile -t scenarios <<<"$list"
  [[ -n "$list" ]] || {
    echo "run-suite: no scenarios found" >&2
    exit 1
  }
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
  # shellcheck source=lib.sh
  source "$VM_DIR/lib.sh"
  trap on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  echo "==== real-host VM suite: ${#scenarios[@]} scenario(s), binaries from $BIN_DIR"
  if prepare; then
    for f in "${scenarios[@]}"; do
      run_scenario "$f"
      ((INTERRUPTED == 0)) || break
    done
  fi
  echo "total: $((SECONDS - t0)) s"
  print_summary
  ((INTERRUPTED == 0)) || exit 130
  ((FAILED == 0))
}

main "$@"
