#!/usr/bin/env bash
# The README's rolling k3s upgrade, with a real ansible-core (from PyPI, on the host) driving
# three converged Debian 12 VMs (alpha, beta, gamma) through examples/ansible/upgrade.yml, run
# verbatim: one host at a time, apply then verify, stop at the first host that fails verify.
#   1. A bump all hosts take (v1.31.5+k3s1): the play passes; each host's k3s-rootless unit
#      restarted exactly once, with the new version, in the inventory's order.
#   2. A bump to a release that does not start on beta (v1.31.6+k3s1; the stand-in lists it in
#      beta's /etc/k3s-standin/broken-versions): alpha takes it, beta fails its verify, and the
#      play stops there: exit code 2, `fatal: [beta]` with groundwork's diagnosis (the unit
#      failed, and the release's own fatal line from the journal), gamma untouched (still the
#      previous version, no restart, its spec unchanged).
#   3. The rollback: the previous version pinned again, the play for beta alone: beta runs it
#      again, restarted once more, healthy, and drift finds nothing.
# The VMs start from the `applied` snapshot (20-fresh-apply), with groundwork installed from its
# package as there; /etc/groundwork is made as site.yml makes it. Without PyPI (and no cached
# ansible-core) the scenario is SKIPPED, loudly.
# Six apply-and-verify rounds in emulated guests, each with Ansible's Python: 500-800 s under TCG.
# suite-timeout: 1500
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=ansible.sh
source "$GW_VM_DIR/ansible.sh"

require_groundwork ansible-module

PLAYBOOK=$GW_REPO/examples/ansible/upgrade.yml
OLD=$(vm_lab_k3s_version)
NEW=v1.31.5+k3s1
BAD=v1.31.6+k3s1

ensure_ansible
ok "ansible-core: $("$ANSIBLE_VENV/bin/ansible-playbook" --version | head -n 1)"

HOSTS=(alpha beta gamma)
for h in "${HOSTS[@]}"; do
  vm_start_applied "$h"
  # Both releases on each guest's loopback server, as the lab serves the first; the directory
  # site.yml makes for the spec.
  vm_ssh "$h" "set -e; for v in $NEW $BAD; do $GW_LAB/serve-k3s-release.sh $GW_LAB/k3s-standin \$v $GW_K3S_RELEASE_PORT; done
    install -d -m 0755 /etc/groundwork" || fail "preparing '$h' failed"
done
vm_ssh beta "install -d /etc/k3s-standin && echo $BAD >/etc/k3s-standin/broken-versions"

# The specs the operator rolls out: the lab spec with another pinned version.
SPECS="$GW_VM_RUN/specs"
mkdir -p "$SPECS"
for v in "$OLD" "$NEW" "$BAD"; do
  sed "s/^  version: .*/  version: $v/" "$GW_VM_DIR/specs/lab.yaml" >"$SPECS/lab-$v.yaml"
  grep -q "^  version: $v\$" "$SPECS/lab-$v.yaml" || fail "no k3s version line in specs/lab.yaml"
done
ansible_inventory "" "${HOSTS[@]}"

# host_facts HOST SINCE: the host's k3s as KEY=VALUE lines; `starts` counts the unit's starts in
# the user manager's journal since SINCE (a `journalctl --since` time).
host_facts() {
  vm_ssh "$1" "SINCE='$2' bash -s" <<'GUEST'
set -u
kv() { printf '%s=%s\n' "$1" "$2"; }
unit=k3s-rootless.service
kv version "$(/usr/local/bin/k3s --version 2>&1 | head -n 1 | cut -d' ' -f3)"
kv active "$(systemctl --user -M k3s@ is-active "$unit" 2>&1)"
kv starts "$(journalctl --no-pager -o cat _UID="$(id -u k3s)" --since "$SINCE" | grep -c "^Started $unit")"
kv spec "$(sed -n 's/^  version: *//p' /etc/groundwork/spec.yaml 2>/dev/null)"
groundwork drift /etc/groundwork/spec.yaml >/dev/null 2>&1
kv drift "$?"
GUEST
}

# A point in each guest's own clock: the guests' clocks need not agree with each other.
guest_now() { vm_ssh "$1" "date '+%Y-%m-%d %H:%M:%S'"; }
declare -A SINCE
mark_time() {
  local h
  for h in "${HOSTS[@]}"; do SINCE[$h]=$(guest_now "$h"); done
  sleep 1 # --since is inclusive, to the second
}

# The hosts on which "Apply and verify" ran, in the order Ansible printed them (one task header
# per batch).
apply_order() {
  awk '/^TASK \[Apply and verify\]/ { t = 1; next } /^(TASK|PLAY)/ { t = 0 }
    t && match($0, /^(ok|changed|fatal): \[[a-z]+\]/) { s = substr($0, 1, RLENGTH); sub(/.*\[/, "", s); sub(/\]/, "", s); print s }' \
    <<<"$1" | tr '\n' ' '
}

# ---------------------------------------------------------------------------------------------
# 1. A bump every host takes.

mark_time
run_playbook "$PLAYBOOK" upgrade -e "groundwork_spec=$SPECS/lab-$NEW.yaml"
assert_eq "upgrade to $NEW: ansible-playbook exit code" 0 "$PB_RC"
assert_eq "upgrade to $NEW: the hosts, one at a time, in order" "alpha beta gamma " "$(apply_order "$PB_OUT")"
assert_eq "upgrade to $NEW: one batch per host" 3 "$(grep -c '^TASK \[Apply and verify\]' <<<"$PB_OUT")"
for h in "${HOSTS[@]}"; do
  assert_recap "upgrade to $NEW" "$PB_OUT" "$h" failed 0
  F=$(host_facts "$h" "${SINCE[$h]}")
  assert_eq "$h after the upgrade: k3s --version" "$NEW" "$(kv_get "$F" version)"
  assert_eq "$h after the upgrade: k3s-rootless.service" active "$(kv_get "$F" active)"
  assert_eq "$h: starts of k3s-rootless.service during the upgrade" 1 "$(kv_get "$F" starts)"
  assert_eq "$h after the upgrade: groundwork drift" 0 "$(kv_get "$F" drift)"
done

# ---------------------------------------------------------------------------------------------
# 2. A bump that beta's verify fails: the rollout stops at beta.

mark_time
run_playbook "$PLAYBOOK" broken-upgrade -e "groundwork_spec=$SPECS/lab-$BAD.yaml"
assert_eq "upgrade to $BAD: ansible-playbook exit code (2: failed hosts)" 2 "$PB_RC"
assert_eq "upgrade to $BAD: the hosts that ran it" "alpha beta " "$(apply_order "$PB_OUT")"
assert_recap "upgrade to $BAD" "$PB_OUT" alpha failed 0
assert_recap "upgrade to $BAD" "$PB_OUT" beta failed 1
assert_eq "upgrade to $BAD: gamma is not in the recap (no task ran on it)" "" "$(recap "$PB_OUT" gamma ok)"
FATAL=$(task "$PB_OUT" "Apply and verify" | grep '^fatal: \[beta\]' || true)
vm_log "beta's failure as Ansible printed it: $FATAL"
assert_match "the play names beta as the failed host" "$FATAL" '^fatal: \[beta\]: FAILED!'
assert_contains "beta's message says the unit failed" "$FATAL" "k3s-rootless.service failed"
assert_contains "beta's message carries the release's own fatal line" "$FATAL" \
  "stand-in k3s $BAD is listed in /etc/k3s-standin/broken-versions"
F=$(host_facts alpha "${SINCE[alpha]}")
assert_eq "alpha took $BAD: k3s --version" "$BAD" "$(kv_get "$F" version)"
assert_eq "alpha after $BAD: k3s-rootless.service" active "$(kv_get "$F" active)"
F=$(host_facts beta "${SINCE[beta]}")
assert_eq "beta after the failed upgrade: the binary is $BAD" "$BAD" "$(kv_get "$F" version)"
assert_match "beta after the failed upgrade: k3s-rootless.service" "$(kv_get "$F" active)" '^(failed|activating)$'
F=$(host_facts gamma "${SINCE[gamma]}")
assert_eq "gamma untouched: k3s --version" "$NEW" "$(kv_get "$F" version)"
assert_eq "gamma untouched: its spec still pins" "$NEW" "$(kv_get "$F" spec)"
assert_eq "gamma untouched: starts of k3s-rootless.service" 0 "$(kv_get "$F" starts)"
assert_eq "gamma untouched: k3s-rootless.service" active "$(kv_get "$F" active)"

# ---------------------------------------------------------------------------------------------
# 3. The rollback: the previous version pinned again, for beta alone.

mark_time
run_playbook "$PLAYBOOK" rollback -e "groundwork_spec=$SPECS/lab-$NEW.yaml" --limit beta
assert_eq "rollback of beta: ansible-playbook exit code" 0 "$PB_RC"
assert_eq "rollback of beta: the hosts that ran it" "beta " "$(apply_order "$PB_OUT")"
assert_eq "rollback of beta: Apply and verify" changed "$(task_status "$PB_OUT" "Apply and verify" beta)"
F=$(host_facts beta "${SINCE[beta]}")
assert_eq "beta after the rollback: k3s --version" "$NEW" "$(kv_get "$F" version)"
assert_eq "beta after the rollback: k3s-rootless.service" active "$(kv_get "$F" active)"
assert_eq "beta: starts of k3s-rootless.service during the rollback" 1 "$(kv_get "$F" starts)"
assert_eq "beta after the rollback: groundwork drift" 0 "$(kv_get "$F" drift)"

for h in "${HOSTS[@]}"; do vm_stop "$h"; done
