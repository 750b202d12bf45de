#!/usr/bin/env bash
# docs/report.png, the README's picture of the HTML report: the toy model's check (offline,
# about a second once built) as `check --html` writes it, shot by headless Chromium at
# 1000 px wide, its top part only. Needs Debian's chromium (apt-get install -y chromium).
#
# With --ioi MODEL, docs/report-ioi.png instead: `check circuits/ioi.circuit --model MODEL`
# on 40 prompts at 1200 px wide, its completeness and minimality sections only (the page's header, the
# warnings among it, kept). MODEL is any GPT-2-shaped model directory; the README's picture
# is of one with random weights.
#
#   scripts/screenshot.sh [OUT.png]
#   scripts/screenshot.sh --ioi MODEL [OUT.png]
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

shoot() { # PAGE WIDTH HEIGHT OUT
  # The viewport is what is shot: its height crops the page.
  chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
    --user-data-dir="$work/profile" --window-size="$2,$3" \
    --screenshot="$work/shot.png" "file://$1" >/dev/null 2>&1
  cp "$work/shot.png" "$4"
  echo "wrote $4 ($(wc -c <"$4") bytes)"
}

if [ "${1:-}" = "--ioi" ]; then
  model="$2"
  out="${3:-docs/report-ioi.png}"
  # Exit 1 is an unmet expectation, as random weights give.
  cargo run --quiet --no-default-features -- check circuits/ioi.circuit --model "$model" \
    --n 40 --no-cache --quiet --html "$work/full.html" >/dev/null 2>&1 || [ $? -eq 1 ]
  # Every section but completeness and minimality left out (each starts and ends a line).
  awk '/^<section id="/ { keep = ($0 ~ /id="(completeness|minimality)"/) }
       !/^<section id="/ && !keep && skipping { if (/^<\/section>/) skipping = 0; next }
       /^<section id="/ && !keep { skipping = 1; next }
       { print }' "$work/full.html" >"$work/report.html"
  shoot "$work/report.html" 1200 2650 "$out"
  exit
fi

out="${1:-docs/report.png}"
cargo run --quiet --no-default-features -- check circuits/toy-induction.circuit --quiet \
  --cache-dir "$work/cache" --html "$work/report.html" >/dev/null
shoot "$work/report.html" 1000 1375 "$out"
