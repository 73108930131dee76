#!/usr/bin/env bash
# Installs the system packages corematrix needs, with apt. Idempotent: a package
# already present is left alone, and apt-get update runs only when something is missing.
#
#   qemu-system-x86  boots the kernels of the matrix
#   qemu-system-arm  boots arm64 kernels (qemu-system-aarch64, the virt machine; TCG on x86)
#   clang, llvm      compile the BPF probes (make generate; bpf2go calls clang and llvm-strip),
#                    plus clang-N/llvm-N of the major version in probes/bpf/CLANG_VERSION, which
#                    make generate-check needs to reproduce the committed objects byte for byte
#   libbpf-dev       bpf_helpers.h, bpf_core_read.h, bpf_tracing.h for the probes
#   ca-certificates  TLS for OCI registries
#   busybox-static   the guest's userland: /bin/busybox (static) and its applets (/bin/sh, ...)
#                    are packed into every initramfs
#   debian-archive-keyring  verifies the Debian archive's InRelease files (without it Debian
#                    kernels are refused, unless --allow-unverified)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
clang_version=$(tr -d '[:space:]' < "$here/../probes/bpf/CLANG_VERSION")
packages=(qemu-system-x86 qemu-system-arm clang llvm "clang-$clang_version" "llvm-$clang_version" libbpf-dev ca-certificates busybox-static debian-archive-keyring)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all present: ${packages[*]}"
	exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

echo "install-deps: installing: ${missing[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install-deps: done"
