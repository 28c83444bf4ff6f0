#!/usr/bin/env bash
# The whole test suite: format, lints, unit/integration tests, then the real-host VM suite.
#
# The VM suite takes about 30 minutes (Debian VMs under qemu on 2 cores; tests/vm/README.md has
# the timings), and longer on a first run, which builds the VM images. It says so before anything
# starts. GW_SKIP_VM=1 skips it; CI (.ci/run) always runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

VM_SUITE_TIME="about 30 minutes"

if [[ "${GW_SKIP_VM:-}" == 1 ]]; then
  echo "==== REAL-HOST VM SUITE: skipped at the end (GW_SKIP_VM=1) ===="
elif [[ -x tests/vm/run-suite.sh ]]; then
  echo "==== REAL-HOST VM SUITE: after the tests below, Debian VMs under qemu, $VM_SUITE_TIME" \
    "(longer on a first run, which builds the VM images); it needs root and qemu." \
    "GW_SKIP_VM=1 skips it. ===="
  # Someone at a terminal gets a moment to stop; scripts and CI do not wait.
  if [[ -t 0 && -t 1 && -z "${CI:-}" && $EUID -eq 0 ]] && command -v qemu-system-x86_64 >/dev/null; then
    echo "Starting in 10 s: Enter starts now, Ctrl-C stops."
    read -r -t 10 || true
  fi
fi

# Every VM scenario on Debian 12, then the core ones on Debian 13 (README, supported hosts).
export GW_VM_RELEASES=${GW_VM_RELEASES:-bookworm trixie}
export GW_VM_TRIXIE_SCENARIOS=${GW_VM_TRIXIE_SCENARIOS:-10 20 22 30 40 50 90}

# One qemu guest under TCG keeps about one core busy, so on two cores the suite runs in two lanes
# side by side, each its own run-suite.sh (own VMs, snapshots and ports): lane A the Debian 12
# scenarios, lane B the Debian 13 ones and then the Debian 12 ones named in GW_VM_LANE_B (the
# Vagrant lab's two, which share a box and so a lane, and the Ansible one: the longest).
# Each lane's lines carry its name; its log is target/vm-lane-<name>.log. GW_VM_LANES=1 runs one
# lane, in the releases' order.
run_vm_suite() {
  local lane_b=${GW_VM_LANE_B:-65 66 85} a=() b=() s n rc=0 pids=()
  if [[ -d tests/vm/scenarios ]]; then
    for s in tests/vm/scenarios/[0-9][0-9]-*.sh; do
      s=$(basename "$s" .sh)
      if [[ " $lane_b " == *" ${s%%-*} "* || " $lane_b " == *" $s "* ]]; then
        b+=("${s%%-*}")
      else
        a+=("${s%%-*}")
      fi
    done
  fi
  if [[ "${GW_VM_LANES:-2}" == 1 || -n "${GW_VM_BOOKWORM_SCENARIOS:-}" ||
    " $GW_VM_RELEASES " != *" bookworm "* || ${#a[@]} == 0 ]]; then
    tests/vm/run-suite.sh
    return
  fi
  mkdir -p target
  # shellcheck disable=SC2030,SC2031 # each lane's variables are its own
  (
    set -o pipefail
    GW_VM_RELEASES=bookworm GW_VM_BOOKWORM_SCENARIOS="${a[*]}" tests/vm/run-suite.sh 2>&1 |
      tee target/vm-lane-A.log | sed -u 's/^/[A] /'
  ) &
  pids+=($!)
  local releases_b=${GW_VM_RELEASES/bookworm/}
  ((${#b[@]} == 0)) || releases_b+=" bookworm"
  (
    set -o pipefail
    GW_VM_RELEASES=$releases_b GW_VM_BOOKWORM_SCENARIOS="${b[*]}" tests/vm/run-suite.sh 2>&1 |
      tee target/vm-lane-B.log | sed -u 's/^/[B] /'
  ) &
  pids+=($!)
  for n in "${pids[@]}"; do wait "$n" || rc=1; done
  echo "==== real-host VM suite, both lanes"
  for n in A B; do
    sed -n '/^==== real-host VM suite summary/,$p' "target/vm-lane-$n.log" | sed "s/^/[$n] /"
  done
  return "$rc"
}

# The VM images build (debootstrap: downloads and disk) while cargo compiles (CPU). The builder
# takes a lock, so the suite waits for an image still being built; a failed build here is only
# logged: the suite builds again and fails loudly.
prebuild=()
if [[ "${GW_SKIP_VM:-}" != 1 && -x tests/vm/run-suite.sh && $(id -u) == 0 ]] &&
  command -v debootstrap >/dev/null; then
  mkdir -p target
  for release in $GW_VM_RELEASES; do
    GW_VM_RELEASE=$release tests/vm/build-image.sh >/dev/null 2>"target/build-image-$release.log" &
    prebuild+=($!)
  done
fi

cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked
cargo build --release --locked --bins
# Every lab host of the VM suite installs groundwork from the Debian package: built here, once,
# before the two lanes start (each lane's run-suite.sh checks that the package holds these
# binaries, and builds it itself only when it does not). Without cargo-deb the VM suite fails,
# saying how to install it.
if [[ "${GW_SKIP_VM:-}" != 1 && -x packaging/build.sh ]] && cargo deb --version >/dev/null 2>&1; then
  packaging/build.sh deb
fi
# The README's first command, as a user types it: a plan exits 0, 2 or 3, never 1 or a cargo error.
rc=0
cargo run --release --locked -- plan >/dev/null || rc=$?
case "$rc" in
  0 | 2 | 3) echo "README command \`cargo run --release -- plan\`: exit $rc" ;;
  *)
    echo "README command \`cargo run --release -- plan\` failed with exit $rc" >&2
    exit 1
    ;;
esac
for pid in "${prebuild[@]}"; do
  wait "$pid" || echo "run-all: a VM image build in the background failed (target/build-image-*.log); the suite tries again"
done
if [[ "${GW_SKIP_VM:-}" == 1 ]]; then
  echo "==== REAL-HOST VM SUITE SKIPPED: GW_SKIP_VM=1 (unset it to run the suite, $VM_SUITE_TIME) ===="
elif [[ -x tests/vm/run-suite.sh ]]; then
  echo "==== REAL-HOST VM SUITE: starting, $VM_SUITE_TIME (GW_SKIP_VM=1 skips it) ===="
  run_vm_suite
else
  echo "==== REAL-HOST VM SUITE SKIPPED: tests/vm/run-suite.sh is missing ===="
fi
