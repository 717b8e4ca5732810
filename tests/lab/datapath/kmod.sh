# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck shell=bash
#
# Datapath "kmod": anypin.ko, configured by sysctl in each lab namespace
# (the client role on the client, the responder role on both instances,
# from `lab_anypin_conf`). The module must be loaded, or loadable from
# $ANYPIN_KO (inside the VM harness: tests/vm/run sets it). A module this
# file loads stays loaded: its state is per namespace, and lab_down
# deletes the namespaces.  datapath_restart unloads it (with its flows,
# in every namespace) and loads it again.

kmod__loaded() {
	[ -d /proc/sys/net/anypin ]
}

datapath_available() {
	kmod__loaded && return 0
	if [ -z "${ANYPIN_KO:-}" ]; then
		echo "anypin.ko is not loaded and ANYPIN_KO is not set (run in the VM: tests/vm/run)"
		return 1
	fi
	if [ ! -e "$ANYPIN_KO" ]; then
		echo "no module at ANYPIN_KO=$ANYPIN_KO"
		return 1
	fi
	if [ ! -e /proc/modules ]; then
		echo "this kernel cannot load modules"
		return 1
	fi
	return 0
}

# kmod__apply NS ROLE: the lab's configuration, line by line, as
# systemd-sysctl would apply a sysctl.d file.
kmod__apply() {
	local line key value kvs=()
	while IFS= read -r line; do
		key=${line%%=*}
		value=${line#*=}
		key=${key%"${key##*[! ]}"}
		value=${value#"${value%%[! ]*}"}
		kvs+=("$key=$value")
	done <<<"$(lab_anypin_conf "$2")"
	lab_sysctl "$1" "${kvs[@]}"
}

datapath_start() {
	local ns
	if ! kmod__loaded; then
		# A module installed on the system (DKMS) when ANYPIN_KO is unset.
		if [ -n "${ANYPIN_KO:-}" ]; then
			insmod "$ANYPIN_KO" || return 1
		else
			modprobe anypin || return 1
		fi
	fi
	kmod__apply client client || return 1
	kmod__apply inst1 inst1 || return 1
	kmod__apply inst2 inst2 || return 1
	for ns in client inst1 inst2; do
		lab_ns "$ns" test -e /proc/net/anypin/flows || return 1
	done
}

datapath_stop() {
	local ns
	kmod__loaded || return 0
	for ns in client inst1 inst2; do
		lab_sysctl "$ns" net.anypin.prefixes= 2>/dev/null || true
	done
}

# apstat NS NAME [ROW]: a counter of /proc/net/anypin/stats in the lab's
# namespace NS (row "total" by default); nothing if there is no such row
# or column.
apstat() {
	# shellcheck disable=SC2016  # an awk program
	lab_ns "$1" awk -v c="$2" -v r="${3:-total}" '
		NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
		$1 == r && col[c] { print $col[c] }' /proc/net/anypin/stats
}

datapath_restart() {
	if kmod__loaded; then
		rmmod anypin || return 1
	fi
	datapath_start
}
