#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The Debian packages on a running kernel, inside the VM (make vm-dkms):
#   make deb
#   tests/vm/run --kernel 6.12 --no-module --timeout 1800 -- tests/vm/dkms.sh
# Installs build/deb/anypin-dkms_VERSION_all.deb with dpkg -i, whose
# postinst has DKMS build and install anypin.ko for the running kernel;
# loads it with modprobe, configures prefixes, reads them with the anypinctl
# of build/deb/anypind_*.deb, unloads it, removes both packages. Every
# change is lost at power-off (the guest's root is an overlay).
# One PASS/FAIL line per check, then `N passed, N failed`.
set -u -o pipefail
# shellcheck source=guest.sh
. tests/vm/guest.sh
guest_init dkms

kver=$(uname -r)
finish() {
	say "${SECONDS}s in the guest"
	guest_done
}
# Runs "$@" quietly; on failure shows the end of what it printed.
quiet() {
	local log=/tmp/dkms-test.log
	"$@" > "$log" 2>&1 && return 0
	sed 's/^/  | /' "$log" | tail -n 30
	return 1
}

# It installs packages and mounts /boot: only ever in the guest.
if [ "${ANYPIN_VM:-}" != 1 ] || [ "$(cat /proc/sys/kernel/hostname)" != anypin-vm ]; then
	echo "dkms.sh: run me inside the VM: tests/vm/run --kernel 6.12 --no-module --timeout 1800 -- $0" >&2
	exit 2
fi
version=$(cat VERSION)
arch=$(dpkg --print-architecture)
dkms_deb=build/deb/anypin-dkms_${version}_all.deb
anypind_deb=build/deb/anypind_${version}_$arch.deb
for f in "$dkms_deb" "$anypind_deb"; do
	[ -e "$f" ] || { fail setup "no $f (make deb first)"; finish; }
done
# dpkg and DKMS write /var/lib, /usr/src and /lib/modules: the overlay
# root has them writable, the anypin_rofs mode does not.
if ! touch /usr/src/.anypin-dkms-test 2> /dev/null; then
	fail setup "the root is not writable (anypin_rofs?): dpkg needs the overlay root"
	finish
fi
rm -f /usr/src/.anypin-dkms-test
for p in anypin-dkms anypind; do
	if dpkg-query -W -f='${Status}' "$p" 2> /dev/null | grep -q installed; then
		fail setup "$p is already installed in the host's root"
		finish
	fi
done
# The guest's /lib/modules/$kver is the kernel image's tree (tests/vm/run
# extracts linux-image, never installs it), so it lacks the build link
# that linux-headers-$kver adds; the headers themselves are the host's.
if [ ! -e "/lib/modules/$kver/build" ]; then
	[ -d "/usr/src/linux-headers-$kver" ] ||
		{ fail setup "no /usr/src/linux-headers-$kver (tests/vm/deps $series)"; finish; }
	ln -s "/usr/src/linux-headers-$kver" "/lib/modules/$kver/build"
fi
# The host's /boot lists the host's kernels (installing the 6.12 headers
# brings that image there): left visible, DKMS's postinst would also build
# for the newest of them, in a 6.1 guest a second build under TCG. The
# guest's /boot is the running kernel's own, from the image tests/vm/run
# extracted.
mount -t tmpfs -o mode=755 boot /boot
img=${ANYPIN_VM_BUILD:-$ANYPIN_REPO/build/vm}/$kver/root/boot
cp "$img/config-$kver" "$img/System.map-$kver" /boot/ 2> /dev/null ||
	say "no /boot files of $kver: DKMS's depmod runs without System.map"

# 1. anypin-dkms: the postinst builds and installs the module (shown as
# it goes: under TCG this is the long part).
export DEBIAN_FRONTEND=noninteractive
say "dpkg -i $dkms_deb"
t=$SECONDS
if dpkg -i "$dkms_deb" 2>&1 | sed -u 's/^/  | /'; then
	built=$(dkms status anypin 2> /dev/null | sed -n 's/^anypin[/,] *[^,]*, \([^,]*\),.*: installed.*/\1/p' | paste -sd' ')
	pass dpkg-install "anypin-dkms $version installed in $((SECONDS - t))s, DKMS built it for: ${built:-nothing}"
else
	fail dpkg-install "dpkg -i $dkms_deb failed after $((SECONDS - t))s"
	tail -n 40 "/var/lib/dkms/anypin/$version/build/make.log" 2> /dev/null | sed 's/^/  | /'
	finish
fi
[ -f "/usr/src/anypin-$version/dkms.conf" ] &&
	grep -qx "PACKAGE_VERSION=\"$version\"" "/usr/src/anypin-$version/dkms.conf"
verdict source "/usr/src/anypin-$version with dkms.conf for $version" \
	"no /usr/src/anypin-$version/dkms.conf with PACKAGE_VERSION=\"$version\""
st=$(dkms status -k "$kver" anypin/"$version" 2> /dev/null)
if grep -q "^anypin[/,] *$version, $kver, [^:]*: installed" <<< "$st"; then
	pass dkms-status "$st"
else
	fail dkms-status "for $kver: '$st'"
fi
ko=$(modinfo -k "$kver" -n anypin 2> /dev/null)
case $ko in
"/lib/modules/$kver/updates/dkms/anypin.ko"*)
	vm=$(modinfo -F vermagic "$ko" | cut -d' ' -f1)
	[ "$vm" = "$kver" ]
	verdict module-file "$ko (vermagic $vm)" "$ko is built for '$vm', not $kver"
	;;
*) fail module-file "modinfo -n anypin gives '$ko', not DKMS's /lib/modules/$kver/updates/dkms/" ;;
esac

# 2. The installed module, loaded by name.
if quiet modprobe anypin && loaded; then
	pass modprobe "anypin loaded from $(modinfo -n anypin)"
else
	fail modprobe "modprobe anypin"
	finish
fi
d=/proc/sys/net/anypin
if [ -d $d ] && echo "dns=192.0.2.0/24 web6=2001:db8:a::/48" > $d/prefixes 2> /dev/null &&
	[ "$(cat $d/prefixes)" = "dns=192.0.2.0/24 web6=2001:db8:a::/48" ] &&
	[ "$(cat $d/prefix/dns/role)" = client ]; then
	pass sysctl "prefixes written and read back, $d/prefix/dns/role = client"
else
	fail sysctl "$d: prefixes '$(cat $d/prefixes 2>&1)'"
fi
if ! echo "dns=192.0.2.300/24" > $d/prefixes 2> /dev/null &&
	[ "$(cat $d/prefixes)" = "dns=192.0.2.0/24 web6=2001:db8:a::/48" ]; then
	pass sysctl-invalid "a bad prefix is refused, the old value stays"
else
	fail sysctl-invalid "dns=192.0.2.300/24 was taken: '$(cat $d/prefixes)'"
fi

# 3. anypind and anypinctl from their package, anypinctl on the module.
say "dpkg -i $anypind_deb"
t=$SECONDS
if quiet dpkg -i "$anypind_deb"; then
	pass dpkg-install-anypind "anypind $version installed in $((SECONDS - t))s"
	v=$(anypind --version 2>&1)
	[ "$v" = "anypind $version" ]
	verdict anypind-version "$v" "'$v', not 'anypind $version'"
	anypind --help > /dev/null 2>&1
	verdict anypind-help "exit 0" "anypind --help failed"
	v=$(anypinctl --version 2>&1)
	[[ $v == *"$version"* ]]
	verdict anypinctl-version "$v" "'$v'"
	s=$(anypinctl --module stats 2>&1)
	grep -q '^dns ' <<< "$s" && grep -q '^web6 ' <<< "$s"
	verdict anypinctl-module "anypinctl --module stats lists the module's prefixes dns and web6" \
		"anypinctl --module stats: $(head -c 300 <<< "$s")"
	# The shipped example's client section, uncommented, on both datapaths.
	ex=/usr/share/doc/anypind/examples/60-anypin.conf
	sed -n '/client role/,/responder role/s/^#\(net\.anypin\.\)/\1/p' $ex > /tmp/client.conf
	want=$(sed -n 's/^net\.anypin\.prefixes *= *//p' /tmp/client.conf)
	e=$(anypind --check -c /tmp/client.conf 2>&1)
	verdict example-anypind "anypind --check accepts the client example of $ex ($want)" \
		"anypind --check of the client example of $ex ($(wc -l < /tmp/client.conf) lines): $(head -n 3 <<< "$e")"
	[ -n "$want" ] && sysctl -q -p /tmp/client.conf && [ "$(cat $d/prefixes)" = "$want" ]
	verdict example-sysctl "sysctl -p of the same lines configures the module" \
		"sysctl -p /tmp/client.conf: prefixes '$(cat $d/prefixes)', not '$want'"
	unit=/lib/systemd/system/anypind.service
	exe=$(sed -n 's/^ExecStart=[-@!+]*\([^ ]*\).*/\1/p' $unit 2> /dev/null | head -n1)
	[ -n "$exe" ] && [ -x "$exe" ]
	verdict unit "$unit runs $exe" "$unit: ExecStart '$exe' is not an executable"
	m=0
	for f in man7/anypin.7 man8/anypind.8 man8/anypinctl.8; do
		[ -e "/usr/share/man/$f.gz" ] && m=$((m + 1))
	done
	[ $m = 3 ]
	verdict manpages "anypin.7, anypind.8, anypinctl.8" "$m of 3 man pages"
else
	fail dpkg-install-anypind "dpkg -i $anypind_deb"
fi

# 4. Unload, remove.
echo > $d/prefixes
if quiet rmmod anypin && ! loaded; then
	pass rmmod "anypin unloaded"
else
	fail rmmod "rmmod anypin"
fi
if dpkg-query -W anypind > /dev/null 2>&1; then
	quiet dpkg -r anypind && [ ! -e /usr/sbin/anypind ] && [ ! -e /usr/sbin/anypinctl ]
	verdict dpkg-remove-anypind "anypind and anypinctl gone" "dpkg -r anypind"
fi
say "dpkg -r anypin-dkms"
t=$SECONDS
if quiet dpkg -r anypin-dkms; then
	left=$(dkms status anypin 2> /dev/null)
	if [ -z "$left" ] && [ ! -e "/usr/src/anypin-$version" ] &&
		! ls /lib/modules/"$kver"/updates/dkms/anypin.ko* > /dev/null 2>&1 &&
		! modprobe -n anypin 2> /dev/null; then
		pass dpkg-remove "anypin-dkms removed in $((SECONDS - t))s: no DKMS entry, source or module left"
	else
		fail dpkg-remove "left behind: dkms status '$left'; $(echo /usr/src/anypin-* /lib/modules/"$kver"/updates/dkms/anypin.ko*)"
	fi
else
	fail dpkg-remove "dpkg -r anypin-dkms"
fi
finish
