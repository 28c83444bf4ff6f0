#!/usr/bin/env bash
# The scheduled drift check of the README, on a converged host where groundwork's package is
# installed: the package's groundwork-drift.{service,timer} (from examples/systemd, running
# /usr/bin/groundwork), enabled as the README says. The timer is enabled with a next elapse;
# the service runs as the spec's user (k3s) in a sandbox (never root), and, started
# twice, writes and then rewrites the node_exporter textfile (the check timestamp grows); after a
# sysctl file is removed, groundwork_drift{resource="sysctl"} is 1. The textfile passes
# `promtool check metrics` on the host, `systemd-analyze security` rates the unit's exposure
# (recorded in the README), and the README's cron line (flock, same user) runs.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

require_groundwork drift --textfile

vm_start_applied host
vm_install_drift_units host
grep -m1 '^\*/15 \* \* \* \* k3s flock' "$GW_REPO/README.md" | vm_ssh host 'cat >/root/cron.line'

OUT=$(vm_script host <<'GUEST'
set -u
kv() { printf '%s=%s\n' "$1" "$2"; }
prom=/var/lib/node_exporter/textfile_collector/groundwork.prom
real=/var/lib/groundwork-drift/groundwork.prom
ts() { sed -n 's/^groundwork_last_check_timestamp_seconds //p' "$prom"; }
systemctl daemon-reload && systemctl enable --now groundwork-drift.timer >/dev/null 2>&1
# Resolved: Debian 12's systemd names them by /lib, the merged /usr's link.
kv fragments "$(systemctl show -P FragmentPath groundwork-drift.service groundwork-drift.timer | xargs realpath | xargs)"
kv exec_start "$(systemctl show -P ExecStart groundwork-drift.service | sed -n 's/^{ path=\([^ ;]*\) .*/\1/p')"
kv timer_enabled "$(systemctl is-enabled groundwork-drift.timer)"
kv timer_active "$(systemctl is-active groundwork-drift.timer)"
kv next_elapse "$(systemctl show -P NextElapseUSecRealtime groundwork-drift.timer)"
systemctl start groundwork-drift.service
kv first_result "$(systemctl show -P Result groundwork-drift.service)"
kv prom_owner "$(stat -c %U "$real")"
kv exposure "$(systemd-analyze security groundwork-drift.service 2>/dev/null | tail -n 1)"
systemd-analyze security groundwork-drift.service >/root/security.txt 2>&1
kv first_ts "$(ts)"
sleep 2
systemctl start groundwork-drift.service
kv second_ts "$(ts)"
kv drift_clean "$(grep -c '^groundwork_drift{.*} 1$' "$prom")"
rm -f /etc/sysctl.d/90-groundwork.conf
systemctl start groundwork-drift.service
kv broken_result "$(systemctl show -P Result groundwork-drift.service)"
kv sysctl_drift "$(grep '^groundwork_drift{resource="sysctl"}' "$prom")"
# The README's cron line, its command run once.
rm -f "$real"
runuser -u k3s -- env PATH=/usr/local/bin:/usr/bin:/bin sh -c "$(sed 's/^\*\/15 \* \* \* \* k3s //' /root/cron.line)"
kv cron_rc "$?"
kv cron_prom "$(grep -c '^groundwork_drift{' "$prom")"
GUEST
)
kv() { kv_get "$OUT" "$1"; }
assert_eq "the units are the package's" \
  "/usr/lib/systemd/system/groundwork-drift.service /usr/lib/systemd/system/groundwork-drift.timer" "$(kv fragments)"
assert_eq "the service runs the package's groundwork" /usr/bin/groundwork "$(kv exec_start)"
assert_eq "timer enabled" enabled "$(kv timer_enabled)"
assert_eq "timer active" active "$(kv timer_active)"
assert_match "timer next elapse" "$(kv next_elapse)" '[0-9]'
assert_eq "first run result" success "$(kv first_result)"
assert_eq "the textfile belongs to the spec's user, not root" k3s "$(kv prom_owner)"
assert_match "systemd-analyze security rates the sandbox" "$(kv exposure)" 'Overall exposure level for groundwork-drift.service: [0-2]\.[0-9] (SAFE|OK)'
vm_ssh host 'cat /root/security.txt' >"$GW_ARTIFACTS/systemd-analyze-security.txt" 2>/dev/null || true
assert_match "first check timestamp" "$(kv first_ts)" '^[0-9]'
(( $(kv second_ts | cut -d. -f1) > $(kv first_ts | cut -d. -f1) )) ||
  fail "the second firing did not update the timestamp: $(kv first_ts) -> $(kv second_ts)"
ok "check timestamp grows: $(kv first_ts) -> $(kv second_ts)"
assert_eq "no drift on the converged host" 0 "$(kv drift_clean)"
assert_eq "a drift run is a successful check" success "$(kv broken_result)"
assert_eq "sysctl drift metric" 'groundwork_drift{resource="sysctl"} 1' "$(kv sysctl_drift)"
assert_eq "the cron line's command (drift found)" 2 "$(kv cron_rc)"
assert_match "the cron line wrote metrics" "$(kv cron_prom)" '^[1-9]'

PROM=$(mktemp)
vm_fetch host /var/lib/groundwork-drift/groundwork.prom "$PROM"
if command -v promtool >/dev/null; then
  LINT=$(promtool check metrics <"$PROM" 2>&1) || fail "promtool check metrics:"$'\n'"$LINT"
  ok "promtool check metrics: clean"
else
  vm_log "promtool absent (Debian package prometheus): textfile not linted"
fi
rm -f "$PROM"
vm_stop host
