#!/usr/bin/env bash
# The Vagrant lab boots: the repository's own Vagrantfile, `vagrant up debian12` with
# vagrant-libvirt, on a box built from the suite's Debian 12 image (the local-box override users
# have: GW_BOX and the boot settings in the environment). The Vagrantfile's own provisioner
# (tests/vm/provision.sh) installs the suite's Debian package (GW_DEB: groundwork in /usr/bin,
# the helper root's in /usr/libexec/groundwork, nothing in /usr/local) and converges the guest; a
# second `vagrant provision` (the package installed again) changes nothing; `groundwork
# verify --skip-cluster` passes inside; after `vagrant halt` and `vagrant up` the plan is still
# empty; `vagrant package` makes the lab box that 66-vagrant-box boots; `vagrant destroy -f`.
# Everything runs in a network namespace of its own (tests/vm/vagrant-lab.sh), and the machine's
# own network is checked to be unchanged. About 6 minutes, 2 of them the two boots under emulation.
# suite-timeout: 1500 (two boots, provisioning twice, a halt and the packaging, under emulation)
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# shellcheck source=vagrant-lab.sh
source "$(dirname "${BASH_SOURCE[0]}")/../vagrant-lab.sh"

require_groundwork apply --no-verify
lab_require
[[ "$GW_VM_RELEASE" == bookworm ]] || lab_skip "the Vagrantfile's lab machine is Debian 12; this run is $GW_VM_RELEASE"
# The package of this run's binaries, as the Vagrantfile's user names one.
GW_DEB=$(vm_deb)
export GW_DEB

NET_BEFORE=$(lab_host_network)
vm__resolve_image
lab_start
lab_build_box "$LAB_DIR/base.box"
lab_vagrant box add --name "$LAB_BASE_BOX" "$LAB_DIR/base.box" >/dev/null || fail "vagrant box add failed"
rm -f "$LAB_DIR/base.box"
# The override, as a user supplies it; the lab spec fetches k3s from the box's release mirror.
export GW_BOX=$LAB_BASE_BOX GW_SPEC=tests/vm/specs/lab.yaml

# The converged lab's state, from the guest's own tools: one SSH round trip.
lab_facts() {
  lab_guest <<'GUEST'
set -u
kv() { printf '%s=%s\n' "$1" "$2"; }
. /etc/os-release
kv codename "$VERSION_CODENAME"
kv hostname "$(hostname)"
kv boot_id "$(cat /proc/sys/kernel/random/boot_id)"
kv address "$(ip -4 -o addr show scope global | awk '{print $4}' | xargs)"
kv system_spec "$(stat -c '%U:%G %a' /etc/groundwork/spec.yaml 2>&1)"
kv gw_package "$(dpkg-query -W -f='${db:Status-Status}' groundwork 2>&1)"
kv gw_command "$(command -v groundwork)"
kv gw_files "$(stat -c '%n %U:%G %a' /usr/bin/groundwork /usr/libexec/groundwork/groundwork-helper 2>&1 | xargs)"
kv gw_sha "$(sha256sum /usr/bin/groundwork /usr/libexec/groundwork/groundwork-helper 2>&1 | cut -d' ' -f1 | xargs)"
kv source_install "$(ls /usr/local/bin/groundwork /usr/local/libexec/groundwork-helper 2>/dev/null | wc -l)"
for _ in $(seq 60); do
  [[ "$(systemctl --user -M k3s@ is-active k3s-rootless.service 2>/dev/null)" == active ]] && break
  sleep 1
done
kv unit "$(systemctl --user -M k3s@ is-active k3s-rootless.service 2>&1)"
kv unit_pid "$(systemctl --user -M k3s@ show -p MainPID --value k3s-rootless.service 2>&1)"
kv managed "$(stat -c '%n %i %Y' /etc/subuid /etc/subgid /etc/sysctl.d/90-groundwork.conf \
  /etc/modules-load.d/groundwork.conf /etc/systemd/system/user@.service.d/delegate.conf \
  /usr/local/bin/k3s /var/lib/systemd/linger/k3s /home/k3s/.config/systemd/user/k3s-rootless.service 2>&1 | xargs)"
# No SPEC: the system spec that provision.sh installed.
groundwork plan >/root/plan.txt 2>&1
kv plan "$?"
kv plan_head "$(head -n 1 /root/plan.txt)"
groundwork verify --skip-cluster >/root/verify.txt 2>&1
kv verify "$?"
kv verify_text "$(grep -c '^ *PASS' /root/verify.txt) PASS, $(grep -c '^ *FAIL' /root/verify.txt) FAIL"
echo "---- groundwork verify --skip-cluster"
cat /root/verify.txt
GUEST
}

t0=$SECONDS
rc=0
UP=$(lab_vagrant up "$LAB_MACHINE") || rc=$?
UP_SECONDS=$((SECONDS - t0))
assert_eq "vagrant up (boot and provisioning) exit code" 0 "$rc"
assert_contains "vagrant up ran the Vagrantfile's provisioner" "$UP" "Running provisioner: groundwork (shell)"
assert_contains "provision.sh installed the package" "$UP" "==== provision: installed the package groundwork "
assert_contains "provision.sh installed the lab spec as the system spec" "$UP" \
  "==== provision: installed the spec as /etc/groundwork/spec.yaml"
assert_contains "provisioning: groundwork apply converged" "$UP" "==== provision: groundwork apply exited 0"
assert_contains "provisioning: apply ends with verify, the stand-in's cluster answering" "$UP" "PASS nodes Ready"
assert_contains "provisioning: groundwork verify passed" "$UP" "==== provision: groundwork verify exited 0"

# The lab's network exists in its namespace, and only there.
assert_match "vagrant-libvirt's network, inside the lab namespace" "$(ip -n "$LAB_NS" -o -4 addr show)" \
  'inet 192\.168\.121\.1/24'
assert_contains "libvirt networks while the lab runs" "$(lab_virsh net-list --name)" vagrant-libvirt
assert_not_contains "the machine's own addresses" "$(ip -o -4 addr show)" "192.168.121."

FACTS=$(lab_facts) || fail "the lab's guest could not be read over vagrant ssh"
printf '%s\n' "$FACTS" | sed -n '/^---- groundwork verify/,$p'
kv() { kv_get "$FACTS" "$1"; }
assert_eq "the lab guest is Debian 12" bookworm "$(kv codename)"
assert_eq "the Vagrantfile's host name" gw-debian12 "$(kv hostname)"
assert_match "the guest's address, from libvirt's DHCP in the namespace" "$(kv address)" '^192\.168\.121\.'
assert_eq "/etc/groundwork/spec.yaml owner and mode" "root:root 644" "$(kv system_spec)"
assert_eq "the groundwork package" installed "$(kv gw_package)"
assert_eq "groundwork on root's PATH" /usr/bin/groundwork "$(kv gw_command)"
assert_eq "the packaged groundwork and helper: owner, mode" \
  "/usr/bin/groundwork root:root 755 /usr/libexec/groundwork/groundwork-helper root:root 755" "$(kv gw_files)"
assert_eq "the lab runs this run's binaries" \
  "$(sha256sum "$GW_BIN_DIR/groundwork" "$GW_BIN_DIR/groundwork-helper" | cut -d' ' -f1 | xargs)" "$(kv gw_sha)"
assert_eq "no groundwork from source in /usr/local" 0 "$(kv source_install)"
assert_eq "the k3s unit after provisioning" active "$(kv unit)"
assert_eq "groundwork plan after provisioning (in sync)" 0 "$(kv plan)"
assert_contains "plan uses the system spec" "$(kv plan_head)" "from /etc/groundwork/spec.yaml"
assert_eq "groundwork verify --skip-cluster" 0 "$(kv verify)"
assert_match "verify's smoke test" "$(kv verify_text)" '^[1-9][0-9]* PASS, 0 FAIL$'
MANAGED=$(kv managed)
UNIT_PID=$(kv unit_pid)
BOOT_ID=$(kv boot_id)
assert_not_contains "every managed file exists" "$MANAGED" "No such file"

# `vagrant provision` again: the package and spec are uploaded anew, the package installed again,
# and groundwork changes nothing: no managed file written, the unit not restarted.
sleep 1.1
rc=0
PROV=$(lab_vagrant provision "$LAB_MACHINE") || rc=$?
assert_eq "second vagrant provision exit code" 0 "$rc"
assert_contains "second provisioning: the package installed again" "$PROV" "==== provision: installed the package groundwork "
assert_contains "second provisioning: groundwork apply" "$PROV" "==== provision: groundwork apply exited 0"
assert_contains "second provisioning: apply found the host in sync" "$PROV" "Nothing to do"
assert_contains "second provisioning: groundwork verify" "$PROV" "==== provision: groundwork verify exited 0"
FACTS=$(lab_facts) || fail "the lab's guest could not be read over vagrant ssh"
assert_eq "second provisioning wrote no managed file (inode and mtime kept)" "$MANAGED" "$(kv managed)"
assert_eq "second provisioning did not restart the k3s unit (MainPID kept)" "$UNIT_PID" "$(kv unit_pid)"
assert_eq "groundwork plan after the second provisioning" 0 "$(kv plan)"

# Halt and boot again: no provisioning on this `up`, and the plan is still empty.
lab_vagrant halt "$LAB_MACHINE" >/dev/null || fail "vagrant halt failed"
assert_eq "the domain after vagrant halt" "shut off" "$(lab_virsh domstate "$(lab_virsh list --all --name | head -n 1)")"
rc=0
UP2=$(lab_vagrant up "$LAB_MACHINE") || rc=$?
assert_eq "vagrant up after halt exit code" 0 "$rc"
assert_not_contains "vagrant up after halt does not provision" "$UP2" "==== provision:"
FACTS=$(lab_facts) || fail "the lab's guest could not be read over vagrant ssh"
assert_eq "groundwork plan after halt and up (in sync)" 0 "$(kv plan)"
assert_eq "the k3s unit after halt and up (linger started it)" active "$(kv unit)"
assert_eq "groundwork verify --skip-cluster after halt and up" 0 "$(kv verify)"
[[ "$(kv boot_id)" != "$BOOT_ID" && -n "$(kv boot_id)" ]] || fail "the guest did not boot again (boot id $BOOT_ID)"
ok "the guest booted again (a new boot id)"

lab_package_for_next_scenario

rc=0
lab_vagrant destroy -f "$LAB_MACHINE" >/dev/null || rc=$?
assert_eq "vagrant destroy -f exit code" 0 "$rc"
assert_eq "libvirt domains after destroy" "" "$(lab_virsh list --all --name | xargs)"
assert_not_contains "libvirt networks after destroy" "$(lab_virsh net-list --all --name)" vagrant-libvirt
lab_remove_box "$LAB_BASE_BOX"
lab_stop
assert_eq "the machine's own network after the scenario (addresses, links, routes, iptables, forwarding)" \
  "$NET_BEFORE" "$(lab_host_network)"
vm_log "vagrant up with provisioning took $UP_SECONDS s"
