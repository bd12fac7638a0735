#!/usr/bin/env bash
# Does a browser play what Kinema writes? Renders a clip as webm and mp4, loads each in headless
# Chromium (Debian's `chromium` package), seeks to 0.5 s, and prints size, duration and the
# number of red pixels drawn to a canvas (the demo's red circle).
#   bash bench/browser/check_playback.sh          # needs: apt-get install chromium
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v chromium >/dev/null || { echo "chromium not installed (apt-get install chromium)"; exit 1; }
work=$(mktemp -d)
cp bench/browser/play.html "$work/"
prompt="a large red circle bouncing on a black background"
for ext in webm mp4; do
  .venv/bin/kinema world render "$prompt" -o "$work/demo.$ext" --force >/dev/null
  timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$(mktemp -d)" --allow-file-access-from-files --virtual-time-budget=8000 \
    --dump-dom "file://$work/play.html#demo.$ext" 2>/dev/null \
    | grep -o '<pre id="out">[^<]*' | sed 's/<pre id="out">//'
done
