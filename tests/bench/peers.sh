#!/usr/bin/env bash
# The peer benchmark (issue #7): `groundwork plan` and `groundwork drift` against the same checks
# done by `ansible-playbook --check`, by a bash script, and by the floor, all inside one converged
# Debian 12 harness VM. Prints a Markdown table; raw hyperfine JSON and the rest in target/bench/.
#
#   cargo build --release --bins --examples
#   flock /var/tmp/gw-vm-test.lock tests/bench/peers.sh      # as root; about 15 min under TCG
#   tests/bench/peers.sh --prepare                          # only the host-side payload, no VM
#
# Settings (environment): GW_BENCH_RUNS (groundwork and the floor, 100, in GW_BENCH_ROUNDS
# interleaved rounds, 5), GW_BENCH_RUNS_BASH (20),
# GW_BENCH_RUNS_ANSIBLE (5), GW_BENCH_ANSIBLE (ansible-core version, 2.19.14), GW_BENCH_OUT
# (target/bench), GROUNDWORK_BIN_DIR (the binaries and examples/bench-floor, target/release: a
# second build, e.g. GROUNDWORK_NO_PIE=1 into another target dir, is timed the same way).
# Not part of tests/vm/run-suite.sh: see tests/bench/README.md.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/../.." && pwd)
OUT=${GW_BENCH_OUT:-$REPO/target/bench}
PAYLOAD=$OUT/payload
ANSIBLE_VERSION=${GW_BENCH_ANSIBLE:-2.19.14}
RUNS=${GW_BENCH_RUNS:-100}
ROUNDS=${GW_BENCH_ROUNDS:-5}
RUNS_BASH=${GW_BENCH_RUNS_BASH:-20}
RUNS_ANSIBLE=${GW_BENCH_RUNS_ANSIBLE:-5}
# Debian 12's own packages, unpacked (not installed: the guest's dpkg database is an input of
# every contestant and stays as groundwork left it). python3-apt is what Ansible's apt module needs.
DEBS=(hyperfine strace libunwind8 time python3-apt)
BENCH_BIN=${GROUNDWORK_BIN_DIR:-$REPO/target/release}

die() {
  echo "peers: $*" >&2
  exit 1
}

# target/bench/payload: what the guest gets, built once per ansible-core version (the guest has
# no network). ansible-core comes from PyPI as wheels for the guest's CPython 3.11.
prepare_payload() {
  local stamp=$PAYLOAD/.complete-$ANSIBLE_VERSION tmp deb
  if [[ ! -f "$stamp" ]]; then
    command -v apt-get >/dev/null || die "needs apt-get and dpkg-deb (a Debian host)"
    command -v dpkg-deb >/dev/null || die "needs apt-get and dpkg-deb (a Debian host)"
    command -v pip3 >/dev/null || die "needs pip3 to fetch ansible-core from PyPI"
    rm -rf "$PAYLOAD"
    mkdir -p "$PAYLOAD/root"
    tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download "${DEBS[@]}" >/dev/null 2>&1) || die "apt-get download ${DEBS[*]} failed"
    for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$PAYLOAD/root"; done
    rm -rf "$tmp"
    pip3 install --quiet --disable-pip-version-check --target "$PAYLOAD/ansible" \
      --python-version 3.11 --implementation cp --only-binary=:all: \
      --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
      "ansible-core==$ANSIBLE_VERSION" || die "pip could not fetch ansible-core $ANSIBLE_VERSION"
    # The test framework and the host's entry points (they name the host's python) are not needed.
    rm -rf "$PAYLOAD/ansible/ansible_test" "$PAYLOAD/ansible/bin"
    touch "$stamp"
  fi
  rm -rf "${PAYLOAD:?}/bench" "${PAYLOAD:?}/bin"
  mkdir -p "$PAYLOAD/bench" "$PAYLOAD/bin"
  [[ -x "$BENCH_BIN/examples/bench-floor" && -x "$BENCH_BIN/groundwork" ]] ||
    die "build first: cargo build --release --bins --examples"
  cp "$BENCH_BIN/examples/bench-floor" "$BENCH_DIR/drift-check.sh" "$BENCH_DIR/ansible-check.yml" \
    "$BENCH_DIR/floor-ops.py" "$PAYLOAD/bench/"
  ln -s ../root/usr/bin/hyperfine "$PAYLOAD/bin/hyperfine"
  ln -s ../root/usr/bin/time "$PAYLOAD/bin/time"
  ln -s ../bench/bench-floor "$PAYLOAD/bin/bench-floor"
  # Through the loader, so that libunwind's path does not leak into the traced program.
  cat >"$PAYLOAD/bin/strace" <<'EOF'
#!/bin/sh
exec /lib64/ld-linux-x86-64.so.2 --library-path /opt/bench/root/usr/lib/x86_64-linux-gnu \
  /opt/bench/root/usr/bin/strace "$@"
EOF
  # ansible-playbook as pip would install it, for the guest's /usr/bin/python3. Pipelining is on
  # (the fastest configuration Ansible offers, and the one that lets `become` work without acl).
  cat >"$PAYLOAD/bin/ansible-playbook" <<'EOF'
#!/usr/bin/python3
import os
import sys

paths = ["/opt/bench/ansible", "/opt/bench/root/usr/lib/python3/dist-packages"]
os.environ["PYTHONPATH"] = ":".join(paths)
sys.path[:0] = paths
for key, value in {
    "LC_ALL": "C.UTF-8",
    "ANSIBLE_PIPELINING": "True",
    "ANSIBLE_LOCALHOST_WARNING": "False",
    "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
    "ANSIBLE_NOCOLOR": "True",
}.items():
    os.environ.setdefault(key, value)
from ansible.cli.playbook import main  # noqa: E402

sys.argv[0] = "ansible-playbook"
sys.exit(main())
EOF
  chmod +x "$PAYLOAD/bin/strace" "$PAYLOAD/bin/ansible-playbook"
}

# Runs in the guest as root: the equivalence checks, the trace that makes the floor, the timings
# and the peak RSS. Writes everything into /opt/bench/out.
guest_script() {
  cat <<GUEST
set -u
export PATH=/opt/bench/bin:\$PATH
RUNS=$RUNS ROUNDS=$ROUNDS RUNS_BASH=$RUNS_BASH RUNS_ANSIBLE=$RUNS_ANSIBLE
GUEST
  cat <<'GUEST'
B=/opt/bench/bench SPEC=/root/lab/lab.yaml O=/opt/bench/out
rm -rf "$O" && mkdir -p "$O"
cd /root
# The contestants, by name: one line each, words separated by spaces (run without a shell).
cat >"$O/contestants" <<EOF
groundwork-plan groundwork plan $SPEC
groundwork-drift groundwork drift $SPEC
groundwork-apply groundwork apply --yes $SPEC
ansible-check ansible-playbook --check $B/ansible-check.yml
bash-script bash $B/drift-check.sh
floor bench-floor $O/floor.ops
EOF
cmd_of() { sed -n "s/^$1 //p" "$O/contestants"; }

# 1. The version cache warm, as on any host where drift ran before.
groundwork drift "$SPEC" >/dev/null 2>&1

# 2. The floor's trace list, from groundwork drift itself; and its spawns with a cold cache.
strace -f -qq -y -s 4096 -o "$O/drift.strace" \
  -e trace=execve,openat,newfstatat,statx,readlink,readlinkat,access,faccessat2 groundwork drift "$SPEC" >/dev/null
python3 "$B/floor-ops.py" "$O/drift.strace" >"$O/floor.ops" || echo "FAILED: floor-ops.py" >>"$O/failures"
XDG_CACHE_HOME=$(mktemp -d) strace -f -qq -e trace=execve -o "$O/drift-cold.strace" groundwork drift "$SPEC" >/dev/null

# 3. Each contestant says "in sync" on this host, and its processes are counted (execve).
while read -r name cmd; do
  # shellcheck disable=SC2086 # words, on purpose
  strace -f -qq -e trace=execve -o "$O/$name.execve" $cmd >"$O/check-$name.txt" 2>&1
  rc=$?
  echo "$rc" >"$O/check-$name.rc"
  if [[ $name == ansible-check ]]; then
    grep -Eq 'localhost +: ok=[0-9]+ +changed=0 +unreachable=0 +failed=0' "$O/check-$name.txt" ||
      echo "FAILED: $name does not report changed=0" >>"$O/failures"
  fi
  ((rc == 0)) || echo "FAILED: $name exited $rc" >>"$O/failures"
done <"$O/contestants"
[[ -s "$O/failures" ]] && exit 1

# 4. Timings. -N: no shell between hyperfine and the program (a shell costs more than drift).
# In ROUNDS interleaved rounds, pooled by peers-table.py: the machine's slow spells (a shared
# host) then fall on all three alike.
fast=(); for n in groundwork-plan groundwork-drift groundwork-apply floor; do fast+=(-n "$n" "$(cmd_of "$n")"); done
for ((r = 1; r <= ROUNDS; r++)); do
  hyperfine -N --style basic --warmup 3 --runs $(((RUNS + ROUNDS - 1) / ROUNDS)) \
    --export-json "$O/fast-$r.json" "${fast[@]}"
done
hyperfine -N --style basic --warmup 3 --runs "$RUNS_BASH" --export-json "$O/bash.json" -n bash-script "$(cmd_of bash-script)"
hyperfine -N --style basic --warmup 1 --runs "$RUNS_ANSIBLE" --export-json "$O/ansible.json" -n ansible-check "$(cmd_of ansible-check)"

# 5. Peak RSS: GNU time's %M (from Debian's package, unpacked), in KiB: the largest process of
# the tree. Not getrusage from a Python wrapper: the max RSS survives exec, so every child would
# count the forked Python (about 10 MiB) and a small program could never measure below it.
# The highest of a few runs.
while read -r name cmd; do
  n=5; [[ $name == ansible-check ]] && n=2
  for ((i = 0; i < n; i++)); do
    # shellcheck disable=SC2086 # words, on purpose
    /opt/bench/bin/time -f %M -a -o "$O/$name.rss" $cmd >/dev/null 2>&1
  done
done <"$O/contestants"
{ uname -r; python3 --version; groundwork --version; hyperfine --version
  PYTHONPATH=/opt/bench/ansible python3 -c 'import ansible.release as r; print("ansible-core", r.__version__)'
  nproc; grep -m1 'model name' /proc/cpuinfo; } >"$O/guest-info.txt" 2>&1
GUEST
}

main() {
  [[ "${1:-}" == --prepare ]] && {
    prepare_payload
    echo "peers: payload ready in $PAYLOAD"
    return
  }
  [[ $EUID -eq 0 ]] || die "run as root (the VM harness needs it)"
  prepare_payload
  # shellcheck source=../vm/lib.sh
  source "$REPO/tests/vm/lib.sh"
  require_groundwork drift
  local run rc=0
  run=$OUT/peers-$(date +%Y%m%d-%H%M%S)
  mkdir -p "$run"
  # The package holds target/release's binaries; another build is installed as from source.
  local install=()
  [[ "$(realpath -m "$BENCH_BIN")" == "$(realpath -m "$REPO/target/release")" ]] || install=(--from-source)
  vm_start_applied bench "${install[@]}"
  vm_log "copying the payload ($(du -sh "$PAYLOAD" | cut -f1)) into the guest"
  tar -C "$PAYLOAD" -cf - root ansible bench bin | vm_ssh bench 'rm -rf /opt/bench && mkdir -p /opt/bench && tar -x -C /opt/bench'
  vm_log "checks, trace, timings (ansible: $RUNS_ANSIBLE runs) in the guest"
  guest_script | vm_ssh bench bash -s || rc=$?
  vm_ssh bench 'tar -C /opt/bench/out -cf - .' | tar -x -C "$run"
  vm_stop bench
  if ((rc != 0)); then
    cat "$run/failures" 2>/dev/null >&2
    for f in "$run"/check-*.txt; do printf '==== %s\n' "$f"; tail -n 30 "$f"; done >&2
    die "a contestant does not report the host in sync (outputs in $run)"
  fi
  python3 "$BENCH_DIR/peers-table.py" "$run" | tee "$run/table.md"
  ln -sfn "$(basename "$run")" "$OUT/peers-latest"
  vm_log "raw results in $run"
}

main "$@"
