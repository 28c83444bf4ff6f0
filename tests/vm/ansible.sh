# shellcheck shell=bash
# ansible-core for the Ansible scenarios (85, 86): a virtualenv on the host, an inventory of the
# harness's VMs, and readers of ansible-playbook's default output. Sourced after lib.sh.

# 2.19 runs on a Python 3.11+ controller and manages Python 3.8-3.13 hosts (Debian 12: 3.11).
ANSIBLE_CORE_VERSION=2.19.14
ANSIBLE_VENV=${GW_ANSIBLE_VENV:-/var/tmp/groundwork-vm/ansible-venv-$ANSIBLE_CORE_VERSION}

pypi_reachable() {
  python3 -c 'import urllib.request as u; u.urlopen("https://pypi.org/simple/ansible-core/", timeout=20)' \
    >/dev/null 2>&1
}

# ansible-core in a virtualenv on the host, made once per version (under a lock: two suites may
# share the cache).
ensure_ansible() {
  local lock log
  [[ -f "$ANSIBLE_VENV/.complete" ]] && return 0
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
    fail "ansible-core $ANSIBLE_CORE_VERSION needs Python 3.11+ on the controller; python3 is $(python3 --version 2>&1)"
  mkdir -p "$(dirname "$ANSIBLE_VENV")"
  exec {lock}>"$ANSIBLE_VENV.lock"
  flock "$lock"
  if [[ ! -f "$ANSIBLE_VENV/.complete" ]]; then
    vm_log "installing ansible-core $ANSIBLE_CORE_VERSION from PyPI into $ANSIBLE_VENV"
    rm -rf "$ANSIBLE_VENV"
    log=$(python3 -m venv "$ANSIBLE_VENV" 2>&1) ||
      fail "python3 -m venv failed (Debian: apt-get install python3-venv):"$'\n'"$log"
    if ! log=$("$ANSIBLE_VENV/bin/pip" install --quiet "ansible-core==$ANSIBLE_CORE_VERSION" 2>&1); then
      rm -rf "$ANSIBLE_VENV"
      if ! pypi_reachable; then
        vm_log "==== SKIP: PyPI (https://pypi.org) is unreachable, so no ansible-core $ANSIBLE_CORE_VERSION to drive the VMs: THE ANSIBLE SCENARIO DID NOT RUN ===="
        exit 77
      fi
      fail "pip install ansible-core==$ANSIBLE_CORE_VERSION failed with PyPI reachable:"$'\n'"$log"
    fi
    touch "$ANSIBLE_VENV/.complete"
  fi
  exec {lock}>&-
}

# ansible_inventory VARS HOST...: $ANSIBLE_WORK/inventory.ini with the group k3s_hosts of the
# VMs HOST..., reached over the harness's SSH, and VARS (lines of name=value) as the group's
# variables: the playbooks' own, such as groundwork_spec. ANSIBLE_WORK is this run's own
# directory, known once a VM has started: two suites side by side (CI's lanes) must never share
# an inventory, or one lane's playbook runs against the other's VMs.
ANSIBLE_WORK=
ansible_inventory() {
  local vars=$1 h
  shift
  [[ -n "$GW_VM_RUN" && -d "$GW_VM_RUN" ]] || fail "ansible_inventory: start the VMs first (no run directory yet)"
  ANSIBLE_WORK="$GW_VM_RUN/ansible"
  mkdir -p "$ANSIBLE_WORK/home" "$ANSIBLE_WORK/tmp"
  {
    echo "[k3s_hosts]"
    for h in "$@"; do
      vm__ssh_opts "$h"
      # The harness's own SSH options, including its master connection per VM (ControlPath):
      # ansible_ssh_args replaces Ansible's defaults, so no ControlPersist of Ansible's outlives us.
      printf '%s ansible_port=%s ansible_ssh_args="%s"\n' "$h" "$(<"$(vm__dir "$h")/port")" \
        "$(printf '%s ' "${SSH_OPTS[@]:2}")"
    done
    echo
    echo "[k3s_hosts:vars]"
    echo "ansible_host=127.0.0.1"
    echo "ansible_user=root"
    echo "ansible_ssh_private_key_file=$(vm_image_dir)/id_ed25519"
    echo "ansible_python_interpreter=/usr/bin/python3"
    echo "ansible_pipelining=true"
    printf '%s\n' "$vars"
  } >"$ANSIBLE_WORK/inventory.ini"
  vm_log "inventory:"$'\n'"$(cat "$ANSIBLE_WORK/inventory.ini")"
  : >"$ANSIBLE_WORK/ansible.cfg"
}

# run_playbook PLAYBOOK LABEL [ARGS...]: ansible-playbook on PLAYBOOK as it is, with the
# inventory; sets PB_OUT and PB_RC, and keeps the output as the artifact ansible-LABEL.log.
run_playbook() {
  local playbook=$1 label=$2 t0=$SECONDS
  shift 2
  [[ -n "$ANSIBLE_WORK" ]] || fail "run_playbook: write the inventory first (ansible_inventory)"
  PB_RC=0
  vm_log "ansible-playbook ${playbook##*/} $* ($label)"
  PB_OUT=$(cd "$ANSIBLE_WORK" && env LC_ALL=C.UTF-8 ANSIBLE_CONFIG="$ANSIBLE_WORK/ansible.cfg" \
    ANSIBLE_HOME="$ANSIBLE_WORK/home" ANSIBLE_LOCAL_TEMP="$ANSIBLE_WORK/tmp" ANSIBLE_NOCOLOR=1 \
    ANSIBLE_FORCE_COLOR=0 ANSIBLE_STDOUT_CALLBACK=default \
    timeout 900 "$ANSIBLE_VENV/bin/ansible-playbook" -i "$ANSIBLE_WORK/inventory.ini" "$playbook" "$@" 2>&1) ||
    PB_RC=$?
  printf '%s\n' "$PB_OUT" | tee "$ANSIBLE_WORK/$label.log"
  mkdir -p "$GW_ARTIFACTS"
  cp -f "$ANSIBLE_WORK/$label.log" "$GW_ARTIFACTS/ansible-$label.log"
  vm_log "ansible-playbook ($label) exited $PB_RC after $((SECONDS - t0)) s"
}

# recap OUTPUT HOST FIELD: a counter of the PLAY RECAP line of HOST (ok, changed, failed, ...).
recap() {
  awk -v h="$2" -v f="$3" '
    /^PLAY RECAP/ { r = 1; next }
    r && $1 == h && $2 == ":" {
      for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == f) print kv[2] }
    }' <<<"$1"
}

# task OUTPUT NAME: the lines Ansible printed for the task NAME (its diffs and per-host results).
task() {
  awk -v t="TASK [$2]" '
    index($0, "TASK [") == 1 || index($0, "PLAY RECAP") == 1 { in_task = (index($0, t) == 1); next }
    in_task' <<<"$1"
}

# task_status OUTPUT NAME HOST: ok, changed, fatal, skipping... as Ansible printed it.
task_status() {
  task "$1" "$2" | sed -n "s/^\\([a-z]*\\): \\[$3\\].*/\\1/p" | head -n 1
}

assert_recap() {
  local label=$1 out=$2 host=$3 field=$4 want=$5
  assert_eq "$label: PLAY RECAP $host $field" "$want" "$(recap "$out" "$host" "$field")"
}
