#!/usr/bin/env bash
# Start the real emergence-tui in a detached tmux session, press keys, read the screen, quit.
# Usage: scripts/tmux_smoke.sh [WIDTHxHEIGHT] [PATH...]   (default 80x24 and the sample data)
# Prints each captured screen between "=== <step> ===" lines; exits non-zero if the app did not
# paint, did not answer keys, or did not quit on q.
set -euo pipefail
cd "$(dirname "$0")/.."
size="${1:-80x24}"; shift || true
width="${size%x*}"; height="${size#*x}"
session="emergence-smoke-$$"
out="${SMOKE_OUT:-}"

capture() {  # capture STEP: print the pane, and save it under $SMOKE_OUT/STEP.txt when set
  local text
  text="$(tmux capture-pane -p -t "$session")"
  echo "=== $1 ==="; echo "$text"
  if [[ -n "$out" ]]; then mkdir -p "$out"; printf '%s\n' "$text" > "$out/$1.txt"; fi
}

wait_for() {  # wait_for TEXT SECONDS: poll the pane until TEXT shows up
  local deadline=$((SECONDS + $2))
  while (( SECONDS < deadline )); do
    tmux capture-pane -p -t "$session" | grep -qF -- "$1" && return 0
    sleep 0.2
  done
  echo "timed out waiting for: $1" >&2; return 1
}

trap 'tmux kill-session -t "$session" 2>/dev/null || true' EXIT
tmux new-session -d -s "$session" -x "$width" -y "$height" \
  "uv run emergence-tui $*; echo EXITED \$?; sleep 30"
wait_for "x=params" 20; capture first-paint
wait_gone() {  # wait_gone TEXT SECONDS: poll the pane until TEXT is no longer shown
  local deadline=$((SECONDS + $2))
  while (( SECONDS < deadline )); do
    tmux capture-pane -p -t "$session" | grep -qE -- "$1" || return 0
    sleep 0.3
  done
  echo "timed out waiting for $1 to go" >&2; return 1
}
wait_gone "[0-9]/[0-9]…" 180; capture overview  # the status line counts stages: "reading files 1/5…"
tmux send-keys -t "$session" "?"; wait_for "keys" 15; capture help
tmux send-keys -t "$session" Escape; sleep 0.5
tmux send-keys -t "$session" Enter; wait_for "Back" 15; sleep 0.5; capture task
tmux send-keys -t "$session" n; sleep 0.5; capture next-metric
tmux send-keys -t "$session" m; sleep 0.7; capture mirage
tmux send-keys -t "$session" Escape; sleep 0.3
tmux send-keys -t "$session" L; wait_for "Mirage lab" 15; capture lab
# q closes the current screen (the lab, then the task view) and quits from the overview
tmux send-keys -t "$session" q; sleep 0.3; tmux send-keys -t "$session" q; sleep 0.3
tmux send-keys -t "$session" q; wait_for "EXITED 0" 10; capture quit
