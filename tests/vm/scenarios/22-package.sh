#!/usr/bin/env bash
# The Debian package on a fresh host, the README's way: `apt install ./groundwork_*.deb` puts
# every file in its place, root's, with the helper at /usr/libexec/groundwork/groundwork-helper,
# pulls in uidmap, and enables, starts and grants nothing. The administrator then writes the
# spec, root's policy and the sudoers line `groundwork helper sudoers k3s` prints; the k3s user's
# apply goes through that helper and converges; the administrator enables the drift timer by
# hand and it runs. `apt remove` takes the programs away and keeps the configuration; `apt purge`
# leaves nothing of the package's, only what the administrator wrote (and the host configuration
# the apply made, which is the host's, not the package's). Then provision.sh installs the package
# again and its apply as root finds the host in sync.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

DEB=$(vm_deb)
vm_log "package: $DEB"
# Exact: anything else new with groundwork's name after a purge fails the scenario. The
# administrator's /etc/groundwork (spec, policy) and sudoers rule; the host configuration the
# apply wrote (its sysctl and modules files); the k3s user's own cache in its home, which no
# package touches.
LEFT_AFTER_PURGE="/etc/groundwork /etc/modules-load.d/groundwork.conf /etc/sudoers.d/groundwork /etc/sysctl.d/90-groundwork.conf /home/k3s/.cache/groundwork"

vm_start host
# The lab brings the package as /root/lab/groundwork.deb, and installs nothing.
vm_install_lab host

OUT=$(vm_script host <<'GUEST'
set -u
kv() { printf '%s=%s\n' "$1" "$2"; }
lab=/root/lab
# What carries groundwork's name on the host, outside the kernel's and the runtime's trees.
named() {
  find / -xdev \( -path /proc -o -path /sys -o -path /run -o -path /root/lab -o -path /var/log/journal \) \
    -prune -o -name '*groundwork*' -print | sort
}
named >/root/named-before.txt
# No groundwork anywhere before the package.
kv before_command "$(command -v groundwork || echo none)"

DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$lab/groundwork.deb" >/root/install.txt 2>&1
kv install_rc "$?"
kv status "$(dpkg-query -W -f='${db:Status-Status}' groundwork 2>&1)"
kv uidmap "$(dpkg-query -W -f='${db:Status-Status}' uidmap 2>&1)"
dpkg -L groundwork >/root/dpkg-L.txt
for f in /usr/bin/groundwork /usr/libexec/groundwork/groundwork-helper \
  /usr/share/man/man1/groundwork.1.gz /usr/share/man/man5/groundwork-spec.5.gz \
  /usr/share/bash-completion/completions/groundwork /usr/share/zsh/vendor-completions/_groundwork \
  /usr/share/fish/vendor_completions.d/groundwork.fish \
  /usr/lib/systemd/system/groundwork-drift.service /usr/lib/systemd/system/groundwork-drift.timer \
  /usr/share/doc/groundwork/examples/rootless-k3s.yaml /usr/share/groundwork/groundwork.schema.json; do
  key=$(printf %s "$f" | tr -c 'a-z0-9\n' _)
  kv "listed_$key" "$(grep -cx "$f" /root/dpkg-L.txt)"
  kv "stat_$key" "$(stat -c '%U:%G %a %F' "$f" 2>&1)"
done
# Every file the package lists is root's and writable by root alone.
kv others_files "$(while read -r f; do [ -e "$f" ] && stat -c '%U:%G %a %n' "$f"; done </root/dpkg-L.txt |
  awk '$1 != "root:root" || $2 ~ /[2367].$|[2367]$/' | wc -l)"
kv helper_dir "$(stat -c '%U:%G %a' /usr/libexec/groundwork)"
kv timer_enabled "$(systemctl is-enabled groundwork-drift.timer 2>&1)"
kv timer_active "$(systemctl is-active groundwork-drift.timer 2>&1)"
kv sudoers_d "$(ls /etc/sudoers.d | grep -v '^README$' | wc -l)"
kv etc_groundwork "$(test -e /etc/groundwork && echo present || echo absent)"
kv version "$(groundwork --version)"
kv sudoers_line "$(groundwork helper sudoers k3s)"

# The administrator: the account, the spec, root's approval of the lab's k3s build, the rule.
useradd --create-home --shell /bin/bash k3s
install -d -m 0755 /etc/groundwork
install -m 0644 "$lab/lab.yaml" /etc/groundwork/spec.yaml
version=$(sed -n 's/^ *version: *//p' "$lab/lab.yaml" | head -n 1)
printf 'k3s:\n  allow:\n    - { version: %s, sha256: %s }\n' "$version" \
  "$(cut -d' ' -f1 "/srv/k3s-release/$version/sha256sum-amd64.txt")" >/etc/groundwork/policy.yaml
# The README's line, as root.
groundwork helper sudoers k3s | tee /etc/sudoers.d/groundwork >/dev/null && visudo -cqf /etc/sudoers.d/groundwork
kv visudo "$?"
kv sudoers_owner "$(stat -c '%U:%G' /etc/sudoers.d/groundwork)"

as_k3s() { runuser -u k3s -- env -i HOME=/home/k3s USER=k3s LOGNAME=k3s PATH=/usr/bin:/bin "$@"; }
since=$(date '+%Y-%m-%d %H:%M:%S')
as_k3s groundwork apply --yes --no-verify /etc/groundwork/spec.yaml >/root/apply.txt 2>&1
kv apply_rc "$?"
as_k3s groundwork plan /etc/groundwork/spec.yaml >/root/plan.txt 2>&1
kv plan_rc "$?"
kv sudo_ran_packaged_helper "$(journalctl -q --since "$since" _COMM=sudo | grep -c 'COMMAND=/usr/libexec/groundwork/groundwork-helper$')"
kv helper_log_invoker "$(journalctl -q --since "$since" -t groundwork-helper | grep -c 'invoker=k3s (uid ')"
kv unit_active "$(systemctl --user -M k3s@ is-active k3s-rootless.service 2>&1)"

# The drift timer, by hand: the packaged unit runs as k3s, on /etc/groundwork/spec.yaml.
systemctl enable --now groundwork-drift.timer >/dev/null 2>&1
kv timer_enabled_by_hand "$(systemctl is-enabled groundwork-drift.timer 2>&1)"
systemctl start groundwork-drift.service
kv drift_result "$(systemctl show -P Result groundwork-drift.service)"
kv drift_user "$(systemctl show -P User groundwork-drift.service)"
kv prom "$(grep -c '^groundwork_drift{' /var/lib/groundwork-drift/groundwork.prom 2>&1)"

DEBIAN_FRONTEND=noninteractive apt-get remove -y -q groundwork >/root/remove.txt 2>&1
kv remove_rc "$?"
kv removed_status "$(dpkg-query -W -f='${db:Status-Status}' groundwork 2>&1)"
kv removed_command "$(command -v groundwork || echo none)"
kv removed_helper "$(test -e /usr/libexec/groundwork/groundwork-helper && echo present || echo absent)"
kv removed_timer "$(systemctl is-active groundwork-drift.timer 2>&1)"
kv kept_spec "$(test -f /etc/groundwork/spec.yaml && echo present || echo absent)"
kv kept_sudoers "$(test -f /etc/sudoers.d/groundwork && echo present || echo absent)"

DEBIAN_FRONTEND=noninteractive apt-get purge -y -q groundwork >/root/purge.txt 2>&1
kv purge_rc "$?"
kv purged_status "$(dpkg-query -W -f='${db:Status-Status}' groundwork 2>&1 | head -n 1)"
kv purged_left "$(while read -r f; do [ -e "$f" ] && [ ! -d "$f" ] && echo "$f"; done </root/dpkg-L.txt | wc -l)"
kv purged_dirs "$(ls -d /usr/libexec/groundwork /usr/share/groundwork /usr/share/doc/groundwork 2>/dev/null | wc -l)"
named >/root/named-after.txt
comm -13 /root/named-before.txt /root/named-after.txt >/root/named-new.txt
kv named_new "$(paste -sd' ' /root/named-new.txt)"
kv unit_links "$(find /etc/systemd -name 'groundwork-drift*' | wc -l)"

# The lab's way in (provision.sh, as the Vagrant lab and the suite run it) from the package:
# installed again after the purge, it finds the host the k3s user converged in sync.
"$lab/provision.sh" --skip-cluster /etc/groundwork/spec.yaml "$lab/groundwork.deb" >/root/provision.txt 2>&1
kv provision_rc "$?"
kv provision_installed "$(grep -c '^==== provision: installed the package groundwork ' /root/provision.txt)"
kv provision_apply "$(sed -n 's/^==== provision: groundwork apply exited \([0-9]*\) .*/\1/p' /root/provision.txt)"
GUEST
)
kv() { kv_get "$OUT" "$1"; }
# The key the guest gave a path's facts (kv_get's sed takes no slash).
key() { printf %s "$1" | tr -c 'a-z0-9\n' _; }
show() { vm_ssh host "cat /root/$1" 2>/dev/null | head -c 3000 >&2 || true; }

assert_eq "no groundwork on the fresh host" none "$(kv before_command)"
[[ "$(kv install_rc)" == 0 ]] || show install.txt
assert_eq "apt-get install ./groundwork.deb" 0 "$(kv install_rc)"
assert_eq "the package is installed" installed "$(kv status)"
assert_eq "uidmap came with it (Depends)" installed "$(kv uidmap)"
for f in /usr/bin/groundwork /usr/libexec/groundwork/groundwork-helper; do
  assert_eq "dpkg -L lists $f" 1 "$(kv "listed_$(key "$f")")"
  assert_eq "$f: owner, mode" "root:root 755 regular file" "$(kv "stat_$(key "$f")")"
done
for f in /usr/share/man/man1/groundwork.1.gz /usr/share/man/man5/groundwork-spec.5.gz \
  /usr/share/bash-completion/completions/groundwork /usr/share/zsh/vendor-completions/_groundwork \
  /usr/share/fish/vendor_completions.d/groundwork.fish \
  /usr/lib/systemd/system/groundwork-drift.service /usr/lib/systemd/system/groundwork-drift.timer \
  /usr/share/doc/groundwork/examples/rootless-k3s.yaml /usr/share/groundwork/groundwork.schema.json; do
  assert_eq "dpkg -L lists $f" 1 "$(kv "listed_$(key "$f")")"
  assert_eq "$f: owner, mode" "root:root 644 regular file" "$(kv "stat_$(key "$f")")"
done
assert_eq "every packaged path is root's, writable by root alone" 0 "$(kv others_files)"
assert_eq "/usr/libexec/groundwork" "root:root 755" "$(kv helper_dir)"
assert_eq "the timer is not enabled by the package" disabled "$(kv timer_enabled)"
assert_eq "the timer is not started by the package" inactive "$(kv timer_active)"
assert_eq "the package wrote no sudoers rule" 0 "$(kv sudoers_d)"
assert_eq "the package wrote nothing in /etc/groundwork" absent "$(kv etc_groundwork)"
assert_match "groundwork --version" "$(kv version)" '^groundwork [0-9]'
assert_eq "the sudoers line names the packaged helper" \
  "k3s ALL=(root) NOPASSWD: /usr/libexec/groundwork/groundwork-helper" "$(kv sudoers_line)"
assert_eq "visudo accepts the rule" 0 "$(kv visudo)"
assert_eq "the rule's file is root's" root:root "$(kv sudoers_owner)"
[[ "$(kv apply_rc)" == 0 ]] || show apply.txt
assert_eq "apply as k3s through the packaged helper" 0 "$(kv apply_rc)"
assert_eq "plan as k3s afterwards is empty" 0 "$(kv plan_rc)"
(($(kv sudo_ran_packaged_helper) >= 1)) ||
  fail "sudo's journal shows no COMMAND=/usr/libexec/groundwork/groundwork-helper"
ok "sudo ran /usr/libexec/groundwork/groundwork-helper ($(kv sudo_ran_packaged_helper) times)"
(($(kv helper_log_invoker) >= 1)) || fail "the helper's journal lines do not name invoker=k3s"
assert_eq "k3s-rootless.service active" active "$(kv unit_active)"
assert_eq "the timer, enabled by hand" enabled "$(kv timer_enabled_by_hand)"
assert_eq "the packaged drift service runs as k3s" k3s "$(kv drift_user)"
assert_eq "the packaged drift service succeeds" success "$(kv drift_result)"
assert_match "it wrote the metrics" "$(kv prom)" '^[1-9]'
[[ "$(kv remove_rc)" == 0 ]] || show remove.txt
assert_eq "apt-get remove" 0 "$(kv remove_rc)"
assert_eq "after remove: configuration only" config-files "$(kv removed_status)"
assert_eq "after remove: no groundwork command" none "$(kv removed_command)"
assert_eq "after remove: no helper" absent "$(kv removed_helper)"
assert_eq "after remove: the timer stopped" inactive "$(kv removed_timer)"
assert_eq "after remove: the administrator's spec stays" present "$(kv kept_spec)"
assert_eq "after remove: the administrator's sudoers file stays" present "$(kv kept_sudoers)"
[[ "$(kv purge_rc)" == 0 ]] || show purge.txt
assert_eq "apt-get purge" 0 "$(kv purge_rc)"
assert_match "after purge: dpkg knows no groundwork" "$(kv purged_status)" 'no packages found|not-installed'
assert_eq "after purge: no file the package listed" 0 "$(kv purged_left)"
assert_eq "after purge: none of its directories" 0 "$(kv purged_dirs)"
assert_eq "after purge: no unit links" 0 "$(kv unit_links)"
# What carries groundwork's name now and did not before: the administrator's files, and the host
# configuration the apply wrote (it configures the host for k3s, whoever installed groundwork).
assert_eq "after purge: only what the administrator and the apply wrote" \
  "$LEFT_AFTER_PURGE" "$(kv named_new)"
[[ "$(kv provision_rc)" == 0 ]] || show provision.txt
assert_eq "provision.sh with the package" 0 "$(kv provision_rc)"
assert_eq "provision.sh installed the package" 1 "$(kv provision_installed)"
assert_eq "provision.sh's apply as root" 0 "$(kv provision_apply)"
vm_stop host
