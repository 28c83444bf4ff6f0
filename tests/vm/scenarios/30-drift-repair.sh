#!/usr/bin/env bash
# Drift on a converged host, made by hand the way it happens in real life: a sysctl reset at
# runtime, the delegation drop-in deleted, a local edit in a managed file, the k3s unit stopped.
# `groundwork drift` exits 2 and names exactly those resources (human, JSON and node_exporter
# textfile); `groundwork apply` repairs them, and drift is 0 again.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

require_groundwork drift --textfile
require_groundwork apply --no-verify

vm_start_applied host

OUT=$(vm_script host <<'GUEST'
set -u
kv() { printf '%s=%s\n' "$1" "$2"; }
spec=/root/lab/lab.yaml
groundwork drift "$spec" >/dev/null 2>&1
kv drift_before "$?"

# The drift.
sysctl -qw net.ipv4.ip_forward=0
rm -f /etc/systemd/system/user@.service.d/delegate.conf
echo 'net.ipv4.ip_forward = 0  # a local edit' >>/etc/sysctl.d/90-groundwork.conf
systemctl --user -M k3s@ stop k3s-rootless.service

groundwork drift "$spec" >/root/drift.txt 2>&1
kv drift_rc "$?"
kv drift_human "$(head -n 1 /root/drift.txt)"
groundwork drift "$spec" --output json >/root/drift.json 2>/dev/null
kv drift_json_rc "$?"
python3 - <<'PY'
import json
d = json.load(open("/root/drift.json"))
print("json_in_sync=%s" % d.get("in_sync"))
print("json_resources=%s" % " ".join(sorted({i["resource"] for i in d.get("items", [])})))
PY
groundwork drift "$spec" --textfile /root/drift.prom >/dev/null 2>&1
kv textfile_rc "$?"
kv metrics_drift "$(grep '^groundwork_drift{' /root/drift.prom | awk '$2 == 1' | sed 's/.*resource="\([^"]*\)".*/\1/' | sort | xargs)"
kv metrics_clean "$(grep -c '^groundwork_drift{.*} 0$' /root/drift.prom)"

groundwork apply --yes --no-verify "$spec" >/root/repair.txt 2>&1
kv repair_rc "$?"
kv ip_forward "$(sysctl -n net.ipv4.ip_forward)"
kv local_edit "$(grep -c 'a local edit' /etc/sysctl.d/90-groundwork.conf)"
kv dropin "$(grep -h '^Delegate=' /etc/systemd/system/user@.service.d/delegate.conf 2>/dev/null)"
kv unit_active "$(systemctl --user -M k3s@ is-active k3s-rootless.service 2>&1)"
groundwork drift "$spec" >/dev/null 2>&1
kv drift_after "$?"
GUEST
)
kv() { kv_get "$OUT" "$1"; }

DRIFTED="delegation sysctl unit_state"
assert_eq "drift on the converged host" 0 "$(kv drift_before)"
assert_eq "drift exit code after the changes" 2 "$(kv drift_rc)"
assert_match "drift (human)" "$(kv drift_human)" '^drift in [0-9]+ resource'
for r in $DRIFTED; do
  assert_contains "drift (human)" "$(kv drift_human)" "$r"
done
assert_eq "drift --output json exit code" 2 "$(kv drift_json_rc)"
assert_eq "drift JSON in_sync" False "$(kv json_in_sync)"
assert_eq "drift JSON resources" "$DRIFTED" "$(kv json_resources)"
assert_eq "drift --textfile exit code" 2 "$(kv textfile_rc)"
assert_eq "groundwork_drift series at 1" "$DRIFTED" "$(kv metrics_drift)"
(($(kv metrics_clean) >= 5)) || fail "only $(kv metrics_clean) resources report groundwork_drift 0"
ok "the other resources report groundwork_drift 0"

assert_eq "apply (repair) exit code" 0 "$(kv repair_rc)"
assert_eq "net.ipv4.ip_forward after repair" 1 "$(kv ip_forward)"
assert_eq "local edits left in 90-groundwork.conf" 0 "$(kv local_edit)"
assert_eq "delegation drop-in after repair" "Delegate=cpu cpuset io memory pids" "$(kv dropin)"
assert_eq "k3s-rootless.service after repair" active "$(kv unit_active)"
assert_eq "drift after repair" 0 "$(kv drift_after)"

vm_stop host
