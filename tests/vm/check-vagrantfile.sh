#!/usr/bin/env bash
# Checks the top-level Vagrantfile with `vagrant validate`, for each of its machines, and that
# `vagrant up` without groundwork's Debian package stops before anything starts, saying how to
# build it. It is the only check of the ubuntu2404 machine, whose box CI cannot download;
# scenarios 65 and 66 boot debian12 on a local box.
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
  grep -qF '"#{STAGE}/groundwork.deb"]' "$f" || fail "the Vagrantfile does not provision from the Debian package"
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
  # --ignore-provider: the providers' blocks are parsed as Ruby, their settings not checked
  # (neither VirtualBox nor libvirt need be installed).
  # VAGRANT_DOTFILE_PATH: vagrant would otherwise leave a .vagrant/ directory in the checkout.
  export VAGRANT_HOME=$VAGRANT_TMP_HOME VAGRANT_DOTFILE_PATH=$VAGRANT_TMP_HOME/dotfile VAGRANT_CHECKPOINT_DISABLE=1
  vagrant validate --ignore-provider
  echo "vagrant validate with a local box's settings (GW_BOX, GW_BOX_SSH_KEY, GW_BOX_KERNEL, GW_LIBVIRT_DRIVER)"
  install -m 0600 /dev/null "$VAGRANT_TMP_HOME/key"
  GW_BOX=local/lab GW_BOX_SSH_KEY=$VAGRANT_TMP_HOME/key GW_BOX_KERNEL=/nonexistent/vmlinuz \
    GW_BOX_INITRD=/nonexistent/initrd.img GW_BOX_CMDLINE="root=/dev/vda rw" GW_LIBVIRT_DRIVER=qemu \
    vagrant validate --ignore-provider
  # The package's absence stops `vagrant up` as the Vagrantfile loads. The provider is one that
  # cannot run here, so that nothing could boot even if it did not stop.
  echo "vagrant up without a package (GW_DEB names none): stops, naming packaging/build.sh deb"
  local out rc=0
  out=$(GW_DEB=$VAGRANT_TMP_HOME/none.deb vagrant up debian12 --provider virtualbox 2>&1) || rc=$?
  ((rc != 0)) || fail "vagrant up went ahead without a package:"$'\n'"$out"
  grep -qF "no groundwork package ($VAGRANT_TMP_HOME/none.deb); run \`packaging/build.sh deb\` first" <<<"$out" ||
    fail "vagrant up without a package did not say how to build one (exit $rc):"$'\n'"$out"
  echo "$out"
}

main "$@"
