#!/usr/bin/env bash
# Installs the Debian 12 packages antechamber needs, only those missing (apt-get update once).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache
  libboost1.81-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libssl-dev prometheus-cpp-dev libhiredis-dev redis-server
  libgtest-dev libgmock-dev libbenchmark-dev
  curl
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
