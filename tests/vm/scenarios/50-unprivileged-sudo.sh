#!/usr/bin/env bash
# groundwork run by the k3s user itself, with root's help only through the helper and sudo, on a
# fresh host where groundwork is installed the README's way from source (/usr/local/bin, the
# helper at /usr/local/libexec/groundwork-helper; the package's way is 22-package's).
# Without the sudoers rule, apply stops at the first privileged step with the documented
# message (the exact sudoers line; no install step, the helper being in place) and changes
# nothing. With the rule but without root's approval of the k3s build (the stand-in is no
# release groundwork knows), the helper refuses to install it, says how root allows it, and
# installs nothing at the k3s path.
# Once root lists its sha256 in /etc/groundwork/policy.yaml, the same apply converges, the
# helper's journal lines name the invoking user, and the rootless smoke test passes as that user.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

require_groundwork apply --no-verify
[[ -f "$GW_BIN_DIR/groundwork-helper" ]] || fail "no groundwork-helper binary in $GW_BIN_DIR"

vm_start host
vm_install_lab host --from-source

OUT=$(vm_script host <<'GUEST'
set -u
kv() { printf '%s=%s\n' "$1" "$2"; }
lab=/root/lab
useradd --create-home --shell /bin/bash k3s
install -o root -g root -m 0755 "$lab/bin/groundwork" /usr/local/bin/groundwork
install -d -o root -g root -m 0755 /usr/local/libexec
install -o root -g root -m 0755 "$lab/bin/groundwork-helper" /usr/local/libexec/groundwork-helper
install -o k3s -g k3s -m 0644 "$lab/lab.yaml" /home/k3s/lab.yaml
as_k3s() { runuser -u k3s -- env -i HOME=/home/k3s USER=k3s LOGNAME=k3s PATH=/usr/local/bin:/usr/bin:/bin "$@"; }
state() {
  { cat /etc/subuid /etc/subgid 2>/dev/null; sysctl -n net.ipv4.ip_forward; ls /var/lib/systemd/linger 2>/dev/null;
    dpkg-query -W -f='${Package} ${db:Status-Status}\n' uidmap dbus-user-session 2>/dev/null; ls /etc/sysctl.d; } | sha256sum
}

before=$(state)
as_k3s groundwork apply --yes --no-verify /home/k3s/lab.yaml >/root/norule.txt 2>&1
kv norule_rc "$?"
kv norule_has_sudoers_line "$(grep -c 'k3s ALL=(root) NOPASSWD: /usr/local/libexec/groundwork-helper' /root/norule.txt)"
kv norule_says_allow "$(grep -c 'Either run it as root, or allow k3s to run it:' /root/norule.txt)"
kv norule_has_install_cmd "$(grep -c 'install -o root -g root -m 0755 groundwork-helper /usr/local/libexec/groundwork-helper' /root/norule.txt)"
kv norule_unchanged "$([[ "$before" == "$(state)" ]] && echo yes || echo no)"

groundwork helper sudoers k3s >/etc/sudoers.d/groundwork
chmod 0440 /etc/sudoers.d/groundwork
visudo -cqf /etc/sudoers.d/groundwork
kv sudoers_valid "$?"

since=$(date '+%Y-%m-%d %H:%M:%S')
as_k3s groundwork apply --yes --no-verify /home/k3s/lab.yaml >/root/nopolicy.txt 2>&1
kv nopolicy_rc "$?"
kv nopolicy_says_how "$(grep -c 'root has not allowed k3s .* Root can allow it with `k3s: { allow:' /root/nopolicy.txt)"
kv nopolicy_no_k3s "$(test -e /usr/local/bin/k3s && echo present || echo absent)"
# The administrator approves the build: its sha256, as root's policy.
version=$(sed -n 's/^ *version: *//p' "$lab/lab.yaml" | head -n 1)
install -d -m 0755 /etc/groundwork
printf 'k3s:\n  allow:\n    - { version: %s, sha256: %s }\n' "$version" \
  "$(cut -d' ' -f1 "/srv/k3s-release/$version/sha256sum-amd64.txt")" >/etc/groundwork/policy.yaml
as_k3s groundwork apply --yes --no-verify /home/k3s/lab.yaml >/root/rule.txt 2>&1
kv rule_rc "$?"
as_k3s groundwork plan /home/k3s/lab.yaml >/root/plan-after.txt 2>&1
kv plan_after "$?"
uid=$(id -u k3s)
kv pkg_uidmap "$(dpkg-query -W -f='${db:Status-Status}' uidmap 2>/dev/null)"
kv subuid "$(grep -c '^k3s:[0-9]*:65536$' /etc/subuid)"
kv ip_forward "$(sysctl -n net.ipv4.ip_forward)"
kv linger "$(test -e /var/lib/systemd/linger/k3s && echo yes || echo no)"
kv unit_active "$(systemctl --user -M k3s@ is-active k3s-rootless.service 2>&1)"
kv unit_file_owner "$(stat -c %U /home/k3s/.config/systemd/user/k3s-rootless.service 2>&1)"
kv k3s_owner "$(stat -c '%U %a' /usr/local/bin/k3s 2>&1)"
kv helper_log_invoker "$(journalctl -q --since "$since" -t groundwork-helper 2>/dev/null | grep -c 'invoker=k3s (uid '"$uid"')')"
as_k3s groundwork verify --skip-cluster /home/k3s/lab.yaml >/root/verify.txt 2>&1
kv verify_rc "$?"
GUEST
)
kv() { kv_get "$OUT" "$1"; }
show() { vm_ssh host "cat /root/$1" 2>/dev/null | head -c 3000 >&2 || true; }

[[ "$(kv norule_rc)" == 1 ]] || show norule.txt
assert_eq "apply as k3s without a sudoers rule fails" 1 "$(kv norule_rc)"
assert_eq "the failure names the sudoers line" 1 "$(kv norule_has_sudoers_line)"
# The helper is installed, root's: only the rule is missing, so no install step is named.
assert_eq "the failure names no install step for the helper in place" 0 "$(kv norule_has_install_cmd)"
assert_eq "the failure says to run as root or allow k3s" 1 "$(kv norule_says_allow)"
assert_eq "nothing changed without the rule" yes "$(kv norule_unchanged)"
assert_eq "the printed sudoers line passes visudo" 0 "$(kv sudoers_valid)"
[[ "$(kv nopolicy_rc)" == 1 ]] || show nopolicy.txt
assert_eq "apply without root's approval of the k3s build fails" 1 "$(kv nopolicy_rc)"
[[ "$(kv nopolicy_says_how)" == 1 ]] || show nopolicy.txt
assert_eq "the refusal says how root allows the build" 1 "$(kv nopolicy_says_how)"
assert_eq "nothing was installed at the k3s path" absent "$(kv nopolicy_no_k3s)"
[[ "$(kv rule_rc)" == 0 ]] || show rule.txt
assert_eq "apply as k3s through the helper converges" 0 "$(kv rule_rc)"
assert_eq "plan as k3s afterwards is empty" 0 "$(kv plan_after)"
assert_eq "uidmap installed (by the helper)" installed "$(kv pkg_uidmap)"
assert_eq "one k3s range in /etc/subuid" 1 "$(kv subuid)"
assert_eq "net.ipv4.ip_forward" 1 "$(kv ip_forward)"
assert_eq "linger for k3s" yes "$(kv linger)"
assert_eq "k3s-rootless.service active" active "$(kv unit_active)"
assert_eq "the unit file belongs to k3s" k3s "$(kv unit_file_owner)"
assert_eq "/usr/local/bin/k3s is root's, 0755" "root 755" "$(kv k3s_owner)"
(($(kv helper_log_invoker) >= 5)) || fail "the helper's journal lines do not name invoker=k3s (found $(kv helper_log_invoker))"
ok "the helper logged each request with invoker=k3s ($(kv helper_log_invoker) lines)"
[[ "$(kv verify_rc)" == 0 ]] || show verify.txt
assert_eq "verify --skip-cluster as k3s" 0 "$(kv verify_rc)"
vm_stop host
