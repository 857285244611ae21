#!/usr/bin/env bash
# Renders an HTML report offline with headless Chromium, as a reader's browser would:
#   scripts/render-report.sh REPORT.html OUT_DIR [WIDTH,HEIGHT]
# writes OUT_DIR/dom.html (the DOM after parsing: proof that every inline SVG was understood)
# and OUT_DIR/screenshot.png (default window 1200,3000), and OUT_DIR/counts.txt: what the parsed
# page holds, one "name count" a line (plots, series, faint series, interval bands, error bars,
# claims rows, claims by verdict), for a test or a person to compare with the HTML written.
# Network features are off, so a report that needed anything from outside would show it
# missing. Exits 2 when chromium is absent.
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: $0 REPORT.html OUT_DIR [WIDTH,HEIGHT]" >&2
  exit 64
fi
report=$(realpath "$1")
out=$2
size=${3:-1200,3000}
browser=$(command -v chromium || command -v chromium-browser || true)
if [[ -z "$browser" ]]; then
  echo "render-report: chromium not found (apt-get install -y chromium)" >&2
  exit 2
fi
mkdir -p "$out"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
       --disable-background-networking --disable-component-update --disable-sync
       --disable-default-apps --disable-dev-shm-usage --hide-scrollbars --user-data-dir="$profile")
timeout 60 "$browser" "${flags[@]}" --dump-dom "file://$report" >"$out/dom.html" 2>"$out/chromium-dom.log"
timeout 60 "$browser" "${flags[@]}" --window-size="$size" --screenshot="$out/screenshot.png" \
  "file://$report" >/dev/null 2>"$out/chromium-screenshot.log"
test -s "$out/dom.html"
test -s "$out/screenshot.png"
count() { grep -o -- "$1" "$out/dom.html" | wc -l; }
{
  echo "plots $(count '<svg class="plot"')"
  echo "series $(count 'class="series"')"
  echo "faint $(count 'class="series faint"')"
  echo "bands $(count 'class="band"')"
  echo "error-bars $(count 'class="error-bars"')"
  echo "claims $(count '<tr class="claim ')"
  for verdict in supported contradicted inconclusive not-testable; do
    echo "$verdict $(count "<td class=\"verdict $verdict\">")"
  done
} >"$out/counts.txt"
