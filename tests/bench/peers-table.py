#!/usr/bin/env python3
"""The Markdown table of a peers.sh run: peers-table.py RUN_DIR (hyperfine's JSON, GNU time's
peak RSS and the execve traces that peers.sh brought back from the guest)."""

import json
import statistics
import sys
from pathlib import Path

run = Path(sys.argv[1])
results = {}
# The fast contestants run in interleaved rounds (fast-1.json, ...): their times are pooled, so a
# slow spell of the machine falls on all of them alike instead of on whichever ran then.
for path in sorted(run.glob("fast-*.json")) + [run / "bash.json", run / "ansible.json"]:
    for r in json.loads(path.read_text())["results"]:
        if r["command"] in results:
            results[r["command"]]["times"] += r["times"]
        else:
            results[r["command"]] = r

ORDER = [
    ("groundwork-plan", "`groundwork plan`"),
    ("groundwork-drift", "`groundwork drift`"),
    ("groundwork-apply", "`groundwork apply --yes` (nothing to do)"),
    ("ansible-check", "`ansible-playbook --check`"),
    ("bash-script", "bash script (`drift-check.sh`)"),
    ("floor", "floor (`bench-floor`)"),
]


def ms(s):
    return f"{s * 1000:,.1f}"


def quartiles(times):
    q = statistics.quantiles(times, n=4, method="inclusive")
    return q[0], q[2]


def spawned(trace):
    """Processes started, the program itself excluded (successful execve calls, minus one)."""
    f = run / trace
    if not f.exists():
        return "?"
    ok = [l for l in f.read_text(errors="replace").splitlines() if "execve(" in l and l.rstrip().endswith("= 0")]
    return str(max(len(ok) - 1, 0))


def rss_mib(name):
    f = run / f"{name}.rss"
    values = [int(v) for v in f.read_text().split() if v.isdigit()] if f.exists() else []
    return max(values) / 1024 if values else float("nan")


drift = statistics.median(results["groundwork-drift"]["times"])
print("| program | median (ms) | IQR (ms) | min – max (ms) | runs | ÷ drift | peak RSS (MiB) | processes spawned |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for key, label in ORDER:
    r = results[key]
    t = r["times"]
    med = statistics.median(t)
    q1, q3 = quartiles(t)
    print(
        f"| {label} | {ms(med)} | {ms(q1)} – {ms(q3)} | {ms(min(t))} – {ms(max(t))} | {len(t)} "
        f"| {med / drift:,.2f}× | {rss_mib(key):.1f} | {spawned(key + '.execve')} |"
    )

med = {k: statistics.median(results[k]["times"]) for k, _ in ORDER}
rss = rss_mib("groundwork-drift")
targets = [
    ("ansible --check ÷ drift", med["ansible-check"] / drift, "≥ 50", med["ansible-check"] / drift >= 50),
    ("bash ÷ drift", med["bash-script"] / drift, "> 1", med["bash-script"] / drift > 1),
    ("drift ÷ floor", drift / med["floor"], "≤ 2", drift / med["floor"] <= 2),
    ("no-op apply ÷ drift", med["groundwork-apply"] / drift, "≤ 2", med["groundwork-apply"] / drift <= 2),
    ("drift peak RSS (MiB)", rss, "< 20", rss < 20),
]
print()
print("| target (issues #7, #16) | measured | wanted | met |")
print("|---|---:|---:|---|")
for what, value, wanted, met in targets:
    print(f"| {what} | {value:,.1f} | {wanted} | {'yes' if met else '**no**'} |")
if (run / "drift-cold.strace").exists():
    print(
        f"\ndrift with a cold version cache spawned {spawned('drift-cold.strace')} process(es); "
        f"with a warm one {spawned('groundwork-drift.execve')}."
    )
