#!/usr/bin/env bash
# A lab box to share: `vagrant package` of a converged lab machine gives a box with groundwork's
# spec already applied. Added with `vagrant box add` and booted with `GW_BOX=...` (no
# provisioning), `groundwork drift` inside reports no drift, against the system spec the box
# carries. The box is the one 65-vagrant-lab packaged in this suite run; run alone, this scenario
# boots, provisions and packages its own first (about 3 minutes more).
# suite-timeout: 1500 (run alone: two boots, the provisioning and the packaging, under emulation)
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=vagrant-lab.sh
source "$(dirname "${BASH_SOURCE[0]}")/../vagrant-lab.sh"

require_groundwork drift
lab_require
[[ "$GW_VM_RELEASE" == bookworm ]] || lab_skip "the Vagrantfile's lab machine is Debian 12; this run is $GW_VM_RELEASE"
# The package of this run's binaries, for the Vagrantfile (it needs one for any `up`).
GW_DEB=$(vm_deb)
export GW_DEB

LAB_BOX=groundwork-lab
NET_BEFORE=$(lab_host_network)
vm__resolve_image
lab_start
lab_box_settings

BOX_FILE=$(lab_shared_box)
if [[ -n "${GW_VM_SUITE_DIR:-}" && -f "$BOX_FILE" ]]; then
  vm_log "the lab box that 65-vagrant-lab packaged: $BOX_FILE"
else
  vm_log "no lab box from 65-vagrant-lab in this run: converging and packaging one here"
  lab_build_box "$LAB_DIR/base.box"
  lab_vagrant box add --name "$LAB_BASE_BOX" "$LAB_DIR/base.box" >/dev/null || fail "vagrant box add failed"
  rm -f "$LAB_DIR/base.box"
  rc=0
  UP=$(GW_BOX=$LAB_BASE_BOX GW_SPEC=tests/vm/specs/lab.yaml lab_vagrant up "$LAB_MACHINE") || rc=$?
  assert_eq "vagrant up of the lab to package" 0 "$rc"
  assert_contains "provisioning: groundwork apply converged" "$UP" "==== provision: groundwork apply exited 0"
  BOX_FILE=$LAB_DIR/lab-applied.box
  lab_package "$BOX_FILE"
  lab_vagrant destroy -f "$LAB_MACHINE" >/dev/null || fail "vagrant destroy of the packaged lab failed"
  lab_remove_box "$LAB_BASE_BOX"
fi

# As a user receives it: add the box under a name, point GW_BOX at it, boot without provisioning.
lab_vagrant box add --name "$LAB_BOX" "$BOX_FILE" >/dev/null || fail "vagrant box add of the lab box failed"
rc=0
UP=$(GW_BOX=$LAB_BOX lab_vagrant up --no-provision "$LAB_MACHINE") || rc=$?
assert_eq "vagrant up --no-provision of the lab box" 0 "$rc"
assert_not_contains "nothing provisioned the machine" "$UP" "==== provision:"

OUT=$(GW_BOX=$LAB_BOX lab_guest <<'GUEST'
set -u
kv() { printf '%s=%s\n' "$1" "$2"; }
for _ in $(seq 60); do
  [[ "$(systemctl --user -M k3s@ is-active k3s-rootless.service 2>/dev/null)" == active ]] && break
  sleep 1
done
kv uptime_s "$(cut -d' ' -f1 /proc/uptime)"
kv unit "$(systemctl --user -M k3s@ is-active k3s-rootless.service 2>&1)"
kv subuid "$(grep -c '^k3s:' /etc/subuid)"
kv ip_forward "$(sysctl -n net.ipv4.ip_forward)"
kv spec_sha256 "$(sha256sum </etc/groundwork/spec.yaml | cut -d' ' -f1)"
kv gw_package "$(dpkg-query -W -f='${db:Status-Status}' groundwork 2>&1)"
kv gw_command "$(command -v groundwork)"
# No SPEC: the system spec the box carries.
groundwork drift >/root/drift.txt 2>&1
kv drift "$?"
kv drift_text "$(tr '\n' ' ' </root/drift.txt)"
groundwork drift --output json >/root/drift.json 2>&1
kv drift_json "$(python3 -c 'import json; d = json.load(open("/root/drift.json")); print(d.get("spec"), d.get("user"), d.get("in_sync"))' 2>&1)"
GUEST
) || fail "the lab box's guest could not be read over vagrant ssh"
kv() { kv_get "$OUT" "$1"; }
vm_log "the guest was up $(kv uptime_s) s when checked"
assert_eq "the k3s unit in the booted lab box (linger started it)" active "$(kv unit)"
assert_eq "the k3s account's subordinate range in the box" 1 "$(kv subuid)"
assert_eq "net.ipv4.ip_forward in the box (from groundwork's sysctl file)" 1 "$(kv ip_forward)"
assert_eq "the box's system spec is the lab spec it was provisioned with" \
  "$(sha256sum <"$GW_VM_DIR/specs/lab.yaml" | cut -d' ' -f1)" "$(kv spec_sha256)"
assert_eq "the box carries groundwork's package" installed "$(kv gw_package)"
assert_eq "groundwork on root's PATH in the box" /usr/bin/groundwork "$(kv gw_command)"
assert_eq "groundwork drift in the lab box (no drift)" 0 "$(kv drift)"
assert_match "drift's report" "$(kv drift_text)" '^in sync'
assert_eq "drift's JSON: the system spec, the k3s user, in sync" "/etc/groundwork/spec.yaml k3s True" "$(kv drift_json)"

rc=0
GW_BOX=$LAB_BOX lab_vagrant destroy -f "$LAB_MACHINE" >/dev/null || rc=$?
assert_eq "vagrant destroy -f exit code" 0 "$rc"
assert_eq "libvirt domains after destroy" "" "$(lab_virsh list --all --name | xargs)"
lab_remove_box "$LAB_BOX"
lab_stop
assert_eq "the machine's own network after the scenario (addresses, links, routes, iptables, forwarding)" \
  "$NET_BEFORE" "$(lab_host_network)"
