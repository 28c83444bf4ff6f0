#!/usr/bin/env bash
# The drift timer firing on its own: the package's groundwork-drift.{service,timer} (made from
# examples/systemd, running /usr/bin/groundwork), as shipped, on a converged host where the
# package is installed, plus a test-only drop-in that shortens the schedule to every 20 s.
# Nothing starts the service by hand: the scenario only waits, and sees the node_exporter
# textfile's groundwork_last_check_timestamp_seconds written and then advance at least twice, about
# one schedule period apart; the service's journal has a start for each of those runs, all after
# the timer was enabled, and the timer's last trigger is the service's last start.
#
# Why a drop-in: the shipped timer fires every 15 minutes, spread by RandomizedDelaySec=5min, too
# slow to watch. The drop-in overrides only the schedule (OnCalendar reset, then every 20 s;
# no random delay; AccuracySec=1s, since the default of one minute lets systemd coalesce the
# elapses), the way an admin would with `systemctl edit`, so that the unit files under test stay
# byte for byte the ones the package installs.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

require_groundwork drift --textfile

DEB=$(vm_deb)
vm_start_applied host
vm_install_drift_units host
# The units as the package holds them.
PKG_TREE=$(mktemp -d "$GW_VM_RUN/package-tree.XXXXXX")
dpkg-deb -x "$DEB" "$PKG_TREE"
SHIPPED_SHA=$(cat "$PKG_TREE/usr/lib/systemd/system/groundwork-drift.service" \
  "$PKG_TREE/usr/lib/systemd/system/groundwork-drift.timer" | sha256sum | cut -d' ' -f1)

OUT=$(vm_script host <<'GUEST'
set -u
kv() { printf '%s=%s\n' "$1" "$2"; }
prom=/var/lib/node_exporter/textfile_collector/groundwork.prom
ts() { sed -n 's/^groundwork_last_check_timestamp_seconds //p' "$prom" 2>/dev/null; }
install -d /etc/systemd/system/groundwork-drift.timer.d
cat >/etc/systemd/system/groundwork-drift.timer.d/test-schedule.conf <<'EOF'
# Test only (tests/vm/scenarios/88-drift-timer-fires.sh): fire every 20 s, on time.
[Timer]
OnCalendar=
OnCalendar=*:*:0/20
RandomizedDelaySec=0
AccuracySec=1s
EOF
# The metrics themselves, not the link to them that node_exporter reads.
rm -f /var/lib/groundwork-drift/groundwork.prom
kv shipped_sha "$(cat /usr/lib/systemd/system/groundwork-drift.service /usr/lib/systemd/system/groundwork-drift.timer | sha256sum | cut -d' ' -f1)"
systemctl daemon-reload
# Resolved: Debian 12's systemd names them by /lib, the merged /usr's link.
kv fragments "$(systemctl show -P FragmentPath groundwork-drift.service groundwork-drift.timer | xargs realpath | xargs)"
kv calendar "$(systemctl show -P TimersCalendar groundwork-drift.timer)"
kv randomized_delay "$(systemctl show -P RandomizedDelayUSec groundwork-drift.timer)"
kv persistent "$(systemctl show -P Persistent groundwork-drift.timer)"
# The journal from this second on (not --after-cursor: with a unit filter, systemd 252 skips the
# first matching entry when the cursor's own entry does not match).
enabled_at=$(date +%s)
systemctl enable --now groundwork-drift.timer >/dev/null 2>&1
kv timer_active "$(systemctl is-active groundwork-drift.timer)"
# Only wait and look: every run from here on is the timer's.
seen=()
deadline=$((enabled_at + 150))
while [ "$(date +%s)" -lt "$deadline" ] && [ "${#seen[@]}" -lt 3 ]; do
  t=$(ts)
  if [ -n "$t" ] && { [ "${#seen[@]}" -eq 0 ] || [ "$t" != "${seen[-1]}" ]; }; then
    seen+=("$t")
  fi
  sleep 1
done
# The last run finishes writing its journal lines.
for _ in $(seq 30); do
  [ "$(systemctl is-active groundwork-drift.service)" = activating ] || break
  sleep 1
done
sleep 1
kv enabled_at "$enabled_at"
kv timestamps "${seen[*]}"
kv starts "$(journalctl -u groundwork-drift.service --since "@$enabled_at" -o cat | grep -c '^Starting groundwork-drift.service')"
kv finishes "$(journalctl -u groundwork-drift.service --since "@$enabled_at" -o cat | grep -c '^Finished groundwork-drift.service')"
journalctl -u groundwork-drift.service --since "@$enabled_at" -o short-unix --no-pager | sed 's/^/journal: /'
systemctl stop groundwork-drift.timer
# The timer's last trigger and the service's last start, in seconds since the epoch.
# systemd 252 prints them formatted whatever --timestamp says; date reads that format back.
kv last_trigger "$(date -d "$(systemctl show -P LastTriggerUSec groundwork-drift.timer)" +%s)"
kv service_start "$(date -d "$(systemctl show -P ExecMainStartTimestamp groundwork-drift.service)" +%s)"
kv service_result "$(systemctl show -P Result groundwork-drift.service)"
GUEST
)
printf '%s\n' "$OUT" | grep '^journal: ' >&2 || true
kv() { kv_get "$OUT" "$1"; }

assert_eq "the package's unit files, unchanged" "$SHIPPED_SHA" "$(kv shipped_sha)"
assert_eq "the units systemd runs are the package's" \
  "/usr/lib/systemd/system/groundwork-drift.service /usr/lib/systemd/system/groundwork-drift.timer" "$(kv fragments)"
assert_match "schedule after the drop-in" "$(kv calendar)" '^\{ OnCalendar(USec)?=\*-\*-\* \*:\*:00/20 ; next_elapse=[^}]*\}$'
assert_eq "RandomizedDelaySec after the drop-in" 0 "$(kv randomized_delay)"
assert_eq "Persistent= of the shipped timer" yes "$(kv persistent)"
assert_eq "timer active" active "$(kv timer_active)"

read -r -a TS <<<"$(kv timestamps)"
((${#TS[@]} >= 3)) ||
  fail "within 150 s of enabling the timer, the textfile's check timestamp took ${#TS[@]} value(s) (${TS[*]:-none}); want a first run and two advances"
ENABLED_AT=$(kv enabled_at)
(($(cut -d. -f1 <<<"${TS[0]}") >= ENABLED_AT)) ||
  fail "the first timestamp ${TS[0]} is older than the timer's enabling ($ENABLED_AT)"
for i in 1 2; do
  gap=$(awk -v a="${TS[i - 1]}" -v b="${TS[i]}" 'BEGIN { printf "%d", b - a }')
  ((gap >= 10 && gap <= 60)) ||
    fail "timestamp ${TS[i - 1]} -> ${TS[i]}: ${gap} s apart, not one 20 s schedule period"
  ok "the timer's run $((i + 1)) advanced the check timestamp by ${gap} s (${TS[i - 1]} -> ${TS[i]})"
done
(($(kv starts) >= 3)) || fail "the service's journal shows $(kv starts) start(s) after the timer was enabled; want >= 3"
ok "the service's journal: $(kv starts) starts, $(kv finishes) finished, all after the timer was enabled"
(($(kv finishes) >= 3)) || fail "the service's journal shows $(kv finishes) finished run(s); want >= 3"
LT=$(kv last_trigger | tr -d '@')
SS=$(kv service_start | tr -d '@')
assert_match "timer last trigger" "$LT" '^[0-9]+$'
assert_match "service last start" "$SS" '^[0-9]+$'
((SS - LT >= 0 && SS - LT <= 5)) || fail "the service's last start ($SS) is not the timer's last trigger ($LT)"
ok "the service's last start is the timer's last trigger (+$((SS - LT)) s)"
assert_eq "last run's result" success "$(kv service_result)"
vm_stop host
