#!/usr/bin/env bash
# kill -9 of apply at several moments on a fresh host, groundwork installed from source (the
# README's other install: /usr/local/bin, /usr/local/libexec): after each kill /etc/subuid and
# /etc/subgid are whole (every line name:start:count, one k3s range at most) and no temp file is
# left in /etc; then a rerun converges and the plan is empty.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

require_groundwork apply --no-verify

vm_start host
vm_install_lab host --from-source

OUT=$(vm_script host <<'GUEST'
set -u
kv() { printf '%s=%s\n' "$1" "$2"; }
lab=/root/lab
install -m 0755 "$lab/bin/groundwork" /usr/local/bin/groundwork
install -d -m 0755 /usr/local/libexec
install -m 0755 "$lab/bin/groundwork-helper" /usr/local/libexec/groundwork-helper
whole() {
  local f bad=0
  for f in /etc/subuid /etc/subgid; do
    [[ -e $f ]] || continue
    grep -qvE '^[a-z_][a-z0-9_-]*:[0-9]+:[0-9]+$' "$f" && bad=1
    (($(grep -c '^k3s:' "$f") <= 1)) || bad=1
  done
  find /etc -name '.*.groundwork-*' -o -name '.*.tmp-*' | grep -q . && bad=1
  echo $((1 - bad))
}
i=0
for delay in 2 8 25 4 4; do
  i=$((i + 1))
  groundwork apply --yes --no-verify "$lab/lab.yaml" >"/root/kill$i.txt" 2>&1 &
  pid=$!
  sleep "$delay"
  kill -9 "$pid" 2>/dev/null && killed=yes || killed="no (finished)"
  wait "$pid" 2>/dev/null
  kv "kill$i" "$killed after ${delay}s, steps done: $(grep -c ': changed:\|: ok:' "/root/kill$i.txt")"
  kv "whole$i" "$(whole)"
done
groundwork apply --yes --no-verify "$lab/lab.yaml" >/root/final.txt 2>&1
kv final_rc "$?"
groundwork plan "$lab/lab.yaml" >/root/plan.txt 2>&1
kv plan_rc "$?"
kv whole_final "$(whole)"
kv k3s_ranges "$(grep -c '^k3s:' /etc/subuid)"
kv unit_active "$(systemctl --user -M k3s@ is-active k3s-rootless.service 2>&1)"
GUEST
)
kv() { kv_get "$OUT" "$1"; }

for i in 1 2 3 4 5; do
  vm_log "kill $i: $(kv "kill$i")"
  assert_eq "subuid/subgid whole, no temp files after kill $i" 1 "$(kv "whole$i")"
done
[[ "$(kv final_rc)" == 0 ]] || vm_ssh host 'cat /root/final.txt' | head -c 3000 >&2 || true
assert_eq "apply after the kills converges" 0 "$(kv final_rc)"
assert_eq "plan afterwards is empty" 0 "$(kv plan_rc)"
assert_eq "files whole at the end" 1 "$(kv whole_final)"
assert_eq "exactly one k3s range" 1 "$(kv k3s_ranges)"
assert_eq "k3s-rootless.service active" active "$(kv unit_active)"
vm_stop host
