#!/usr/bin/env bash
# The README's fleet example with a real ansible-core (from PyPI, on the host) driving two fresh
# Debian 12 VMs over SSH on 127.0.0.1: examples/ansible/site.yml, run verbatim with an inventory
# that sets only connection and per-host variables, copies and installs the Debian package
# (packaging/build.sh deb), installs the sudoers rule and the spec, and converges each host
# through the groundwork module (examples/ansible/library/groundwork). What it proves:
#   - the first run reports changed on both hosts, and the guests' own tools (dpkg, sysctl,
#     /etc/subuid, the k3s user manager, sudo -l) show the converged host and the package's
#     binaries in their places;
#   - a second run reports changed=0 on both;
#   - after a drift made by hand on one host, `--check --diff` shows that resource's before/after
#     for that host only and changes nothing (the guest still has the drift);
#   - with apt broken on the second host, that host alone fails (failed=1), the first converges
#     (failed=0) and ansible-playbook exits non-zero (2, "failed hosts").
# ansible-core is cached in /var/tmp/groundwork-vm/ansible-venv-VERSION; without PyPI (and no
# cache) the scenario is SKIPPED, loudly.
# Four playbook runs of about 170 s each, Python in two emulated guests: 600-900 s under TCG.
# suite-timeout: 1500
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=ansible.sh
source "$GW_VM_DIR/ansible.sh"

require_groundwork ansible-module
DEB=$(vm_deb)

PLAYBOOK=$GW_REPO/examples/ansible/site.yml

ensure_ansible
ok "ansible-core: $("$ANSIBLE_VENV/bin/ansible-playbook" --version | head -n 1)"

# ---------------------------------------------------------------------------------------------
# Two fresh hosts. The k3s stand-in release is served on each guest's loopback, as the lab spec
# expects; the lab's copy of the package is removed: groundwork must arrive through the playbook.

HOSTS=(alpha beta)
for h in "${HOSTS[@]}"; do
  vm_start "$h"
  vm_install_lab "$h"
  vm_ssh "$h" 'rm -rf /root/lab/groundwork.deb /root/lab/provision.sh'
done

ansible_inventory "groundwork_deb=$DEB
groundwork_spec=$GW_VM_DIR/specs/lab.yaml" "${HOSTS[@]}"

# The guest's own view, as KEY=VALUE lines.
guest_facts() {
  vm_ssh "$1" bash -s <<'GUEST'
set -u
kv() { printf '%s=%s\n' "$1" "$2"; }
kv package "$(dpkg-query -W -f='${db:Status-Status}' groundwork 2>/dev/null)"
kv groundwork_sha "$(sha256sum /usr/bin/groundwork 2>/dev/null | cut -d' ' -f1)"
kv helper_sha "$(sha256sum /usr/libexec/groundwork/groundwork-helper 2>/dev/null | cut -d' ' -f1)"
kv helper_mode "$(stat -c '%U:%G %a' /usr/libexec/groundwork/groundwork-helper 2>&1)"
kv spec_sha "$(sha256sum /etc/groundwork/spec.yaml 2>/dev/null | cut -d' ' -f1)"
kv sudoers "$(cat /etc/sudoers.d/groundwork 2>/dev/null)"
kv sudoers_mode "$(stat -c '%U:%G %a' /etc/sudoers.d/groundwork 2>&1)"
kv visudo "$(visudo -cq >/dev/null 2>&1 && echo ok || echo bad)"
kv sudo_list "$(sudo -l -U k3s 2>/dev/null | grep -c 'NOPASSWD: /usr/libexec/groundwork/groundwork-helper$')"
kv ip_forward "$(sysctl -n net.ipv4.ip_forward)"
kv subuid "$(grep '^k3s:' /etc/subuid | tr '\n' ' ')"
kv unit_active "$(systemctl --user -M k3s@ is-active k3s-rootless.service 2>&1)"
kv pkg_fuse_overlayfs "$([ "$(dpkg-query -W -f='${db:Status-Status}' fuse-overlayfs 2>/dev/null)" = installed ] && echo installed || echo missing)"
if [ -x /usr/bin/groundwork ]; then
  groundwork drift /etc/groundwork/spec.yaml >/dev/null 2>&1
  kv drift "$?"
else
  kv drift none
fi
GUEST
}

# The binaries as the package holds them.
PKG_TREE="$GW_VM_RUN/package-tree"
mkdir -p "$PKG_TREE"
dpkg-deb -x "$DEB" "$PKG_TREE"
GW_SHA=$(sha256sum "$PKG_TREE/usr/bin/groundwork" | cut -d' ' -f1)
HELPER_SHA=$(sha256sum "$PKG_TREE/usr/libexec/groundwork/groundwork-helper" | cut -d' ' -f1)
SPEC_SHA=$(sha256sum "$GW_VM_DIR/specs/lab.yaml" | cut -d' ' -f1)

for h in "${HOSTS[@]}"; do
  F=$(guest_facts "$h")
  assert_eq "$h before the playbook: no groundwork package" "" "$(kv_get "$F" package)"
  assert_eq "$h before the playbook: no /usr/bin/groundwork" "" "$(kv_get "$F" groundwork_sha)"
  assert_eq "$h before the playbook: no helper" "" "$(kv_get "$F" helper_sha)"
  assert_eq "$h before the playbook: no k3s subuid" "" "$(kv_get "$F" subuid)"
done

# ---------------------------------------------------------------------------------------------
# 1. The first run converges both hosts.

run_playbook "$PLAYBOOK" first
assert_eq "first run: ansible-playbook exit code" 0 "$PB_RC"
for h in "${HOSTS[@]}"; do
  assert_recap "first run" "$PB_OUT" "$h" failed 0
  assert_recap "first run" "$PB_OUT" "$h" unreachable 0
  # The directories (one task), the package's copy and its install, the sudoers rule, the spec
  # and the converge.
  assert_recap "first run" "$PB_OUT" "$h" changed 6
  assert_eq "first run: Converge the host on $h" changed "$(task_status "$PB_OUT" "Converge the host" "$h")"
  F=$(guest_facts "$h")
  assert_eq "$h: the groundwork package is installed" installed "$(kv_get "$F" package)"
  assert_eq "$h: /usr/bin/groundwork is the package's" "$GW_SHA" "$(kv_get "$F" groundwork_sha)"
  assert_eq "$h: the helper is the package's" "$HELPER_SHA" "$(kv_get "$F" helper_sha)"
  assert_eq "$h: helper owner and mode" "root:root 755" "$(kv_get "$F" helper_mode)"
  assert_eq "$h: /etc/groundwork/spec.yaml is the lab spec" "$SPEC_SHA" "$(kv_get "$F" spec_sha)"
  assert_eq "$h: sudoers rule" "k3s ALL=(root) NOPASSWD: /usr/libexec/groundwork/groundwork-helper" "$(kv_get "$F" sudoers)"
  assert_eq "$h: sudoers rule owner and mode" "root:root 440" "$(kv_get "$F" sudoers_mode)"
  assert_eq "$h: visudo -c" ok "$(kv_get "$F" visudo)"
  assert_eq "$h: sudo -l -U k3s grants exactly the helper" 1 "$(kv_get "$F" sudo_list)"
  assert_eq "$h: sysctl net.ipv4.ip_forward" 1 "$(kv_get "$F" ip_forward)"
  assert_match "$h: /etc/subuid" "$(kv_get "$F" subuid)" '^k3s:[0-9]+:65536 $'
  assert_eq "$h: systemctl --user -M k3s@ is-active k3s-rootless.service" active "$(kv_get "$F" unit_active)"
  assert_eq "$h: groundwork drift after the playbook" 0 "$(kv_get "$F" drift)"
done

# ---------------------------------------------------------------------------------------------
# 2. A second run changes nothing.

run_playbook "$PLAYBOOK" second
assert_eq "second run: ansible-playbook exit code" 0 "$PB_RC"
for h in "${HOSTS[@]}"; do
  assert_recap "second run" "$PB_OUT" "$h" changed 0
  assert_recap "second run" "$PB_OUT" "$h" failed 0
  assert_eq "second run: Converge the host on $h" ok "$(task_status "$PB_OUT" "Converge the host" "$h")"
done

# ---------------------------------------------------------------------------------------------
# 3. Drift on alpha by hand; --check --diff shows it for alpha alone and changes nothing.

vm_ssh alpha 'sysctl -qw net.ipv4.ip_forward=0'
run_playbook "$PLAYBOOK" check --check --diff
assert_eq "check run: ansible-playbook exit code" 0 "$PB_RC"
CONVERGE=$(task "$PB_OUT" "Converge the host")
assert_eq "check run: Converge the host on alpha (would change)" changed "$(task_status "$PB_OUT" "Converge the host" alpha)"
assert_eq "check run: Converge the host on beta" ok "$(task_status "$PB_OUT" "Converge the host" beta)"
assert_recap "check run" "$PB_OUT" alpha changed 1
assert_recap "check run" "$PB_OUT" beta changed 0
assert_match "check run: the diff's header names the sysctl resource" "$CONVERGE" '^--- before: .*net\.ipv4\.ip_forward.*\(sysctl\)'
assert_match "check run: the diff's before (0)" "$CONVERGE" '^-.*\b0$'
assert_match "check run: the diff's after (1)" "$CONVERGE" '^\+.*\b1$'
assert_eq "check run: one resource diff, alpha's" 1 "$(grep -c '^--- before' <<<"$CONVERGE")"
F=$(guest_facts alpha)
assert_eq "alpha after --check: still drifted (sysctl net.ipv4.ip_forward)" 0 "$(kv_get "$F" ip_forward)"
assert_eq "alpha after --check: groundwork drift still finds it" 2 "$(kv_get "$F" drift)"

# ---------------------------------------------------------------------------------------------
# 4. apt broken on beta: beta fails alone, alpha converges.

vm_ssh beta 'set -e; dpkg -r fuse-overlayfs >/dev/null; mv /opt/localrepo /opt/localrepo.gone'
run_playbook "$PLAYBOOK" broken
assert_eq "broken run: ansible-playbook exit code (2: failed hosts)" 2 "$PB_RC"
assert_recap "broken run" "$PB_OUT" beta failed 1
assert_recap "broken run" "$PB_OUT" alpha failed 0
assert_recap "broken run" "$PB_OUT" alpha unreachable 0
assert_recap "broken run" "$PB_OUT" alpha changed 1
assert_eq "broken run: Converge the host on alpha" changed "$(task_status "$PB_OUT" "Converge the host" alpha)"
assert_eq "broken run: Converge the host on beta" fatal "$(task_status "$PB_OUT" "Converge the host" beta)"
assert_match "broken run: beta's message names the failed package step" \
  "$(task "$PB_OUT" "Converge the host")" '^fatal: \[beta\].*fuse-overlayfs'
F=$(guest_facts alpha)
assert_eq "alpha after the broken run: sysctl net.ipv4.ip_forward repaired" 1 "$(kv_get "$F" ip_forward)"
assert_eq "alpha after the broken run: groundwork drift" 0 "$(kv_get "$F" drift)"
F=$(guest_facts beta)
assert_eq "beta after the broken run: fuse-overlayfs still missing" missing "$(kv_get "$F" pkg_fuse_overlayfs)"
assert_eq "beta after the broken run: groundwork drift" 2 "$(kv_get "$F" drift)"

for h in "${HOSTS[@]}"; do vm_stop "$h"; done
