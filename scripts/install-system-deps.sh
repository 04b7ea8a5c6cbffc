#!/usr/bin/env bash
# System packages Curbside needs beyond Python: the spandsp fax engine, and
# Ghostscript, libtiff and poppler tools for the fax checks and benchmarks, and
# tesseract (the tests read a faxed verification code back off the received page).
# Installs them with apt-get where it is available and we are root; elsewhere
# it names what is missing (see README, "System packages").
set -euo pipefail

packages=(libspandsp2 ghostscript libtiff-tools poppler-utils sqlite3 tesseract-ocr)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "missing system packages: ${missing[*]} (install them with your package manager)" >&2
  exit 1
fi
