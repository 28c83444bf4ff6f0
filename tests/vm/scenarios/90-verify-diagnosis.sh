#!/usr/bin/env bash
# The failure matrix of `groundwork verify` on a converged host: each rootless prerequisite is
# taken away in turn, the way it goes missing on real hosts, and verify must fail the check that
# depends on it and name the prerequisite and its fix in the diagnosis; after each, the host is
# restored and verify passes again.
#   subids      the user's lines removed from /etc/subuid and /etc/subgid
#   userns      user.max_user_namespaces=0 (verify must also finish, and leave no process behind:
#               util-linux's unshare strands its id-mapping child when unshare(2) fails)
#   tun         tun unloaded and blocked from loading (a bare `rmmod tun` is not enough: opening
#               /dev/net/tun loads it again); k3s's slirp4netns holds the device (the stand-in's
#               too, for its API port), so the unit stops first, as it would have to for a person
#   delegation  the drop-in removed and the user manager restarted: Debian's default delegation
#               (cpu memory pids, on 12 and 13 alike) lacks cpuset and io; `groundwork apply`
#               repairs it
#   ip_forward  net.ipv4.ip_forward=0: the k3s stand-in exits with k3s's fatal sysctl message, so
#               the cluster stage (`verify --timeout 20s`) fails and the diagnosis reads the
#               journal; `groundwork apply` restores the sysctl and restarts the failed unit
# The first and last verify include the cluster stage, which passes against the k3s stand-in
# (tests/standin/k3s), a script: that proves verify's plumbing, not a real cluster.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

require_groundwork verify --skip-cluster --timeout 20s

vm_start_applied host

OUT=$(vm_script host <<'GUEST'
set -u
spec=/root/lab/lab.yaml
uid=$(id -u k3s)
# verify's exit code and output, one KEY.rc / KEY.out pair per case; the output on one line.
verify() {
  local key=$1 t0=$SECONDS rc=0
  shift
  timeout 240 groundwork verify "$@" "$spec" >"/root/verify-$key.txt" 2>&1 || rc=$?
  printf '%s.rc=%s\n%s.secs=%s\n' "$key" "$rc" "$key" "$((SECONDS - t0))"
  printf '%s.out=%s\n' "$key" "$(tr '\n' '|' <"/root/verify-$key.txt")"
}
verify baseline --timeout 20s

cp -a /etc/subuid /root/subuid.saved && cp -a /etc/subgid /root/subgid.saved
sed -i '/^k3s:/d' /etc/subuid /etc/subgid
printf 'subids.guest=%s\n' "$(grep -c '^k3s:' /etc/subuid)"
verify subids --skip-cluster
cp -a /root/subuid.saved /etc/subuid && cp -a /root/subgid.saved /etc/subgid

saved=$(sysctl -n user.max_user_namespaces)
sysctl -qw user.max_user_namespaces=0
verify userns --skip-cluster
printf 'userns.leftover=%s\n' "$(pgrep -u k3s -x unshare | wc -l)"
sysctl -qw user.max_user_namespaces="$saved"

echo 'install tun /bin/false' >/etc/modprobe.d/gw-test-no-tun.conf
systemctl --user -M k3s@ stop k3s-rootless.service
rmmod tun
printf 'tun.guest=%s\n' "$(grep -c '^tun ' /proc/modules)"
verify tun --skip-cluster
rm -f /etc/modprobe.d/gw-test-no-tun.conf
modprobe tun
systemctl --user -M k3s@ start k3s-rootless.service

mv /etc/systemd/system/user@.service.d/delegate.conf /root/delegate.conf.saved
systemctl daemon-reload
systemctl restart "user@$uid.service"
printf 'delegation.guest=%s\n' "$(cat "/sys/fs/cgroup/user.slice/user-$uid.slice/user@$uid.service/cgroup.controllers")"
verify delegation --skip-cluster
groundwork apply --yes --no-verify "$spec" >/root/repair-delegation.txt 2>&1
printf 'delegation.repair=%s\n' "$?"
printf 'delegation.repaired=%s\n' "$(cat "/sys/fs/cgroup/user.slice/user-$uid.slice/user@$uid.service/cgroup.controllers")"
verify delegation_repaired --skip-cluster

sysctl -qw net.ipv4.ip_forward=0
systemctl --user -M k3s@ restart k3s-rootless.service
sleep 8 # three quick exits of the stand-in, then systemd's start limit: the unit fails
printf 'ip_forward.unit=%s\n' "$(systemctl --user -M k3s@ is-active k3s-rootless.service)"
verify ip_forward --timeout 20s
groundwork apply --yes --no-verify "$spec" >/root/repair-ip-forward.txt 2>&1
printf 'ip_forward.repair=%s\n' "$?"
printf 'ip_forward.repaired=%s %s\n' "$(sysctl -n net.ipv4.ip_forward)" \
  "$(systemctl --user -M k3s@ is-active k3s-rootless.service)"

verify final --timeout 20s
groundwork drift "$spec" >/dev/null 2>&1
printf 'final.drift=%s\n' "$?"
GUEST
)
kv() { kv_get "$OUT" "$1"; }
# out KEY: verify's output for that case, lines back.
out() { kv "$1.out" | tr '|' '\n'; }

USERNS="FAIL user namespace mapped onto subordinate ids"
NETWORK="FAIL user-mode networking (slirp4netns tap0)"
DELEGATION="FAIL cgroup v2 delegation applies limits"

assert_eq "verify on the converged host" 0 "$(kv baseline.rc)"
assert_contains "verify on the converged host" "$(out baseline)" "healthy"
assert_not_contains "verify on the converged host" "$(out baseline)" "FAIL"
# The cluster stage against the k3s stand-in: verify's plumbing, not a real cluster.
assert_contains "verify on the converged host" "$(out baseline)" "PASS nodes Ready"
assert_contains "verify on the converged host" "$(out baseline)" "PASS kube-system pods running"

# verify_case KEY FAILED_CHECK CAUSE FIX: verify failed, with that check, cause and fix.
verify_case() {
  local key=$1 check=$2 cause=$3 fix=$4 text
  text=$(out "$key")
  vm_log "verify with $key removed:"$'\n'"$text"
  assert_eq "verify exit code without $key" 1 "$(kv "$key.rc")"
  assert_contains "verify without $key" "$text" "$check"
  assert_contains "verify without $key: the diagnosis" "$text" "cause: $cause"
  assert_contains "verify without $key: the fix" "$text" "$fix"
  assert_contains "verify without $key" "$text" "UNHEALTHY"
}

assert_eq "k3s lines left in /etc/subuid" 0 "$(kv subids.guest)"
verify_case subids "$USERNS" "the user has no subordinate ids" "subids: { start: auto, count: 65536 }"
assert_contains "verify without subids: the open plan item" "$(out subids)" "  - subids: add subordinate ids"

verify_case userns "$USERNS" "user.max_user_namespaces is 0" "user.max_user_namespaces: { value: 28633, at_least: true }"
(($(kv userns.secs) < 120)) || fail "verify took $(kv userns.secs) s with user.max_user_namespaces=0"
ok "verify finished in $(kv userns.secs) s with user.max_user_namespaces=0"
assert_eq "unshare processes of k3s left behind by verify" 0 "$(kv userns.leftover)"

assert_eq "tun in /proc/modules after rmmod" 0 "$(kv tun.guest)"
verify_case tun "$NETWORK" "the tun device is unavailable to slirp4netns" "add \`tun\` to \`modules\`"
assert_contains "verify without tun: slirp4netns's own error" "$(out tun)" 'slirp4netns said: open("/dev/net/tun")'
assert_contains "verify without tun: the open plan item" "$(out tun)" "  - modules: load kernel module tun"

assert_eq "controllers of user@ without the drop-in" "cpu memory pids" "$(kv delegation.guest)"
verify_case delegation "$DELEGATION" "cgroup v2 controllers are not delegated" "cgroup.delegate: [cpu, cpuset, io, memory, pids]"
assert_contains "verify without delegation names the missing controllers" "$(out delegation)" "cpuset io"
assert_eq "apply (repair delegation) exit code" 0 "$(kv delegation.repair)"
for c in cpu cpuset io memory pids; do
  assert_match "controllers of user@ after the repair" " $(kv delegation.repaired) " " $c "
done
assert_eq "verify after the delegation repair" 0 "$(kv delegation_repaired.rc)"

assert_match "k3s-rootless.service with ip_forward=0" "$(kv ip_forward.unit)" '^(failed|activating)$'
verify_case ip_forward "FAIL k3s-rootless unit active" "a sysctl k3s checks at start (net.ipv4.ip_forward)" "net.ipv4.ip_forward: 1"
assert_contains "verify with ip_forward=0: the journal line it read" "$(out ip_forward)" "expected sysctl value"
assert_contains "verify with ip_forward=0: no waiting for a unit systemd gave up on" "$(out ip_forward)" "systemd stopped restarting it"
assert_not_contains "verify with ip_forward=0: no diagnosis from the unit's earlier runs" "$(out ip_forward)" \
  "cause: cgroup v2 controllers are not delegated"
assert_contains "verify with ip_forward=0: the smoke test still passes" "$(out ip_forward)" "PASS user namespace mapped"
assert_eq "apply (repair ip_forward) exit code" 0 "$(kv ip_forward.repair)"
assert_eq "ip_forward and the unit after the repair" "1 active" "$(kv ip_forward.repaired)"

assert_eq "verify at the end" 0 "$(kv final.rc)"
assert_eq "drift at the end" 0 "$(kv final.drift)"

vm_stop host
