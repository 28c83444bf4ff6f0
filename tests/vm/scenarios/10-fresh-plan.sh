#!/usr/bin/env bash
# A fresh Debian host with groundwork installed the README's way (`apt install ./groundwork.deb`,
# which brings uidmap with it), as root: `groundwork plan` of the lab spec exits 2 and lists every
# change the host needs (the other packages, account, subids, sysctls, delegation, linger, the k3s
# unit), nothing is blocked, the human and JSON plans agree, and planning changes nothing.
# `groundwork facts` reports what the guest itself says about its kernel, cgroups, systemd,
# packages and release (its own /etc/os-release, which must also name the release the suite
# asked for: GW_VM_RELEASE).
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

require_groundwork plan
DEB=$(vm_deb)

vm_start host
vm_copy host "$DEB" /root/groundwork.deb
vm_copy host "$GW_VM_DIR/specs/lab.yaml" /root/lab.yaml

# Everything is gathered by one guest script (vm_script: a few SSH commands, not one per check)
# and comes back as a tar of evidence files; the assertions run on the host.
EVIDENCE=$(mktemp -d "$GW_VM_RUN/evidence.XXXXXX")
vm_script host <<'GUEST' | tar -x -C "$EVIDENCE"
set -u
mkdir -p /root/ev && cd /root/ev
# The README's install: the package, with its dependency (uidmap) from the host's apt sources.
DEBIAN_FRONTEND=noninteractive apt-get install -y -q /root/groundwork.deb >install.out 2>&1
echo $? >install.rc
command -v groundwork >install.command
stat -c '%U:%G %a' /usr/bin/groundwork /usr/libexec/groundwork/groundwork-helper >install.stat 2>&1
dpkg-query -W -f='${Version}' uidmap >uidmap.version 2>&1
# What a read-only command must not touch.
host_state() {
  id k3s 2>&1
  cat /etc/subuid /etc/subgid
  ls -a /var/lib/systemd/linger /etc/sysctl.d /etc/modules-load.d /etc/systemd/system 2>&1
  dpkg-query -W -f='${Package} ${db:Status-Status}\n' uidmap dbus-user-session slirp4netns fuse-overlayfs 2>&1
  sysctl -n net.ipv4.ip_forward user.max_user_namespaces
}
# run NAME CMD...: output, errors, exit code and seconds of one command.
run() {
  local name=$1 t0
  shift
  t0=$(date +%s.%N)
  "$@" >"$name.out" 2>"$name.err"
  echo $? >"$name.rc"
  awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f\n", b - a }' >"$name.secs"
}
host_state >state.before
run plan groundwork plan /root/lab.yaml
run plan_json groundwork plan /root/lab.yaml --output json
run plan_default groundwork plan
run facts groundwork facts /root/lab.yaml --output json
host_state >state.after
# The guest's own word, independent of groundwork.
stat -fc %T /sys/fs/cgroup >cgroup_fs
cat /sys/fs/cgroup/cgroup.controllers >controllers
uname -r >uname
(. /etc/os-release && echo "$ID $VERSION_ID" >os_release && echo "${VERSION_CODENAME:-}" >os_codename)
systemctl is-system-running >system_state 2>&1
# Ubuntu's kernels carry this AppArmor switch (README, supported hosts); Debian's do not.
if [ -e /proc/sys/kernel/apparmor_restrict_unprivileged_userns ]; then echo present; else echo absent; fi >apparmor_userns
python3 - >json_checks <<'PY'
import json

def load(name):
    try:
        with open(name) as f:
            return json.load(f)
    except Exception as e:  # the assertion on *_valid shows the reason
        print(f"{name}_valid=no: {e}")
        return None

def get(doc, path):
    for key in path.split("."):
        if not isinstance(doc, dict) or key not in doc:
            return "<missing>"
        doc = doc[key]
    return doc

plan = load("plan_json.out")
if plan is not None:
    print("plan_valid=yes")
    items = get(plan, "items")
    items = items if isinstance(items, list) else []
    print(f"plan.format_version={get(plan, 'format_version')}")
    print(f"plan.user={get(plan, 'user')}")
    print("plan.resources=" + " ".join(sorted({str(i.get('resource')) for i in items})))
    print(f"plan.blocked={sum(1 for i in items if i.get('action') == 'blocked')}")
    print(f"plan.changes={sum(1 for i in items if i.get('action') != 'blocked')}")
    print(f"plan.privileged={sum(1 for i in items if i.get('privileged') is True)}")
facts = load("facts.out")
if facts is not None:
    print("facts_valid=yes")
    print(f"facts.cgroup_mode={get(facts, 'host.cgroup_mode')}")
    print(f"facts.systemd_running={get(facts, 'host.systemd_running')}")
    print(f"facts.kernel_release={get(facts, 'host.kernel_release')}")
    ctl = get(facts, "host.root_controllers")
    print("facts.root_controllers=" + " ".join(sorted(ctl if isinstance(ctl, list) else [str(ctl)])))
    print(f"facts.os={get(facts, 'packages.os.id')} {get(facts, 'packages.os.version_id')}")
    inst = get(facts, "packages.installed")
    if isinstance(inst, dict):
        print("facts.installed=" + " ".join(f"{k}:{v}" for k, v in sorted(inst.items())))
    print(f"facts.account_exists={get(facts, 'account.exists')}")
    print(f"facts.linger={get(facts, 'linger.enabled')}")
PY
tar -cf - .
GUEST

ev() { cat "$EVIDENCE/$1"; }
# The value of KEY in the guest's JSON checks.
jv() { sed -n "s/^$1=//p" "$EVIDENCE/json_checks" | head -n 1; }

vm_log "plan took $(ev plan.secs) s, facts $(ev facts.secs) s in the guest"

# The guest is the host we claim to test.
assert_eq "guest release (VERSION_CODENAME in /etc/os-release)" "$GW_VM_RELEASE" "$(ev os_codename)"
assert_eq "guest /sys/fs/cgroup filesystem" cgroup2fs "$(ev cgroup_fs)"
assert_eq "guest systemd state" running "$(ev system_state)"
assert_eq "kernel.apparmor_restrict_unprivileged_userns in the guest's kernel" absent "$(ev apparmor_userns)"

# Installed as the README says.
[[ "$(ev install.rc)" == 0 ]] || vm_log "apt-get install:"$'\n'"$(ev install.out)"
assert_eq "apt-get install ./groundwork.deb exit code" 0 "$(ev install.rc)"
assert_eq "groundwork on root's PATH" /usr/bin/groundwork "$(ev install.command)"
assert_eq "the packaged groundwork and helper: owner, mode" "root:root 755"$'\n'"root:root 755" "$(ev install.stat)"
UIDMAP_VERSION=$(ev uidmap.version)
assert_match "uidmap came with the package (Depends)" "$UIDMAP_VERSION" '^[0-9]'

# The human plan.
PLAN=$(ev plan.out)
assert_eq "plan exit code (changes pending)" 2 "$(ev plan.rc)"
assert_match "plan" "$PLAN" '^ *\+ packages +install .*dbus-user-session'
for pkg in slirp4netns fuse-overlayfs; do
  assert_match "plan" "$PLAN" "^ *\\+ packages +install .*$pkg"
done
# uidmap came with the package: the plan leaves it alone.
assert_no_match "plan" "$PLAN" '^ *\+ packages +install .*uidmap'
assert_match "plan" "$PLAN" '^ *\+ account +create user k3s'
assert_match "plan" "$PLAN" '^ *\+ subids +add subordinate ids [0-9]+-[0-9]+ for k3s'
assert_match "plan" "$PLAN" '^ *~ sysctl +set net\.ipv4\.ip_forward = 1'
assert_match "plan" "$PLAN" '^ *\+ sysctl +write /etc/sysctl\.d/90-groundwork\.conf'
assert_match "plan" "$PLAN" '^ *~ delegation +write /etc/systemd/system/user@\.service\.d/'
assert_contains "plan" "$PLAN" "Delegate=cpu cpuset io memory pids"
assert_match "plan" "$PLAN" '^ *\+ linger +enable lingering for k3s'
assert_match "plan" "$PLAN" '^ *\+ k3s_binary +install k3s v1\.31\.4\+k3s1'
assert_match "plan" "$PLAN" '^ *\+ unit_file +write .*k3s-rootless\.service'
# A real systemd host with cgroup v2 and loadable modules: nothing may be blocked.
# No blocked item, and none counted (the legend names the symbol, so not the bare word).
assert_no_match "plan" "$PLAN" '^  ! '
assert_no_match "plan" "$PLAN" '^Plan: .*blocked'
assert_eq "plan stderr" "" "$(ev plan.err)"

# The JSON plan says the same.
assert_eq "plan --output json exit code" 2 "$(ev plan_json.rc)"
assert_eq "plan JSON parses" yes "$(jv plan_valid)"
assert_eq "plan JSON format_version" 2 "$(jv plan.format_version)"
assert_eq "plan JSON user" k3s "$(jv plan.user)"
assert_eq "plan JSON blocked items" 0 "$(jv plan.blocked)"
for res in packages account subids sysctl delegation linger k3s_binary unit_file unit_state; do
  assert_match "plan JSON resources" " $(jv plan.resources) " " $res "
done
human_changes=$(sed -n 's/^Plan: \([0-9]*\) to change.*/\1/p' <<<"$PLAN")
assert_eq "changes in the human plan = changes in the JSON plan" "$(jv plan.changes)" "$human_changes"

# The embedded default spec, as root, targets the k3s account on this host too.
assert_eq "plan with the embedded default spec: exit code" 2 "$(ev plan_default.rc)"
assert_contains "plan with the embedded default spec" "$(ev plan_default.out)" "for user k3s"

# Planning is read-only.
assert_eq "host state after plan (account, subids, linger, drop-ins, packages, sysctls)" \
  "$(ev state.before)" "$(ev state.after)"

# facts: valid JSON that matches what the guest says itself.
assert_eq "facts exit code" 0 "$(ev facts.rc)"
assert_eq "facts JSON parses" yes "$(jv facts_valid)"
assert_eq "facts: cgroup mode" unified "$(jv facts.cgroup_mode)"
assert_eq "facts: systemd running" True "$(jv facts.systemd_running)"
assert_eq "facts: kernel release = uname -r" "$(ev uname)" "$(jv facts.kernel_release)"
assert_eq "facts: root controllers = /sys/fs/cgroup/cgroup.controllers" \
  "$(tr ' ' '\n' <"$EVIDENCE/controllers" | sort | xargs)" "$(jv facts.root_controllers)"
assert_eq "facts: OS = ID and VERSION_ID of the guest's /etc/os-release" "$(ev os_release)" "$(jv facts.os)"
assert_eq "facts: installed packages (uidmap only, with groundwork: the version dpkg gives)" \
  "dbus-user-session:None fuse-overlayfs:None slirp4netns:None uidmap:$UIDMAP_VERSION" "$(jv facts.installed)"
assert_eq "facts: account k3s exists" False "$(jv facts.account_exists)"
assert_eq "facts: linger" False "$(jv facts.linger)"

vm_stop host
