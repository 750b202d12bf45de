#!/usr/bin/env bash
# docs/report.png, the README's picture of the HTML report: the toy model's check (offline,
# about a second once built) as `check --html` writes it, shot by headless Chromium at
# 1000 px wide, its top part only. Needs Debian's chromium (apt-get install -y chromium).
#
#   scripts/screenshot.sh [OUT.png]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-docs/report.png}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cargo run --quiet --no-default-features -- check circuits/toy-induction.circuit --quiet \
  --cache-dir "$work/cache" --html "$work/report.html" >/dev/null
# The viewport is what is shot: its height crops the page.
chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
  --user-data-dir="$work/profile" --window-size=1000,1375 \
  --screenshot="$work/report.png" "file://$work/report.html" >/dev/null 2>&1
cp "$work/report.png" "$out"
echo "wrote $out ($(wc -c <"$out") bytes)"
