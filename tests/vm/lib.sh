# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2034  # VM_BUILD...: for the sourcing scripts
# Shared by tests/vm/{deps,run,check,debug-kernel}: where things are, which
# kernel a name like "6.1" or "6.12" means.

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$VM_DIR/../.." && pwd)
VM_BUILD=${ANYPIN_VM_BUILD:-$REPO/build/vm}
VM_KERNELS_DEFAULT=(6.1 6.12)
# The debug kernel (tests/vm/debug-kernel): the source package it is built
# from and what building it needs.
VM_DEBUG_SOURCE_PKG=linux-source-6.12
VM_DEBUG_BUILD_DEPS=(make gcc libc6-dev bc bison flex libelf-dev libssl-dev perl xz-utils kmod)

vm_die() { echo "vm: $*" >&2; exit 125; }
vm_log() { echo "vm: $*" >&2; }

# Meta-package whose dependency names the kernel of a series:
# "6.1" is what linux-headers-amd64 points to on bookworm, any other "X.Y"
# is the linux-headers-X.Y-amd64 meta-package (6.12 on bookworm-security).
vm_meta_for() {
	case $1 in
	6.1 | default) echo linux-headers-amd64 ;;
	*) echo "linux-headers-$1-amd64" ;;
	esac
}

# Prints the kernel release (e.g. 6.12.117+deb12-amd64) for 6.1, 6.12 or a
# full release. The installed meta-package wins over apt's candidate, so an
# `apt-get update` alone never switches the harness to another kernel.
vm_resolve_kernel() {
	local arg=$1 meta dep
	if ! [[ $arg =~ ^[0-9]+\.[0-9]+$ || $arg == default ]]; then
		echo "$arg"
		return
	fi
	meta=$(vm_meta_for "$arg")
	if dpkg-query -W -f='${Status}' "$meta" 2>/dev/null | grep -q 'ok installed'; then
		dep=$(dpkg-query -W -f='${Depends}' "$meta")
	else
		dep=$(apt-cache depends --important "$meta" 2>/dev/null |
			sed -n 's/^ *Depends: //p' | head -n1)
	fi
	# shellcheck disable=SC2020  # both separators become newlines, on purpose
	dep=$(printf '%s\n' "$dep" | tr ',|' '\n\n' | sed -n 's/^ *linux-headers-\([^ ]*\).*/\1/p' | head -n1)
	[ -n "$dep" ] || return 1
	case $arg in
	default) ;;
	*) [[ $dep == "$arg".* ]] || { vm_log "$meta points to $dep, not a $arg kernel"; return 1; } ;;
	esac
	echo "$dep"
}

# Kbuild cannot build an external module whose path has blanks ("building
# multiple external modules is not supported"). vm_kbuild_path DIR prints
# DIR, or if it has blanks a symbolic link to it whose path has none, the
# same from one run to the next so that make stays incremental.
vm_kbuild_path() {
	local dir=$1 base link
	if ! [[ $dir =~ [[:space:]] ]]; then
		echo "$dir"
		return
	fi
	base=/tmp/anypin-kbuild-$(id -u)
	mkdir -m 700 "$base" 2>/dev/null || true
	if [ -d "$base" ] && [ ! -L "$base" ] && [ -O "$base" ]; then
		link=$base/$(printf %s "$dir" | sha256sum | cut -c1-16)
	else
		link=$(mktemp -d /tmp/anypin-kbuild.XXXXXX)/d
	fi
	ln -sfn "$dir" "$link"
	echo "$link"
}
