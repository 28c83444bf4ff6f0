#!/usr/bin/env bash
# The apply side of the peer benchmark (issue #16): a fresh Debian 12 harness VM, restored from
# the same booted snapshot for every run, converged to the lab spec by each contestant in turn:
#   groundwork   `groundwork apply --yes --no-verify` (verify is not part of converging)
#   ansible      ansible-converge.yml with ansible-core's built-in modules, against localhost
#   bash         converge.sh, the same steps as a shell script
# Each run is timed in the guest; afterwards `groundwork drift` must find the host in sync, so
# that the contestants did equivalent work. apt's share comes from the guest's
# /var/log/apt/history.log (its transactions and their Start/End times, to the second).
#
#   cargo build --release --bins --examples
#   flock /var/tmp/gw-vm-test.lock tests/bench/fresh.sh     # as root; about 15 min under TCG
#
# Settings: GW_BENCH_FRESH_RUNS (runs per contestant, 3), GW_BENCH_OUT (target/bench),
# GROUNDWORK_BIN_DIR (target/release). Prints a Markdown table; raw results in target/bench/.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/../.." && pwd)
OUT=${GW_BENCH_OUT:-$REPO/target/bench}
PAYLOAD=$OUT/payload
RUNS=${GW_BENCH_FRESH_RUNS:-3}

die() {
  echo "fresh: $*" >&2
  exit 1
}

[[ $EUID -eq 0 ]] || die "run as root (the VM harness needs it)"
# The guest's payload (ansible-core for its Python, the bench's files) is peers.sh's.
"$BENCH_DIR/peers.sh" --prepare >/dev/null
cp "$BENCH_DIR/ansible-converge.yml" "$BENCH_DIR/converge.sh" "$PAYLOAD/bench/"
# shellcheck source=../vm/lib.sh
source "$REPO/tests/vm/lib.sh"
require_groundwork apply

run_dir=$OUT/fresh-$(date +%Y%m%d-%H%M%S)
mkdir -p "$run_dir"

# converge NAME RUN: one contestant on a fresh VM; its "RESULT exit seconds drift_rc
# apt_transactions apt_seconds" line goes to $run_dir/NAME-RUN.result. (Not in a subshell: the
# harness's VMs belong to the main shell.)
converge() {
  local name=$1
  vm_start fresh
  vm_install_lab fresh --from-source
  tar -C "$PAYLOAD" -cf - root ansible bench bin |
    vm_ssh fresh 'rm -rf /opt/bench && mkdir -p /opt/bench && tar -x -C /opt/bench'
  (vm_ssh fresh "NAME=$name bash -s" <<'GUEST'
set -u
export PATH=/opt/bench/bin:$PATH
install -m 0755 /root/lab/bin/groundwork /usr/local/bin/groundwork
# The lab spec with the release's sha256 written out instead of `auto`: with `auto`, groundwork
# knows a release's checksum only from its table or from its own verified downloads (a plan
# never downloads), and the other contestants install k3s on their own.
version=$(sed -n 's/^  version: *//p' /root/lab/lab.yaml)
sha=$(cut -d' ' -f1 "/srv/k3s-release/$version/sha256sum-amd64.txt")
lab=/root/lab/lab-pinned.yaml
sed "s/^    sha256: auto\$/    sha256: \"$sha\"/" /root/lab/lab.yaml >"$lab"
grep -q "sha256: \"$sha\"" "$lab" || { echo "RESULT 1 0 1 0 0"; exit 0; }
: >/var/log/apt/history.log
t0=$EPOCHREALTIME
case $NAME in
  groundwork) groundwork apply --yes --no-verify "$lab" ;;
  ansible) ansible-playbook /opt/bench/bench/ansible-converge.yml ;;
  bash) bash /opt/bench/bench/converge.sh ;;
esac >/root/converge.log 2>&1
rc=$?
t1=$EPOCHREALTIME
groundwork drift "$lab" >/root/drift.log 2>&1
drift=$?
apt=$(python3 - <<'PY'
import datetime, re
n, secs, start = 0, 0, None
for line in open("/var/log/apt/history.log"):
    m = re.match(r"(Start|End)-Date: (\S+)\s+(\S+)", line)
    if not m:
        continue
    t = datetime.datetime.strptime(m.group(2) + " " + m.group(3), "%Y-%m-%d %H:%M:%S")
    if m.group(1) == "Start":
        start = t
    elif start is not None:
        n, secs, start = n + 1, secs + (t - start).total_seconds(), None
print(n, int(secs))
PY
)
echo "RESULT $rc $(python3 -c "print(f'{$t1 - $t0:.1f}')") $drift $apt"
GUEST
  ) >"$run_dir/$name-$2.result"
  vm_ssh fresh 'cat /root/converge.log; echo ==== drift; cat /root/drift.log' >"$run_dir/$name-$2.log" 2>&1 || true
  vm_stop fresh
}

results=$run_dir/results.txt
: >"$results"
for ((r = 1; r <= RUNS; r++)); do
  for name in groundwork ansible bash; do
    converge "$name" "$r"
    line=$(sed -n 's/^RESULT //p' "$run_dir/$name-$r.result")
    [[ -n "$line" ]] || die "$name (run $r) printed no result: $run_dir/$name-$r.log"
    read -r rc secs drift txns apt_secs <<<"$line"
    vm_log "$name run $r: exit $rc, $secs s, drift $drift, apt: $txns transaction(s), $apt_secs s"
    ((rc == 0)) || die "$name (run $r) exited $rc: $run_dir/$name-$r.log"
    ((drift == 0)) || die "after $name (run $r), groundwork drift exited $drift: $run_dir/$name-$r.log"
    echo "$name $secs $txns $apt_secs" >>"$results"
  done
done

python3 - "$results" <<'PY' | tee "$run_dir/table.md"
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, secs, txns, apt = line.split()
    rows.setdefault(name, []).append((float(secs), int(txns), int(apt)))
med = {k: statistics.median(s for s, _, _ in v) for k, v in rows.items()}
labels = {"groundwork": "`groundwork apply --yes --no-verify`", "ansible": "`ansible-playbook` (ansible-converge.yml)",
          "bash": "bash script (converge.sh)"}
print("| program | median (s) | min – max (s) | runs | ÷ groundwork | apt transactions | apt (s, median) |")
print("|---|---:|---:|---:|---:|---:|---:|")
for k in ["groundwork", "ansible", "bash"]:
    v = rows[k]
    secs = [s for s, _, _ in v]
    print(f"| {labels[k]} | {med[k]:.1f} | {min(secs):.1f} – {max(secs):.1f} | {len(v)} | {med[k] / med['groundwork']:.2f}× "
          f"| {statistics.median(t for _, t, _ in v):.0f} | {statistics.median(a for _, _, a in v):.0f} |")
print()
print("| target (issue #16) | measured | wanted | met |")
print("|---|---:|---:|---|")
a, b = med["ansible"] / med["groundwork"], med["groundwork"] / med["bash"]
print(f"| ansible ÷ groundwork | {a:.2f} | ≥ 3 | {'yes' if a >= 3 else '**no**'} |")
print(f"| groundwork ÷ bash | {b:.2f} | ≤ 1.2 | {'yes' if b <= 1.2 else '**no**'} |")
PY
vm_log "raw results in $run_dir"
