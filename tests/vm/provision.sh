#!/usr/bin/env bash
# Provisions one lab host with groundwork, the same way everywhere: the Vagrant lab (Vagrantfile)
# and the qemu suite's apply scenarios run this one script inside the guest, as root.
#
#   provision.sh [--skip-cluster] [--system-spec] SPEC [PACKAGE.deb | BIN_DIR]
#
# A PACKAGE.deb (packaging/build.sh deb) is installed with apt-get, which also installs its
# dependencies: groundwork in /usr/bin, the helper in /usr/libexec/groundwork. A BIN_DIR
# (default: target/release beside this script's repo) holds the release binaries `groundwork`
# and `groundwork-helper`, installed the README's way from source (/usr/local/bin/groundwork; the
# helper root-owned 0755 at /usr/local/libexec/groundwork-helper). Then the script runs
# `groundwork apply --yes SPEC` and `groundwork verify SPEC`. --skip-cluster is for hosts that
# run a stand-in for k3s (the qemu suite has no real k3s binary): apply does not wait for a
# cluster, and verify runs only its rootless smoke test (user namespace, network, devices,
# delegation). --system-spec first installs SPEC as /etc/groundwork/spec.yaml (root-owned: the
# spec groundwork's commands use when none is named, so `groundwork drift` in the guest needs no
# argument) and provisions from there; the Vagrant lab uses it, since its uploads belong to the
# SSH user and apply refuses, as root, a spec another user could change.
#
# Exit code: apply's when it fails (1 failed, 3 blocked), else verify's; 64 on bad usage.
set -euo pipefail

HELPER_PATH=/usr/local/libexec/groundwork-helper
AGENT_PATH=/usr/local/bin/groundwork
SYSTEM_SPEC=/etc/groundwork/spec.yaml

usage() {
  echo "usage: $0 [--skip-cluster] [--system-spec] SPEC [PACKAGE.deb | BIN_DIR]" >&2
  exit 64
}

step() { printf '==== provision: %s\n' "$*"; }

install_binaries() {
  local bin_dir=$1
  [[ -x "$bin_dir/groundwork" ]] || {
    echo "provision: no groundwork binary in $bin_dir (build it: cargo build --release --bins)" >&2
    exit 1
  }
  install -D -o root -g root -m 0755 "$bin_dir/groundwork" "$AGENT_PATH"
  if [[ -f "$bin_dir/groundwork-helper" ]]; then
    # Root-owned and writable by root alone: sudo runs it as root for the target user.
    install -D -o root -g root -m 0755 "$bin_dir/groundwork-helper" "$HELPER_PATH"
    step "installed $AGENT_PATH and $HELPER_PATH"
  else
    step "installed $AGENT_PATH (no groundwork-helper in $bin_dir yet)"
  fi
  "$AGENT_PATH" --version
}

install_package() {
  local deb=$1
  # apt-get takes a local package only as a path (./name.deb or /dir/name.deb).
  [[ "$deb" == /* ]] || deb=./$deb
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --reinstall "$deb" || {
    echo "provision: apt-get could not install $deb (its dependencies must be in the host's apt sources)" >&2
    exit 1
  }
  AGENT_PATH=/usr/bin/groundwork
  step "installed the package $(dpkg-query -W -f='${Package} ${Version}' groundwork)"
  "$AGENT_PATH" --version
}

# Runs a groundwork command, timed; returns its exit code.
run_timed() {
  local t0=$SECONDS rc=0
  step "groundwork $*"
  "$AGENT_PATH" "$@" || rc=$?
  step "groundwork $1 exited $rc after $((SECONDS - t0)) s"
  return "$rc"
}

main() {
  local spec bin_dir apply_args=(--yes) verify_args=() system_spec=no
  while [[ "${1:-}" == --* ]]; do
    case "$1" in
      --skip-cluster)
        apply_args+=(--no-verify)
        verify_args+=(--skip-cluster)
        ;;
      --system-spec) system_spec=yes ;;
      *) usage ;;
    esac
    shift
  done
  (($# >= 1 && $# <= 2)) || usage
  spec=$1
  bin_dir=${2:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/target/release}
  [[ $EUID -eq 0 ]] || {
    echo "provision: run as root (it installs groundwork)" >&2
    exit 1
  }
  [[ -r "$spec" ]] || {
    echo "provision: cannot read the spec $spec" >&2
    exit 1
  }
  if [[ "$bin_dir" == *.deb ]]; then
    install_package "$bin_dir"
  else
    install_binaries "$bin_dir"
  fi
  if [[ "$system_spec" == yes ]]; then
    install -D -o root -g root -m 0644 "$spec" "$SYSTEM_SPEC"
    step "installed the spec as $SYSTEM_SPEC"
    spec=$SYSTEM_SPEC
  fi
  run_timed apply "${apply_args[@]}" "$spec" || return $?
  run_timed verify "${verify_args[@]}" "$spec"
}

main "$@"
