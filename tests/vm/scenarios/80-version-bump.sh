#!/usr/bin/env bash
# A change of the pinned k3s version on a converged host: the release server gets a second
# stand-in build (v1.31.5+k3s1), the spec pins it, and apply downloads it, installs it with the
# old binary kept for rollback as /usr/local/bin/.k3s.previous (mode 0600: nobody can run it
# from PATH, and no `k3s-` is left there), and restarts
# k3s-rootless exactly once (one more "Started" in the user manager's journal, a new MainPID,
# and the new version's start line). A second apply restarts nothing. Pinning the old version
# again (a downgrade) restarts it once more.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

require_groundwork apply --no-verify

OLD=$(vm_lab_k3s_version)
NEW=v1.31.5+k3s1
vm_start_applied host

OUT=$(vm_ssh host OLD="$OLD" NEW="$NEW" bash -s <<'GUEST'
set -u
kv() { printf '%s=%s\n' "$1" "$2"; }
lab=/root/lab
unit=k3s-rootless.service
mainpid() { systemctl --user -M k3s@ show -p MainPID --value "$unit" 2>&1; }
# Everything user k3s logged this boot: its manager's "Started" lines, the stand-in's own.
user_log() { journalctl -b --no-pager -o cat _UID="$(id -u k3s)"; }
starts() { user_log | grep -c "^Started $unit"; }
version_lines() { user_log | grep -c "Starting k3s $1 "; }

# The second release, published beside the first on the guest's loopback server.
"$lab/serve-k3s-release.sh" "$lab/k3s-standin" "$NEW" 8099
sed "s/^  version: .*/  version: $NEW/" "$lab/lab.yaml" >"$lab/lab-new.yaml"

kv old_sha "$(sha256sum /usr/local/bin/k3s | cut -d' ' -f1)"
kv new_release_sha "$(cut -d' ' -f1 "/srv/k3s-release/$NEW/sha256sum-amd64.txt")"
pid0=$(mainpid) starts0=$(starts)
kv pid0 "$pid0"

groundwork plan "$lab/lab-new.yaml" >/root/bump-plan.txt 2>&1
kv plan_rc "$?"
kv plan_text "$(tr '\n' '|' </root/bump-plan.txt)"
groundwork apply --yes --no-verify "$lab/lab-new.yaml" >/root/bump-apply.txt 2>&1
kv apply_rc "$?"
sleep 1 # the journal is asynchronous
kv version "$(/usr/local/bin/k3s --version | head -n 1)"
kv sha "$(sha256sum /usr/local/bin/k3s | cut -d' ' -f1)"
kv backup_sha "$(sha256sum /usr/local/bin/.k3s.previous 2>&1 | cut -d' ' -f1)"
kv backup_mode "$(stat -c '%U %a' /usr/local/bin/.k3s.previous 2>&1)"
kv no_dash_copy "$(ls /usr/local/bin | grep -c '^k3s-$')"
kv active "$(systemctl --user -M k3s@ is-active "$unit")"
pid1=$(mainpid)
kv pid1 "$pid1"
kv new_starts "$(($(starts) - starts0))"
kv new_version_lines "$(version_lines "$NEW")"

groundwork apply --yes --no-verify --detailed-exitcodes "$lab/lab-new.yaml" >/root/bump-again.txt 2>&1
kv again_rc "$?"
sleep 1
kv again_pid "$(mainpid)"
kv again_starts "$(($(starts) - starts0))"

starts1=$(starts)
groundwork apply --yes --no-verify "$lab/lab.yaml" >/root/downgrade.txt 2>&1
kv down_rc "$?"
sleep 1
kv down_version "$(/usr/local/bin/k3s --version | head -n 1)"
kv down_sha "$(sha256sum /usr/local/bin/k3s | cut -d' ' -f1)"
kv down_backup_sha "$(sha256sum /usr/local/bin/.k3s.previous 2>&1 | cut -d' ' -f1)"
kv down_pid "$(mainpid)"
kv down_starts "$(($(starts) - starts1))"
kv down_active "$(systemctl --user -M k3s@ is-active "$unit")"
groundwork drift "$lab/lab.yaml" >/dev/null 2>&1
kv drift "$?"
GUEST
)
kv() { kv_get "$OUT" "$1"; }
vm_log "plan for the bump: $(kv plan_text)"

assert_eq "plan exit code with the new version pinned" 2 "$(kv plan_rc)"
assert_contains "plan names the new version" "$(kv plan_text)" "$NEW"
assert_contains "plan says the unit restarts" "$(kv plan_text)" "restart"
assert_eq "apply exit code (upgrade)" 0 "$(kv apply_rc)"
assert_contains "k3s --version after the upgrade" "$(kv version)" "k3s version $NEW "
assert_eq "installed binary = the new release" "$(kv new_release_sha)" "$(kv sha)"
assert_eq "old binary kept as /usr/local/bin/.k3s.previous" "$(kv old_sha)" "$(kv backup_sha)"
assert_eq "the kept binary is root's and not executable" "root 600" "$(kv backup_mode)"
assert_eq "no k3s- left in PATH" 0 "$(kv no_dash_copy)"
assert_eq "k3s-rootless.service after the upgrade" active "$(kv active)"
[[ "$(kv pid1)" =~ ^[1-9][0-9]*$ && "$(kv pid1)" != "$(kv pid0)" ]] ||
  fail "MainPID did not change with the upgrade: $(kv pid0) -> $(kv pid1)"
ok "a new MainPID after the upgrade ($(kv pid0) -> $(kv pid1))"
assert_eq "starts of k3s-rootless.service during the upgrade" 1 "$(kv new_starts)"
assert_eq "journal lines 'Starting k3s $NEW'" 1 "$(kv new_version_lines)"

assert_eq "second apply --detailed-exitcodes (no change)" 0 "$(kv again_rc)"
assert_eq "MainPID after the second apply" "$(kv pid1)" "$(kv again_pid)"
assert_eq "starts after the second apply (still one)" 1 "$(kv again_starts)"

assert_eq "apply exit code (downgrade)" 0 "$(kv down_rc)"
assert_contains "k3s --version after the downgrade" "$(kv down_version)" "k3s version $OLD "
assert_eq "installed binary after the downgrade" "$(kv old_sha)" "$(kv down_sha)"
assert_eq "the kept binary after the downgrade is the newer build" "$(kv sha)" "$(kv down_backup_sha)"
assert_eq "starts of k3s-rootless.service during the downgrade" 1 "$(kv down_starts)"
[[ "$(kv down_pid)" != "$(kv pid1)" ]] || fail "MainPID did not change with the downgrade"
ok "a new MainPID after the downgrade"
assert_eq "k3s-rootless.service after the downgrade" active "$(kv down_active)"
assert_eq "drift after the downgrade" 0 "$(kv drift)"

vm_stop host
