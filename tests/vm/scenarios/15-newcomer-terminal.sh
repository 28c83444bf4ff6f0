#!/usr/bin/env bash
# The README's first steps, typed on a real terminal (tmux in the guest) by a newcomer on a fresh
# host where groundwork's package is installed (`apt install ./groundwork.deb`, the README's
# install): plan, plan --out, apply of the saved plan with its prompt answered by hand, verify. The
# screen is checked after each: the hint names the saved plan, apply's prompt waits for "yes"
# and shows no hint above itself, verify reports each check and ends healthy (its cluster stage
# against the k3s stand-in: verify's plumbing, not a real cluster).
# suite-timeout: 900
# shellcheck source-path=SCRIPTDIR/..
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

require_groundwork apply --no-verify

vm_start host
vm_install_lab host
GW_CMD=$(vm_ssh host "DEBIAN_FRONTEND=noninteractive apt-get install -y -q $GW_LAB/groundwork.deb >/root/install.txt 2>&1 &&
  command -v groundwork") || fail "apt-get install ./groundwork.deb failed: $(vm_ssh host 'tail -n 20 /root/install.txt')"
assert_eq "groundwork on root's PATH, from the package" /usr/bin/groundwork "$GW_CMD"
vm_ssh host "command -v tmux >/dev/null" || fail "the VM image has no tmux (tests/vm/packages/base.txt)"

# type TEXT: types a line into the terminal, as a person would, and presses Enter.
type_line() { vm_ssh host "tmux send-keys -t gw -l $(printf '%q' "$1") && tmux send-keys -t gw Enter"; }
# screen: the terminal's whole scrollback as it shows now.
screen() { vm_ssh host "tmux capture-pane -p -J -S - -t gw"; }
# await TEXT SECONDS: waits until the screen shows TEXT.
await() {
  local text=$1 secs=$2 start=$SECONDS
  until screen | grep -qF -- "$text"; do
    ((SECONDS - start < secs)) || fail "the terminal never showed '$text' within $secs s:"$'\n'"$(screen | tail -n 40)"
    sleep 2
  done
}
# done_marker N: what the shell types after command N so that its end and exit code show as a
# line `[done N: CODE]`; printf's arguments keep that line out of the typed command itself.
done_marker() { printf '; printf "[%%s %%s: %%s]\\n" done %s $?' "$1"; }
exit_of() { screen | sed -n "s/^\[done $1: \([0-9]*\)\]$/\1/p" | tail -n 1; }
# await_done N SECONDS: waits until command N has finished.
await_done() {
  local start=$SECONDS
  until [[ -n "$(exit_of "$1")" ]]; do
    ((SECONDS - start < $2)) || fail "command $1 did not finish within $2 s:"$'\n'"$(screen | tail -n 40)"
    sleep 2
  done
}
# run TEXT SECONDS: types a command and waits for it to finish.
N=0
run() {
  N=$((N + 1))
  type_line "$1$(done_marker $N)"
  await_done $N "$2"
}

vm_ssh host "tmux new-session -d -s gw -x 160 -y 50 -e TERM=xterm-256color; tmux set -t gw history-limit 20000"

spec=$GW_LAB/lab.yaml
run "groundwork plan $spec" 60
assert_eq "plan's exit code on the terminal" 2 "$(exit_of 1)"
assert_contains "plan on the terminal" "$(screen)" "groundwork plan for user k3s from $spec"
assert_contains "plan on the terminal: the next step" "$(screen)" "Run \`groundwork apply $spec\` to make these changes."

run "groundwork plan $spec --out /root/first.plan" 60
assert_eq "plan --out's exit code" 2 "$(exit_of 2)"
assert_contains "plan --out: the hint names the saved plan" "$(screen)" "Run \`groundwork apply /root/first.plan\` to make these changes."

vm_ssh host "tmux clear-history -t gw; tmux send-keys -t gw clear Enter"
type_line "groundwork apply /root/first.plan --no-verify$(done_marker 3)"
await "Apply these changes? Only 'yes' is accepted:" 60
before_answer=$(screen)
assert_not_contains "apply's prompt: no hint to run apply above it" "$before_answer" "Run \`groundwork apply"
assert_eq "apply waits for the answer (no exit yet)" "" "$(exit_of 3)"
type_line "yes"
await_done 3 600
vm_log "apply on the terminal:"$'\n'"$(screen | tail -n 30)"
assert_eq "apply's exit code" 0 "$(exit_of 3)"
assert_match "apply's steps on the terminal" "$(screen)" '^\[[0-9]+/[0-9]+\] .*(changed|ok): '

N=3
run "groundwork verify --timeout 120s $spec" 400
vm_log "verify on the terminal:"$'\n'"$(screen | tail -n 20)"
assert_eq "verify's exit code" 0 "$(exit_of 4)"
for check in "user namespace mapped onto subordinate ids" "user-mode networking" "fuse and tun devices usable" "cgroup v2 delegation applies limits"; do
  assert_contains "verify on the terminal" "$(screen)" "PASS $check"
done
assert_match "verify's last word" "$(screen | grep -v '^\[done' | grep -v '^$' | tail -n 2)" '^healthy$'

vm_stop host
