#!/usr/bin/env bash
# Installs, from the system's Debian sources and only when missing, what the conformance run needs:
# QEMU, a static busybox for the initramfs, and the kernel's build dependencies.
set -euo pipefail
"$(dirname "${BASH_SOURCE[0]}")/../install-missing.sh" qemu-system-x86 busybox-static flex bison bc libelf-dev libssl-dev cpio xz-utils make gcc libc6-dev
