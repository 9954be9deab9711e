#!/usr/bin/env bash
# The interactive report's browser test (tests/report/test_html_chromium.py) opens report.html in
# headless Chromium through chromedriver (Selenium; no browser is downloaded). Installs Debian's
# chromium and chromium-driver when they are missing and we may (root with apt-get); otherwise
# says exactly what to do. Never fails the build: without them that test skips with this reason.
set -u
have() { command -v "$1" >/dev/null 2>&1; }
browser=""
for b in chromium chromium-browser google-chrome; do
  if have "$b"; then browser="$(command -v "$b")"; break; fi
done
if [ -n "$browser" ] && have chromedriver; then
  echo "Chromium for the report test: $browser with $(command -v chromedriver)"; exit 0
fi
if [ "$(id -u)" = "0" ] && have apt-get; then
  echo "installing chromium and chromium-driver for the report test (apt-get)"
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    chromium chromium-driver >/dev/null \
    && { echo "Chromium for the report test: installed"; exit 0; }
fi
echo "warning: chromium and chromedriver not found; the report's browser test will be skipped." >&2
echo "         install them with: sudo apt-get install chromium chromium-driver" >&2
exit 0
