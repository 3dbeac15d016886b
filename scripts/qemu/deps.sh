#!/usr/bin/env bash
# Installs, from the system's Debian sources and only when missing, what the conformance run needs:
# QEMU, a static busybox for the initramfs, and the kernel's build dependencies.
set -euo pipefail
packages=(qemu-system-x86 busybox-static flex bison bc libelf-dev libssl-dev cpio xz-utils make gcc libc6-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps.sh: installing ${missing[*]}" >&2
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
