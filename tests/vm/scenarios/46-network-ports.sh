#!/usr/bin/env bash
# Rootless networking on a converged host (issue #18): the lab spec with ports 8080 and 80
# wanted, through each port driver.
#   slirp4netns  apply lowers net.ipv4.ip_unprivileged_port_start to 80 (as root: no policy to
#                ask); verify's network stage exposes 8080 and 80 from a namespace of k3s's through
#                slirp4netns's add_hostfwd, and root (another user than k3s) reaches the listener
#                inside through each; the cluster stage reaches the stand-in's API port 6443,
#                which it exposes through slirp4netns too; the throughput lines go to the log for
#                the README
#   builtin      the same spec with `port_driver: builtin`: verify leaves the ports to k3s's own
#                driver and still reaches the API port from the host
#   sysctl       ip_unprivileged_port_start back at 1024: verify fails naming the sysctl
#   holder       8080 held by another user's process: verify fails naming the port and holder
# Then apply restores the sysctl and verify passes again.
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

require_groundwork verify --skip-cluster --timeout 20s

vm_start_applied host

OUT=$(vm_script host <<'GUEST'
set -u
lab=/root/lab/lab.yaml
spec=/root/lab/ports.yaml
sed 's/^  ports: \[6443\]$/  ports: [6443, 8080, 80]/' "$lab" >"$spec"
sed 's/^  port_driver: slirp4netns$/  port_driver: builtin/' "$spec" >/root/lab/ports-builtin.yaml
printf 'spec.ports=%s\n' "$(grep -c '^  ports: \[6443, 8080, 80\]$' "$spec")"
# KEY.rc and KEY.out (one line) per run.
run() {
  local key=$1 rc=0
  shift
  timeout 300 "$@" >"/root/out-$key.txt" 2>&1 || rc=$?
  printf '%s.rc=%s\n%s.out=%s\n' "$key" "$rc" "$key" "$(tr '\n' '|' <"/root/out-$key.txt")"
}
run plan groundwork plan "$spec"
run apply groundwork apply --yes --no-verify "$spec"
printf 'sysctl.applied=%s\n' "$(sysctl -n net.ipv4.ip_unprivileged_port_start)"
printf 'sysctl.persisted=%s\n' "$(grep -c '^net.ipv4.ip_unprivileged_port_start = 80$' /etc/sysctl.d/90-groundwork.conf)"
run verify groundwork verify --timeout 60s "$spec"

run apply_builtin groundwork apply --yes --no-verify /root/lab/ports-builtin.yaml
run verify_builtin groundwork verify --timeout 60s /root/lab/ports-builtin.yaml
run apply_back groundwork apply --yes --no-verify "$spec"

sysctl -qw net.ipv4.ip_unprivileged_port_start=1024
run verify_sysctl groundwork verify --skip-cluster "$spec"
sysctl -qw net.ipv4.ip_unprivileged_port_start=80

# Another user's service on 8080, as on a shared host.
setpriv --reuid=nobody --regid=nogroup --clear-groups python3 -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8080)); s.listen(1); time.sleep(600)' &
holder=$!
for _ in $(seq 50); do ss -ltn | grep -q ':8080 ' && break; sleep 0.1; done
printf 'holder.pid=%s\n' "$holder"
run verify_holder groundwork verify --skip-cluster "$spec"
kill "$holder"
wait "$holder" 2>/dev/null

run verify_final groundwork verify --timeout 60s "$spec"
printf 'leftover=%s\n' "$(pgrep -u k3s -f -- 'net-probe|--api-socket=/tmp/groundwork-verify' | wc -l)"
GUEST
)
kv() { kv_get "$OUT" "$1"; }
out() { kv "$1.out" | tr '|' '\n'; }

assert_eq "the ports spec" 1 "$(kv spec.ports)"
assert_eq "plan exit code" 2 "$(kv plan.rc)"
assert_contains "plan" "$(out plan)" "set net.ipv4.ip_unprivileged_port_start = 80"
assert_contains "plan: what it opens" "$(out plan)" "this lets every local user, not only k3s, listen on ports 80 to 1023"
assert_contains "plan: how k3s binds port 80" "$(out plan)" "80 as 10080"
assert_eq "apply exit code" 0 "$(kv apply.rc)"
assert_eq "ip_unprivileged_port_start after apply" 80 "$(kv sysctl.applied)"
assert_eq "the persisted line" 1 "$(kv sysctl.persisted)"

text=$(out verify)
vm_log "verify with ports 8080 and 80 (slirp4netns):"$'\n'"$text"
assert_eq "verify exit code (slirp4netns)" 0 "$(kv verify.rc)"
for port in 8080 80; do
  assert_contains "verify (slirp4netns)" "$text" "PASS host port $port into the namespace (slirp4netns): root connected to 127.0.0.1:$port and reached the listener inside"
done
assert_contains "verify: k3s's own API port" "$text" "PASS host port 6443 into the namespace (slirp4netns): k3s-rootless.service already exposes it"
assert_contains "verify: the client's address" "$text" "a client on 127.0.0.1 arrived as 10.41.0.2, slirp4netns's gateway"
assert_match "verify: throughput beside the loopback" "$text" "PASS throughput host to namespace \(slirp4netns\): [0-9]+ MB/s .*the host's loopback: [0-9]+ MB/s"
assert_contains "verify: the API from the host" "$text" "PASS API server answers from the host: 127.0.0.1:6443 answered a TLS ClientHello"
assert_contains "verify (slirp4netns)" "$text" "healthy"

text=$(out verify_builtin)
vm_log "verify with the builtin driver:"$'\n'"$text"
assert_eq "apply (builtin) exit code" 0 "$(kv apply_builtin.rc)"
assert_eq "verify exit code (builtin)" 0 "$(kv verify_builtin.rc)"
assert_contains "verify (builtin)" "$text" "PASS host ports through the builtin port driver"
assert_contains "verify (builtin): the API from the host" "$text" "PASS API server answers from the host"
assert_eq "apply back to slirp4netns" 0 "$(kv apply_back.rc)"

text=$(out verify_sysctl)
vm_log "verify with ip_unprivileged_port_start=1024:"$'\n'"$text"
assert_eq "verify exit code with the sysctl at 1024" 1 "$(kv verify_sysctl.rc)"
assert_contains "verify with the sysctl at 1024" "$text" "FAIL host port 80 into the namespace (slirp4netns): port 80 is below net.ipv4.ip_unprivileged_port_start (1024)"
assert_contains "verify with the sysctl at 1024: 8080 still passes" "$text" "PASS host port 8080 into the namespace"
assert_contains "verify with the sysctl at 1024: the open plan item" "$text" "set net.ipv4.ip_unprivileged_port_start = 80"

text=$(out verify_holder)
vm_log "verify with 8080 held by nobody:"$'\n'"$text"
assert_eq "verify exit code with 8080 held" 1 "$(kv verify_holder.rc)"
assert_contains "verify with 8080 held" "$text" "FAIL host port 8080 into the namespace (slirp4netns): port 8080 is already held on the host by python3 (pid $(kv holder.pid))"

assert_eq "verify at the end" 0 "$(kv verify_final.rc)"
assert_eq "net-probe and slirp4netns processes left behind" 0 "$(kv leftover)"

vm_stop host
