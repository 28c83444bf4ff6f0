#!/usr/bin/env bash
# The whole test suite: format, lints, unit/integration tests, then the real-host VM suite.
#
# The VM suite takes about 40 minutes (Debian VMs under qemu on 2 cores; tests/vm/README.md has
# the timings), and longer on a first run, which builds the VM images. It says so before anything
# starts. GW_SKIP_VM=1 skips it; CI (.ci/run) always runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

VM_SUITE_TIME="about 40 minutes"

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
export GW_VM_TRIXIE_SCENARIOS=${GW_VM_TRIXIE_SCENARIOS:-10 20 30 40 50 90}

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
  tests/vm/run-suite.sh
else
  echo "==== REAL-HOST VM SUITE SKIPPED: tests/vm/run-suite.sh is missing ===="
fi
