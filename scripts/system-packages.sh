#!/usr/bin/env bash
# System packages the app needs beyond Python: a Korean font for the PDF report and
# HarfBuzz's subsetter (smaller PDFs). Installed with apt when missing and we are root;
# otherwise we say what to install and go on (the HTML report works without them).
set -u
PACKAGES=(fonts-nanum libharfbuzz-subset0)
missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "installing ${missing[*]} (PDF report fonts)"
    export DEBIAN_FRONTEND=noninteractive
    timeout 600 apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
        || { timeout 300 apt-get update >/dev/null 2>&1 \
             && timeout 600 apt-get install -y --no-install-recommends "${missing[@]}" \
                >/dev/null 2>&1; } \
        || echo "warning: could not install ${missing[*]}; the PDF report needs them" >&2
else
    echo "note: the PDF report needs: sudo apt-get install ${missing[*]}" >&2
fi
exit 0
