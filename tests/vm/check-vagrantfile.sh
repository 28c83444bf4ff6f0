#!/usr/bin/env bash
# Checks the top-level Vagrantfile with `vagrant validate`, for each of its machines and both
# providers' settings. Booting the lab is not possible on the CI machine (its KVM cannot run a
# stock kernel, and vagrant-libvirt needs a non-loopback network), so this is what CI can check.
#
# Without vagrant: under CI=true it installs Debian's package; otherwise it prints one loud skip
# line and exits $GW_SKIP_EXIT (default 0, claiming nothing).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SKIP_EXIT=${GW_SKIP_EXIT:-0}

ensure_vagrant() {
  command -v vagrant >/dev/null && return 0
  if [[ "${CI:-}" == true && $EUID -eq 0 ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends vagrant >/dev/null ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends vagrant >/dev/null; }
    return 0
  fi
  echo "==== VAGRANTFILE CHECK SKIPPED: vagrant is not installed (apt-get install vagrant) ===="
  exit "$SKIP_EXIT"
}

# What validate cannot see: the files the Vagrantfile points at, and the two lab machines.
check_references() {
  local f=$REPO/Vagrantfile box
  grep -qE 'path: "tests/vm/provision\.sh"' "$f" || fail "the Vagrantfile does not provision with tests/vm/provision.sh"
  [[ -x "$REPO/tests/vm/provision.sh" ]] || fail "tests/vm/provision.sh is missing or not executable"
  for box in debian/bookworm64 bento/ubuntu-24.04; do
    grep -qF "\"$box\"" "$f" || fail "the Vagrantfile has no machine on the box $box"
  done
}

fail() {
  echo "check-vagrantfile: $*" >&2
  exit 1
}

VAGRANT_TMP_HOME=""
main() {
  ensure_vagrant
  check_references
  # A throw-away VAGRANT_HOME: no boxes, plugins or state of the caller's are read or written.
  VAGRANT_TMP_HOME=$(mktemp -d)
  trap 'rm -rf "$VAGRANT_TMP_HOME"' EXIT
  cd "$REPO"
  echo "vagrant validate ($(vagrant --version)) of $REPO/Vagrantfile"
  # No provider (VirtualBox, libvirt) is usable here, so their blocks are parsed as Ruby but their
  # settings are not checked.
  # VAGRANT_DOTFILE_PATH: vagrant would otherwise leave a .vagrant/ directory in the checkout.
  VAGRANT_HOME=$VAGRANT_TMP_HOME VAGRANT_DOTFILE_PATH=$VAGRANT_TMP_HOME/dotfile VAGRANT_CHECKPOINT_DISABLE=1 \
    vagrant validate --ignore-provider
}

main "$@"
