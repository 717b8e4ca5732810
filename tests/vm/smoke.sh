#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Smoke test of the VM and the module, run inside the guest:
#   tests/vm/run --kernel 6.12 -- tests/vm/smoke.sh
# Loads and unloads anypin.ko 50 times, then checks what the scenarios need:
# network namespaces, veth, TCP over IPv4 and IPv6, every iptables variant
# the host has, nft, NFQUEUE with bypass, tc netem, python3, iperf3, scapy.
set -u
# (Its own report: one PASS/FAIL line for the whole smoke test.)
# shellcheck source=guest.sh
. tests/vm/guest.sh
name=vm-smoke-$series
fails=()
oks=()
notes=()
fail() { fails+=("$*"); echo "smoke: [${SECONDS}s] FAIL: $*"; }
ok() { oks+=("$*"); echo "smoke: [${SECONDS}s] ok: $*"; }
note() { notes+=("$*"); echo "smoke: [${SECONDS}s] note: $*"; }
has() { command -v "$1" > /dev/null; }
A() { ip netns exec smoke-a "$@"; }
B() { ip netns exec smoke-b "$@"; }

# 1. anypin.ko: 50 load/unload cycles.
loops=50
if [ -z "${ANYPIN_KO:-}" ] || [ ! -e "$ANYPIN_KO" ]; then
	fail "no module (ANYPIN_KO='${ANYPIN_KO:-}')"
else
	vm=$(modinfo -F vermagic "$ANYPIN_KO" | cut -d' ' -f1)
	[ "$vm" = "$(uname -r)" ] || fail "anypin.ko is built for $vm, not $(uname -r)"
	i=0
	while [ $i -lt $loops ]; do
		i=$((i + 1))
		insmod "$ANYPIN_KO" || { fail "insmod #$i"; break; }
		loaded || { fail "not in /proc/modules after insmod #$i"; break; }
		rmmod anypin || { fail "rmmod #$i"; break; }
		! loaded || { fail "still in /proc/modules after rmmod #$i"; break; }
	done
	[ $i = $loops ] && [ ${#fails[@]} = 0 ] && ok "${loops}x insmod/rmmod"
fi

# 2. Two namespaces joined by veth, TCP over both families.
setup_ns() {
	ip netns add smoke-a && ip netns add smoke-b &&
		ip link add va netns smoke-a type veth peer name vb netns smoke-b &&
		ip -n smoke-a addr add 10.99.0.1/24 dev va &&
		ip -n smoke-b addr add 10.99.0.2/24 dev vb &&
		ip -n smoke-a addr add fd00:99::1/64 dev va nodad &&
		ip -n smoke-b addr add fd00:99::2/64 dev vb nodad &&
		ip -n smoke-a link set lo up && ip -n smoke-b link set lo up &&
		ip -n smoke-a link set va up && ip -n smoke-b link set vb up
}
www=$(mktemp -d)
echo anypin > "$www/f"
pids=()
fetch() { # fetch URL: the body, or nothing
	A curl -s -g --max-time 5 "$1" 2> /dev/null
}
if setup_ns; then
	ok "ip netns + veth"
	B python3 -m http.server --bind 10.99.0.2 --directory "$www" 8080 > /dev/null 2>&1 &
	pids+=($!)
	B python3 -m http.server --bind fd00:99::2 --directory "$www" 8080 > /dev/null 2>&1 &
	pids+=($!)
	for _ in $(seq 50); do
		[ "$(fetch http://10.99.0.2:8080/f)" = anypin ] &&
			[ "$(fetch 'http://[fd00:99::2]:8080/f')" = anypin ] && break
		sleep 0.2
	done
	if [ "$(fetch http://10.99.0.2:8080/f)" = anypin ]; then ok "TCP over IPv4 (python3 http.server, curl)"; else fail "TCP over IPv4"; fi
	if [ "$(fetch 'http://[fd00:99::2]:8080/f')" = anypin ]; then ok "TCP over IPv6"; else fail "TCP over IPv6"; fi
else
	fail "ip netns + veth"
fi

# 3. iptables, each variant the host has, with the matches/targets the lab
# uses: mangle MARK with statistic, conntrack, NFQUEUE with bypass.
ipt_check() { # ipt_check CMD FAMILY-ADDR
	local c=$1 addr=$2 n
	A "$c" -w -t mangle -A OUTPUT -p tcp --dport 8080 -m statistic --mode random \
		--probability 1 -j MARK --set-mark 7 &&
		A "$c" -w -A INPUT -m conntrack --ctstate INVALID -j DROP &&
		A "$c" -w -A OUTPUT -p tcp --dport 9 -j NFQUEUE --queue-num 3 --queue-bypass &&
		A "$c" -w -A OUTPUT -m mark --mark 7 -p tcp --dport 8080 -j ACCEPT || return 1
	[ "$(fetch "http://$addr:8080/f")" = anypin ] || { echo "smoke: $c: no traffic with the rules in"; return 1; }
	# Nothing listens on port 9: with bypass the SYN goes out and is refused.
	A curl -s -g --max-time 5 "http://$addr:9/" > /dev/null 2>&1
	[ $? = 7 ] || { echo "smoke: $c: NFQUEUE --queue-bypass did not let the SYN through"; return 1; }
	n=$(A "$c" -w -t mangle -L OUTPUT -v -x -n | awk '/MARK/ { print $1; exit }')
	[ "${n:-0}" -gt 0 ] || { echo "smoke: $c: MARK rule counted nothing"; return 1; }
	n=$(A "$c" -w -L OUTPUT -v -x -n | awk '/mark match/ { print $1; exit }')
	[ "${n:-0}" -gt 0 ] || { echo "smoke: $c: mark match counted nothing"; return 1; }
	A "$c" -w -t mangle -F && A "$c" -w -F
}
for c in iptables iptables-nft iptables-legacy ip6tables ip6tables-nft ip6tables-legacy; do
	has "$c" || { note "$c: not installed"; continue; }
	case $c in ip6*) addr='[fd00:99::2]' ;; *) addr=10.99.0.2 ;; esac
	v="$c: $("$c" -V 2>&1 | head -n1)"
	if ipt_check "$c" "$addr"; then ok "$v"; else fail "$v"; fi
done

# 4. nft, including its own queue statement (the guest kernel has it).
if has nft; then
	if A nft -f - <<'EOF'
table inet smoke {
	chain out {
		type filter hook output priority 0;
		tcp dport 8080 counter
		tcp dport 9 queue num 4 bypass
	}
}
EOF
	then
		fetch http://10.99.0.2:8080/f > /dev/null
		A curl -s --max-time 5 http://10.99.0.2:9/ > /dev/null 2>&1
		r=$?
		if A nft list table inet smoke | grep -q 'counter packets [1-9]' && [ $r = 7 ]; then
			ok "nft (counter, queue bypass)"
		else
			fail "nft rules loaded but did not count or queue-bypass (curl $r)"
		fi
		A nft delete table inet smoke
	else
		fail "nft"
	fi
else
	note "nft: not installed"
fi

# 5. tc netem (route flaps and slow links in the scenarios).
if A tc qdisc add dev va root netem delay 1ms && A tc qdisc del dev va root; then
	ok "tc netem"
else
	fail "tc netem"
fi

# 6. Tools.
if v=$(python3 -c 'import sys; print("python3 %d.%d" % sys.version_info[:2])'); then ok "$v"; else fail "python3"; fi
if python3 -c 'import scapy.all' 2> /dev/null; then
	ok "scapy $(python3 -c 'import scapy; print(scapy.VERSION)' 2> /dev/null)"
else
	note "python3 scapy: not importable"
fi
if has iperf3; then
	B iperf3 -s -1 -B 10.99.0.2 > /dev/null 2>&1 &
	pids+=($!)
	sleep 0.5
	bw=$(A iperf3 -c 10.99.0.2 -t 2 -f m 2> /dev/null | awk '/receiver/ { print $(NF - 2) " " $(NF - 1) }')
	if [ -n "$bw" ]; then ok "iperf3 over veth: $bw"; else fail "iperf3"; fi
else
	note "iperf3: not installed"
fi
if [ -n "${ANYPIN_VM_OUT:-}" ] && echo ok > "$ANYPIN_VM_OUT/.smoke" && rm "$ANYPIN_VM_OUT/.smoke"; then
	ok "ANYPIN_VM_OUT writable"
else
	fail "ANYPIN_VM_OUT not writable"
fi

kill "${pids[@]}" 2> /dev/null
wait 2> /dev/null
ip netns del smoke-a 2> /dev/null
ip netns del smoke-b 2> /dev/null
rm -rf "$www"

summary="$(uname -r): ${#oks[@]} ok"
[ ${#notes[@]} = 0 ] || summary+="; notes: $(IFS=';'; echo "${notes[*]}")"
if [ ${#fails[@]} = 0 ]; then
	echo "PASS $name: $summary"
	exit 0
fi
echo "FAIL $name: $summary; failed: $(IFS=';'; echo "${fails[*]}")"
exit 1
