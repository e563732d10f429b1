#!/usr/bin/env bash
# Installs the native libraries IUMAD links against (SPEC §3), only those that are missing.
# Idempotent; works as root or through sudo.
set -euo pipefail

PACKAGES=(libopenmpi-dev openmpi-bin libopenblas-dev libtiff-dev libpng-dev libzstd-dev pkg-config)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
# Python with NumPy and pip (weights conversion, fixture scripts): any installation will do,
# Debian's packages only when none is on PATH.
command -v python3 >/dev/null 2>&1 || missing+=(python3)
python3 -c "import numpy" >/dev/null 2>&1 || missing+=(python3-numpy)
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: native packages and Python present"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "setup: need root or sudo to install: ${missing[*]}" >&2
  exit 1
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
