#!/usr/bin/env bash
# Debian packages the tests need: the Vulkan loader and Mesa 25's lavapipe (software Vulkan,
# from bookworm-backports: Dawn refuses Debian 12's Mesa 22), and Chromium for browser tests.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
ldconfig -p | grep -q 'libvulkan.so.1 ' || need+=(vulkan)
ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || need+=(mesa)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ ${#need[@]} -eq 0 ] && { echo "system packages present"; exit 0; }
if [ ! -f /etc/apt/sources.list.d/backports.list ]; then
  uri=$(sed -n 's/^URIs: //p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
  [ -n "$uri" ] || uri=http://deb.debian.org/debian
  echo "deb $uri bookworm-backports main" > /etc/apt/sources.list.d/backports.list
fi
apt-get update -qq
apt-get install -y -qq libvulkan1 >/dev/null
apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers >/dev/null
apt-get install -y -qq chromium >/dev/null
echo "installed: ${need[*]}"
