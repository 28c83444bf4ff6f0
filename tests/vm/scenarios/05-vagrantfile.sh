#!/usr/bin/env bash
# The Vagrant lab's Vagrantfile is valid (`vagrant validate`), provisions through
# tests/vm/provision.sh from groundwork's Debian package, and `vagrant up` without the package
# stops at once, naming `packaging/build.sh deb`. Starts no VM.
set -euo pipefail
GW_SKIP_EXIT=77 exec "$(dirname "${BASH_SOURCE[0]}")/../check-vagrantfile.sh"
