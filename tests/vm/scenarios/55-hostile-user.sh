#!/usr/bin/env bash
# A hostile holder of the helper's sudoers rule (issue #11). On a converged lab host (groundwork
# from its package), `mallory` (and a second rule holder, `eve`) hold exactly the rule
# `groundwork helper sudoers USER` prints (the package's helper, /usr/libexec/groundwork),
# and mallory tries each escalation through real sudo: her own "k3s" (a script that would leave
# /tmp/pwned-<uid> behind) at the k3s path, host-wide sysctls that open the host, shrinking
# groundwork's sysctl, module and delegation files, subordinate ids for k3s, overlapping k3s, over
# a real gid, past SUB_UID_MAX or the per-user cap, the AppArmor profile for a binary root never
# allowed, acting for other users, a forged log line, arguments, a smuggled second request, a
# symlink to /etc/shadow in her home that root's `plan --user mallory` reads, a race with eve for
# the same ids (10 rounds, both helpers released at the same moment), and a tiny file-size limit.
# Then root runs plan, apply and drift. Nothing of hers may run as root or anyone else, nothing
# outside her own subid lines may change, and the journal must show one refused line per refusal.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

require_groundwork plan --user
[[ -f "$GW_BIN_DIR/groundwork-helper" ]] || fail "no groundwork-helper binary in $GW_BIN_DIR"

vm_start_applied host

# Mallory's attempts that must each be refused (exit 2), in the order they run.
REFUSED=(k3s_own k3s_usrbin k3s_claim sysctl_port sysctl_userns sysctl_ping persist_drop
  persist_lower deleg_fewer modules_fewer subids_k3s subids_overlap subids_realgid subids_above
  subids_cap apparmor linger_eve restart_k3s create_user verb_inject argv smuggle)

OUT=$(vm_script host <<'GUEST'
set -u
kv() { printf '%s=%s\n' "$1" "$2"; }
cd /
lab=/root/lab t0=$SECONDS
# The converged host's helper: the package's, the one `groundwork helper sudoers` names.
helper=/usr/libexec/groundwork/groundwork-helper
kv helper_mode "$(stat -c '%U %a' "$helper" 2>&1)"
kv helper_named "$(groundwork helper sudoers mallory | sed -n 's/^mallory ALL=(root) NOPASSWD: //p')"

# ---- root's setup: the rule holders, a real group at 300000, a canary in /etc/shadow, and
# /etc/subuid and /etc/subgid padded with other owners' lines past 2 KiB.
for u in mallory eve; do
  useradd --create-home -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 --shell /bin/bash "$u"
  groundwork helper sudoers "$u"
done >/etc/sudoers.d/groundwork-hostile
chmod 0440 /etc/sudoers.d/groundwork-hostile
visudo -cqf /etc/sudoers.d/groundwork-hostile
kv sudoers_valid "$?"
groupadd -g 300000 realgroup
echo 'root:$6$gwcanary$c2hhZG93LWNhbmFyeQ' | chpasswd -e
for i in $(seq 100 250); do printf 'gwpad%d:%d:65536\n' "$i" "$((i * 65536 + 4000000))"; done |
  tee -a /etc/subuid >>/etc/subgid
uid_m=$(id -u mallory)
kv uid_m "$uid_m"
k3s_line=$(grep -m1 '^k3s:' /etc/subuid)
k3s_start=$(cut -d: -f2 <<<"$k3s_line")
kv k3s_range "$k3s_start+$(cut -d: -f3 <<<"$k3s_line")"
sub_max=$(awk '$1 == "SUB_UID_MAX" { print $2 }' /etc/login.defs)
sub_max=${sub_max:-600100000}

# Everything outside mallory's own settings, as sha256, modes and values.
dirs=(/etc/sysctl.d /etc/modules-load.d /etc/systemd/system/user@.service.d /usr/local/bin
  /usr/local/libexec /usr/bin/k3s /opt/k3s /etc/apparmor.d /etc/sudoers.d /var/lib/systemd/linger
  /var/lib/groundwork/pending /usr/bin/groundwork /usr/libexec/groundwork)
snapshot() {
  find "${dirs[@]}" \( -type d -printf '%p d %m %u:%g\n' \) -o -printf '%p %y %m %u:%g %s %l\n' \
    2>/dev/null | sort
  find "${dirs[@]}" -type f -exec sha256sum {} + 2>/dev/null | sort -k2
  sha256sum /etc/passwd /etc/group /etc/shadow /etc/gshadow
  grep -v '^mallory:' /etc/subuid | sed 's,^,subuid ,'
  grep -v '^mallory:' /etc/subgid | sed 's,^,subgid ,'
  for k in net.ipv4.ip_unprivileged_port_start user.max_user_namespaces net.ipv4.ping_group_range \
    net.ipv4.ip_forward kernel.unprivileged_userns_clone; do
    printf 'sysctl %s = %s\n' "$k" "$(sysctl -n "$k" 2>&1)"
  done
}
snapshot >/root/snap-before.txt
kv snap_sees "$(grep -c -e '^/usr/local/bin/k3s ' -e '^/etc/sysctl.d/90-groundwork.conf ' \
  -e '^/etc/systemd/system/user@.service.d/delegate.conf ' -e '^subuid k3s:' \
  -e '^sysctl net.ipv4.ip_unprivileged_port_start = [0-9]' /root/snap-before.txt)"
k3s_sha=$(sha256sum </usr/local/bin/k3s)
# Not a cursor: with a match, --after-cursor of another entry skips the first matching one.
since=@$(date +%s)
kv t_setup "$((SECONDS - t0))"

# ---- mallory (and eve) through real sudo.
attempts_m=0 refused_m=0 done_m=0
# ask LABEL USER REQUEST [FILE]: REQUEST and FILE's bytes on the helper's stdin, run as USER.
ask() {
  local label=$1 user=$2 req=$3 payload=${4:-} reply rc
  reply=$({ printf '%s\n' "$req"; [ -z "$payload" ] || cat "$payload"; } |
    runuser -u "$user" -- sudo -n "$helper" 2>&1)
  rc=$?
  count "$user" "$rc"
  kv "rc_$label" "$rc"
  kv "reply_$label" "$(tr '\n' ' ' <<<"$reply")"
}
count() {
  [ "$1" = mallory ] || return 0
  attempts_m=$((attempts_m + 1))
  case $2 in 0) done_m=$((done_m + 1)) ;; 2) refused_m=$((refused_m + 1)) ;; esac
}
subids() { printf '{"verb":"set_subids","user":"%s","start":%s,"count":%s,"uids":true,"gids":true}' "$@"; }

# 1. Her own "k3s", with its true sha256: at the k3s paths, and claiming a known release's sha256.
evil=/home/mallory/evil
printf '#!/bin/sh\nid >/tmp/pwned-$(id -u)\necho "k3s version v1.31.4+k3s1 (evil)"\n' >"$evil"
chown mallory: "$evil"
chmod 0755 "$evil"
evil_sha=$(sha256sum "$evil" | cut -d' ' -f1) evil_size=$(stat -c %s "$evil")
kv evil_sha "$evil_sha"
for p in k3s_own:/usr/local/bin/k3s k3s_usrbin:/usr/bin/k3s; do
  ask "${p%%:*}" mallory "{\"verb\":\"install_k3s\",\"version\":\"v1.31.4+k3s1\",\"sha256\":\"$evil_sha\",\"size\":$evil_size,\"install_path\":\"${p#*:}\"}" "$evil"
done
# v1.36.5+k3s1 (amd64) as groundwork's table of published releases lists it.
ask k3s_claim mallory "{\"verb\":\"install_k3s\",\"version\":\"v1.36.5+k3s1\",\"sha256\":\"d73847bcd3c5fccef0115b372e2f9a91f3032dc84bbf71518a4617565294d313\",\"size\":$evil_size,\"install_path\":\"/usr/local/bin/k3s\"}" "$evil"
kv k3s_unchanged "$([ "$(sha256sum </usr/local/bin/k3s)" = "$k3s_sha" ] && echo yes || echo no)"

# 2. Sysctls that open the host to every local user.
ask sysctl_port mallory '{"verb":"set_sysctl","key":"net.ipv4.ip_unprivileged_port_start","value":"0"}'
ask sysctl_userns mallory '{"verb":"set_sysctl","key":"user.max_user_namespaces","value":"0"}'
ask sysctl_ping mallory '{"verb":"set_sysctl","key":"net.ipv4.ping_group_range","value":"0 2147483647"}'

# 3. Taking away from groundwork's host-wide files: keys, a lowered limit, controllers, modules.
lowered=$(python3 -c '
import json
s = {}
for l in open("/etc/sysctl.d/90-groundwork.conf"):
    l = l.strip()
    if l and not l.startswith("#") and "=" in l:
        k, v = l.split("=", 1)
        s[k.strip()] = v.strip()
s["user.max_user_namespaces"] = "1024"
print(json.dumps({"verb": "persist_sysctls", "settings": s}, separators=(",", ":")))')
kv sysctl_file_keys "$(grep -c '=' /etc/sysctl.d/90-groundwork.conf)"
ask persist_drop mallory '{"verb":"persist_sysctls","settings":{"net.ipv4.ip_forward":"1"}}'
ask persist_lower mallory "$lowered"
ask deleg_fewer mallory '{"verb":"write_delegation","controllers":["cpu","memory"]}'
ask modules_fewer mallory '{"verb":"persist_modules","names":["fuse"]}'

# 4. Subordinate ids: another user's, overlapping k3s, over a real gid, past SUB_UID_MAX, past
# the per-user cap (262144 by default).
ask subids_k3s mallory "$(subids k3s 700000 65536)"
ask subids_overlap mallory "$(subids mallory "$((k3s_start + 1000))" 65536)"
ask subids_realgid mallory "$(subids mallory 300000 65536)"
ask subids_above mallory "$(subids mallory "$((sub_max + 1))" 65536)"
ask subids_cap mallory "$(subids mallory 500000 1048576)"

# 5. The AppArmor profile for bytes root never allowed. 6-7. Acting for others.
ask apparmor mallory '{"verb":"install_apparmor_profile","binary":"/usr/local/bin/k3s"}'
ask linger_eve mallory '{"verb":"enable_linger","user":"eve"}'
ask restart_k3s mallory '{"verb":"restart_user_manager","user":"k3s"}'
ask create_user mallory '{"verb":"create_user","user":"mallory2"}'

# 8. A forged log line: a verb with a newline and an ANSI escape.
ask verb_inject mallory '{"verb":"pwn\n\u001b[31mFAKE invoker=root verb=install_k3s outcome=changed"}'

# 9. Arguments, environment through sudo, a second request after the first.
reply=$(runuser -u mallory -- sudo -n "$helper" --help </dev/null 2>&1)
rc=$?
count mallory "$rc"
kv rc_argv "$rc"
kv reply_argv "$(tr '\n' ' ' <<<"$reply")"
reply=$(printf '{"verb":"enable_linger","user":"mallory"}\n' |
  runuser -u mallory -- sudo -n SUDO_UID=0 "$helper" 2>&1)
kv rc_sudo_env "$?"
kv reply_sudo_env "$(tr '\n' ' ' <<<"$reply")"
printf '{"verb":"restart_user_manager","user":"k3s"}\n' >/root/second-request
ask smuggle mallory '{"verb":"enable_linger","user":"mallory"}' /root/second-request
kv linger_mallory "$(test -e /var/lib/systemd/linger/mallory && echo yes || echo no)"
kv t_attempts "$((SECONDS - t0))"

# 10. A link to /etc/shadow where root's plan reads mallory's unit.
runuser -u mallory -- sh -c 'mkdir -p /home/mallory/.config/systemd/user &&
  ln -s /etc/shadow /home/mallory/.config/systemd/user/k3s-rootless.service'
groundwork plan --user mallory "$lab/lab.yaml" >/root/plan-mallory.txt 2>&1
kv plan_m_rc "$?"
groundwork plan --user mallory --out /root/p.json "$lab/lab.yaml" >/root/plan-mallory-out.txt 2>&1
kv plan_out_rc "$?"
leaks() {
  cat "$@" >/root/leak-input 2>/dev/null
  echo "$(($(grep -c -e gwcanary -e 'root:\$' /root/leak-input) + $(grep -cxF -f /etc/shadow /root/leak-input)))"
}
kv plan_leaks "$(leaks /root/plan-mallory.txt /root/plan-mallory-out.txt)"
kv pjson_leaks "$(leaks /root/p.json)"
kv pjson_mode "$(stat -c %a /root/p.json 2>/dev/null || echo absent)"
kv plan_m_says "$(grep -m1 -i 'denied\|k3s-rootless' /root/plan-mallory.txt | head -c 300)"
# A plan that can be saved (k3s's, in sync) is saved 0600 too.
groundwork plan --out /root/p2.json "$lab/lab.yaml" >/dev/null 2>&1
kv p2json "$?:$(stat -c %a /root/p2.json 2>&1)"

# 11. mallory and eve ask for the same free ids, both helpers released at the same moment.
reset_race() { sed -i '/^\(mallory\|eve\):/d' /etc/subuid /etc/subgid; }
overlaps() {
  sort -t: -k2,2n "$1" |
    awk -F: -v end=-1 '$2 <= end { bad++ } { e = $2 + $3 - 1; if (e > end) end = e } END { print bad + 0 }'
}
mkfifo /root/race-mallory /root/race-eve
race_both=0 race_one=0 race_overlaps=0 race_log="" race_loser=""
for round in 1 2 3 4 5 6 7 8 9 10; do
  reset_race
  runuser -u mallory -- sudo -n "$helper" </root/race-mallory >/root/race-mallory.out 2>&1 &
  pm=$!
  runuser -u eve -- sudo -n "$helper" </root/race-eve >/root/race-eve.out 2>&1 &
  pe=$!
  exec 3>/root/race-mallory 4>/root/race-eve
  # Both helpers started and waiting for their request line.
  for _ in $(seq 100); do
    [ "$(pgrep -c -x groundwork-help)" -ge 2 ] && break
    sleep 0.05
  done
  sleep 0.2
  {
    subids mallory 400000 65536
    echo
  } >&3
  {
    subids eve 400000 65536
    echo
  } >&4
  exec 3>&- 4>&-
  wait "$pm"
  rcm=$?
  wait "$pe"
  rce=$?
  count mallory "$rcm"
  race_log="$race_log r$round:$rcm/$rce"
  if [ "$rcm" = 0 ] && [ "$rce" = 0 ]; then race_both=$((race_both + 1)); fi
  if [ "$((rcm + rce))" = 2 ] && { [ "$rcm" = 0 ] || [ "$rce" = 0 ]; }; then race_one=$((race_one + 1)); fi
  race_overlaps=$((race_overlaps + $(overlaps /etc/subuid) + $(overlaps /etc/subgid)))
  if [ -z "$race_loser" ]; then
    race_loser=$(cat "$([ "$rcm" = 2 ] && echo /root/race-mallory.out || echo /root/race-eve.out)")
  fi
done
reset_race
kv race_log "$race_log"
kv race_both "$race_both"
kv race_one "$race_one"
kv race_overlaps "$race_overlaps"
kv race_loser "$race_loser"
kv t_race "$((SECONDS - t0))"

# 12. A 1 KiB file-size limit, inherited through sudo, while /etc/subuid is bigger than 2 KiB.
kv subuid_size "$(stat -c %s /etc/subuid)"
cp /etc/subuid /root/subuid-pre
cp /etc/subgid /root/subgid-pre
etc_names() { find /etc -mindepth 1 -maxdepth 1 -printf '%f\n' | sort; }
etc_names >/root/etc-pre
reply=$({ subids mallory 500000 65536; echo; } | runuser -u mallory -- bash -c '
  ulimit -Sf 1
  (head -c 4096 /dev/zero >/tmp/ulimit-probe) 2>/dev/null
  sudo -n '"$helper" 2>&1)
rc=$?
count mallory "$rc"
kv rc_ulimit "$rc"
kv reply_ulimit "$(tr '\n' ' ' <<<"$reply")"
kv ulimit_probe "$(stat -c %s /tmp/ulimit-probe 2>&1)"
for f in subuid subgid; do
  kv "${f}_backup_whole" "$(cmp -s /root/$f-pre /etc/$f- && echo yes || echo no)"
  kv "${f}_others_whole" "$(grep -v '^mallory:' /etc/$f | cmp -s /root/$f-pre - && echo yes || echo no)"
  kv "${f}_mallory" "$(grep '^mallory:' /etc/$f | tr '\n' ' ')"
done
kv etc_new "$(etc_names | comm -13 /root/etc-pre - | grep -v -x -e 'subuid-' -e 'subgid-' | tr '\n' ' ')"
kv etc_temps "$(etc_names | grep -e 'groundwork-' -e '\.lock$' -e '^sub[ug]id\.[0-9]' | grep -v -x '.pwd.lock' | tr '\n' ' ')"
snapshot >/root/snap-attacks.txt

# ---- root runs groundwork as the README says.
groundwork plan "$lab/lab.yaml" >/root/final-plan.txt 2>&1
kv final_plan "$?"
groundwork apply --yes --no-verify "$lab/lab.yaml" >/root/final-apply.txt 2>&1
kv final_apply "$?"
groundwork drift "$lab/lab.yaml" >/root/final-drift.txt 2>&1
kv final_drift "$?"
kv t_root "$((SECONDS - t0))"

snapshot >/root/snap-after.txt
kv snap_attacks "$(diff /root/snap-before.txt /root/snap-attacks.txt | grep '^[<>]' | head -n 20 | tr '\n' '|')"
kv snap_after "$(diff /root/snap-before.txt /root/snap-after.txt | grep '^[<>]' | head -n 20 | tr '\n' '|')"
kv k3s_sha_same "$([ "$(sha256sum </usr/local/bin/k3s)" = "$k3s_sha" ] && echo yes || echo no)"
kv pwned "$(find / /tmp /var/tmp /run -xdev -name 'pwned-*' 2>/dev/null | tr '\n' ' ')"
kv unit_active "$(systemctl --user -M k3s@ is-active k3s-rootless.service 2>&1)"

# ---- the journal: one line per request of mallory's, refusals and grants.
log() { journalctl -a -q -o cat -t groundwork-helper --since "$since" 2>/dev/null; }
who="(mallory \(uid $uid_m\)|unknown \(SUDO_UID=$uid_m\))"
for _ in $(seq 50); do
  [ "$(log | grep -cE "^invoker=$who ")" -ge "$attempts_m" ] && break
  sleep 0.1
done
log >/root/helper-journal.txt
kv attempts_m "$attempts_m"
kv refused_m "$refused_m"
kv done_m "$done_m"
kv log_m_all "$(grep -cE "^invoker=$who " /root/helper-journal.txt)"
kv log_m_refused "$(grep -cE "^invoker=$who verb=[^ ]+ outcome=refused " /root/helper-journal.txt)"
kv log_m_named_refused "$(grep -cE "^invoker=mallory \(uid $uid_m\) verb=[^ ]+ outcome=refused " /root/helper-journal.txt)"
kv log_m_changed "$(grep -cE "^invoker=$who verb=set_subids outcome=changed " /root/helper-journal.txt)"
kv log_argv "$(grep -E "^invoker=$who " /root/helper-journal.txt | grep -m1 -i 'argument' | head -c 200)"
kv log_root "$(grep -c '^invoker=root' /root/helper-journal.txt)"
kv log_esc "$(grep -c $'\x1b' /root/helper-journal.txt)"
kv log_forged "$(journalctl -a -q -o cat --since "$since" | grep -c '^FAKE')"
kv log_escaped "$(grep -cF 'pwn\x0a\x1b[31mFAKE' /root/helper-journal.txt)"
kv t_total "$((SECONDS - t0))"
GUEST
)
kv() { kv_get "$OUT" "$1"; }
show() { vm_ssh host "cat /root/$1" 2>/dev/null | head -c 3000 >&2 || true; }
vm_log "guest phases (s from start): setup $(kv t_setup), attempts $(kv t_attempts), race $(kv t_race), root's runs $(kv t_root), total $(kv t_total)"

assert_eq "the helper the sudoers rule names is the package's" /usr/libexec/groundwork/groundwork-helper \
  "$(kv helper_named)"
assert_eq "the helper is root's, 0755" "root 755" "$(kv helper_mode)"
assert_eq "the printed sudoers rules pass visudo" 0 "$(kv sudoers_valid)"
# The scenario's ranges: 300000 (realgroup), 400000 (the race), 500000 (mallory's own).
k3s_range=$(kv k3s_range)
((${k3s_range%+*} + ${k3s_range#*+} <= 300000 || ${k3s_range%+*} > 600000)) ||
  fail "the lab's k3s range $k3s_range collides with this scenario's ranges"

for a in "${REFUSED[@]}"; do
  [[ "$(kv "rc_$a")" == 2 ]] || vm_log "reply to $a: $(kv "reply_$a")"
  assert_eq "mallory's $a is refused (exit 2)" 2 "$(kv "rc_$a")"
done
for a in "${REFUSED[@]}"; do
  assert_contains "reply to $a" "$(kv "reply_$a")" '"kind":"refused"'
done
# Refused for the right reason: the check that each attempt is about.
assert_contains "k3s_claim: the bytes are checked" "$(kv reply_k3s_claim)" "$(kv evil_sha)"
assert_contains "persist_drop" "$(kv reply_persist_drop)" "remove"
assert_contains "persist_lower" "$(kv reply_persist_lower)" "user.max_user_namespaces"
assert_contains "deleg_fewer" "$(kv reply_deleg_fewer)" "remove"
assert_contains "modules_fewer" "$(kv reply_modules_fewer)" "remove"
assert_contains "subids_overlap" "$(kv reply_subids_overlap)" "overlaps"
assert_contains "subids_realgid" "$(kv reply_subids_realgid)" "gid 300000"
assert_contains "subids_above" "$(kv reply_subids_above)" "outside"
assert_contains "subids_cap" "$(kv reply_subids_cap)" "max_ids_per_user"
assert_contains "verb_inject" "$(kv reply_verb_inject)" "unknown variant"
assert_contains "smuggle" "$(kv reply_smuggle)" "after the request"
(($(kv sysctl_file_keys) > 1)) || fail "90-groundwork.conf has $(kv sysctl_file_keys) keys: persist_drop drops nothing"
assert_eq "/usr/local/bin/k3s right after the install attempts" yes "$(kv k3s_unchanged)"
[[ "$(kv rc_sudo_env)" != 0 ]] || fail "sudo let mallory set SUDO_UID: $(kv reply_sudo_env)"
ok "sudo refuses SUDO_UID=0 from mallory (exit $(kv rc_sudo_env))"
assert_eq "the smuggled request did not enable her linger either" no "$(kv linger_mallory)"

[[ "$(kv plan_leaks)" == 0 ]] || show plan-mallory.txt
assert_eq "shadow lines in root's plan --user mallory" 0 "$(kv plan_leaks)"
assert_eq "shadow lines in plan --out's JSON" 0 "$(kv pjson_leaks)"
[[ "$(kv pjson_mode)" == absent ]] || assert_eq "mode of the saved plan" 600 "$(kv pjson_mode)"
assert_eq "root's plan --out of k3s's spec (exit:mode)" "0:600" "$(kv p2json)"
vm_log "plan --user mallory: exit $(kv plan_m_rc) ($(kv plan_m_says)); with --out: exit $(kv plan_out_rc), /root/p.json $(kv pjson_mode)"

vm_log "race rounds (mallory/eve exit codes):$(kv race_log)"
assert_eq "race rounds in which both were granted the same ids" 0 "$(kv race_both)"
assert_eq "race rounds with one grant and one refusal" 10 "$(kv race_one)"
assert_eq "overlapping ranges in /etc/subuid and /etc/subgid after any round" 0 "$(kv race_overlaps)"
assert_contains "the race's loser was told why" "$(kv race_loser)" "overlaps"

(($(kv subuid_size) > 2048)) || fail "/etc/subuid is only $(kv subuid_size) bytes"
assert_eq "mallory's own subids under ulimit -Sf 1 (exit)" 0 "$(kv rc_ulimit)"
assert_eq "the ulimit reached her processes (a 4 KiB write stopped at)" 1024 "$(kv ulimit_probe)"
for f in subuid subgid; do
  assert_eq "/etc/$f- is the whole previous /etc/$f" yes "$(kv "${f}_backup_whole")"
  assert_eq "/etc/$f keeps every other line" yes "$(kv "${f}_others_whole")"
  assert_eq "mallory's line in /etc/$f" "mallory:500000:65536 " "$(kv "${f}_mallory")"
done
assert_eq "new files in /etc after the request" "" "$(kv etc_new)"
assert_eq "temp and lock files left in /etc" "" "$(kv etc_temps)"

assert_eq "root's plan afterwards (in sync)" 0 "$(kv final_plan)"
[[ "$(kv final_apply)" == 0 ]] || show final-apply.txt
assert_eq "root's apply afterwards" 0 "$(kv final_apply)"
assert_eq "root's drift afterwards" 0 "$(kv final_drift)"
assert_eq "pwned-* files anywhere (mallory's bytes never ran)" "" "$(kv pwned)"
assert_eq "/usr/local/bin/k3s at the end" yes "$(kv k3s_sha_same)"
assert_eq "k3s-rootless.service" active "$(kv unit_active)"
assert_eq "the snapshot sees k3s, the sysctl file, the drop-in, k3s's ids and the sysctls" 5 "$(kv snap_sees)"
assert_eq "changes outside mallory's settings, after her attempts" "" "$(kv snap_attacks)"
assert_eq "changes outside mallory's settings, after root's plan, apply and drift" "" "$(kv snap_after)"

[[ "$(kv log_m_refused)" == "$(kv refused_m)" ]] || show helper-journal.txt
assert_eq "mallory's refusals (${#REFUSED[@]} attempts and her lost race rounds)" \
  "$((${#REFUSED[@]} + 10 - $(kv done_m) + 1))" "$(kv refused_m)"
assert_eq "journal lines of mallory's requests = her requests that reached the helper" \
  "$(kv attempts_m)" "$(kv log_m_all)"
assert_eq "journal: one refused line per refusal of mallory's" "$(kv refused_m)" "$(kv log_m_refused)"
assert_eq "journal: one changed line per grant of mallory's" "$(kv done_m)" "$(kv log_m_changed)"
[[ -n "$(kv log_argv)" ]] || fail "the argv refusal is not in the journal"
ok "the argv refusal is logged: $(kv log_argv)"
vm_log "refused lines naming mallory: $(kv log_m_named_refused) of $(kv log_m_refused)"
assert_eq "journal lines with invoker=root" 0 "$(kv log_root)"
assert_eq "raw ESC bytes in the helper's journal lines" 0 "$(kv log_esc)"
assert_eq "journal lines that begin with mallory's injected text" 0 "$(kv log_forged)"
assert_eq "the injected verb, escaped, in the journal" 1 "$(kv log_escaped)"

vm_stop host
