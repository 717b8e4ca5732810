# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck shell=bash disable=SC2034
# (SC2034: the variables are for the scripts sourcing this.)
#
# The measurements of `make bench`, shared by tests/bench/host.sh (on this
# host: anypind) and tests/bench/vm.sh (in the qemu guest: anypin.ko).
# Sourced after tests/lab/lab.sh, with the lab up.
#
# Every number goes to $BENCH_RAW as one line, for tests/bench/report.py:
#   sample BLOCK METRIC MODE ROUND VALUE   one round's measurement
#   value  BLOCK METRIC MODE VALUE         a single value (memory, lookups)
#   info   BLOCK KEY TEXT...               the conditions of the run
# MODE is "without", a datapath (anypind, kmod), "dnat", or one of the
# second chance's (sc_off, sc_direct, sc_fwd: sc_rounds, below); VALUE
# "nan" when the measurement failed.

BENCH_SECS=${BENCH_SECS:-4}
BENCH_FAMILY=${BENCH_FAMILY:-4}
BENCH_IPERF_PORT=5201
BENCH_CONN_PORT=5301
BENCH_RR_PORT=5401
# The second chance's measurements (sc_rounds): whether they run
# (BENCH_SC=0: not), the seconds they leave out first (iperf3's -O, rr's
# WARMUP: sc_fwd's move and what it disturbs fall within them), and rr,
# their round trips (make bench builds it).
SC=${BENCH_SC:-1}
SC_WARM=2
RR=${BENCH_RR:-$(cd "$LAB_HOME/../.." && pwd)/build/bench/rr}
# Where the SYNs that fill a flow table go: a prefix inside the lab's
# anycast prefix, routed by the client to a device that drops everything,
# so their entries stay half-open; and, for conntrack's DNAT, a target in
# the benchmarking range (RFC 2544) routed there too.
BENCH_FILL4=192.0.2.200
BENCH_FILL6=2001:db8:a:f::200
BENCH_FILL_NAT4=198.18.0.1
BENCH_FILL_NAT6=2001:2::1
BENCH_DEV=bhole0
# A second client, on a link of its own to the router: the control of the
# lookup measurements (its flow table stays empty).
BENCH_C2_4=198.19.0.10
BENCH_C2_6=2001:db8:c2::10
BENCH_R_C2_4=198.19.0.1
BENCH_R_C2_6=2001:db8:c2::1

bench_log() { printf '%s: [%ss] %s\n' "${BENCH_ME:-bench}" "$SECONDS" "$*" >&2; }

# bench_rec WORDS...: one line of results.
bench_rec() {
	printf '%s\n' "$*" >>"$BENCH_RAW"
}

# The addresses of the measured family.
bench_family() {
	if [ "$BENCH_FAMILY" = 6 ]; then
		BENCH_A=$A6 BENCH_C=$C6 BENCH_FILL=$BENCH_FILL6
	else
		BENCH_A=$A4 BENCH_C=$C4 BENCH_FILL=$BENCH_FILL4
	fi
}

# bench_servers CONNRATE: iperf3 and connrate's server on inst1.
bench_servers() {
	lab_bg inst1 iperf3 iperf3 -s -p "$BENCH_IPERF_PORT" || return 1
	lab_bg inst1 connrate "$1" -s "$BENCH_CONN_PORT" || return 1
	lab_wait_listen inst1 "$BENCH_IPERF_PORT" 30 &&
		lab_wait_listen inst1 "$BENCH_CONN_PORT" 30
}

# bench_iperf ARGS...: Gbit/s the receiver saw, or nan.
bench_iperf() {
	local out
	out=$(lab_ns "${BENCH_FROM:-client}" timeout $((BENCH_SECS * 4 + 30)) iperf3 -c "$BENCH_A" \
		-p "$BENCH_IPERF_PORT" -t "$BENCH_SECS" -f m "$@" 2>&1) || {
		bench_log "iperf3 $*: $(printf '%s' "$out" | tail -n 1)"
		echo nan
		return
	}
	# The last receiver line: the sum with -P.
	printf '%s\n' "$out" | awk '/receiver/ {
			for (i = 2; i <= NF; i++) if ($i == "Mbits/sec") v = $(i - 1) }
		END { if (v == "") print "nan"; else printf "%.3f\n", v / 1000 }'
}

# bench_conns PAR: "RATE P50_US P99_US" of connrate's PAR clients, or nan.
bench_conns() {
	local out
	out=$(lab_ns "${BENCH_FROM:-client}" timeout $((BENCH_SECS * 4 + 30)) "$BENCH_CONNRATE" -c \
		"$BENCH_A" "$BENCH_CONN_PORT" "$BENCH_SECS" "$1" 2>&1) || {
		bench_log "connrate $1: $out"
		echo nan nan nan
		return
	}
	printf '%s\n' "$out" | awk '{
		for (i = 1; i < NF; i += 2) v[$i] = $(i + 1)
		if (v["errors"] > 0) print "connrate: " v["errors"] " errors" > "/dev/stderr"
		print v["rate"], v["connect_p50_us"], v["connect_p99_us"] }'
}

# bench_measure BLOCK MODE ROUND METRIC...: each metric once.
#   bulk1 bulk8 bulkR   iperf3 with 1 stream, 8 streams, 1 stream reversed
#   conn1               one client: conn1, hs50 and hs99 (handshake)
#   conn8               eight clients at once
# $BENCH_TAG, if set, is appended to the metrics' names ("conn1@1M");
# $BENCH_FROM is the client namespace (client).
bench_measure() {
	local block=$1 mode=$2 round=$3 m rate p50 p99 t=${BENCH_TAG:-}
	shift 3
	for m; do
		case $m in
		bulk1) bench_rec sample "$block" "bulk1$t" "$mode" "$round" "$(bench_iperf)" ;;
		bulk8) bench_rec sample "$block" "bulk8$t" "$mode" "$round" "$(bench_iperf -P 8)" ;;
		bulkR) bench_rec sample "$block" "bulkR$t" "$mode" "$round" "$(bench_iperf -R)" ;;
		conn1)
			read -r rate p50 p99 <<<"$(bench_conns 1)"
			bench_rec sample "$block" "conn1$t" "$mode" "$round" "$rate"
			bench_rec sample "$block" "hs50$t" "$mode" "$round" "$p50"
			bench_rec sample "$block" "hs99$t" "$mode" "$round" "$p99"
			;;
		conn8)
			read -r rate _ <<<"$(bench_conns 8)"
			bench_rec sample "$block" "conn8$t" "$mode" "$round" "$rate"
			;;
		*) bench_log "unknown metric $m"; return 1 ;;
		esac
	done
}

# The alternative an operator has today: a static DNAT of A to U1 on the
# client; conntrack un-NATs the replies. The instances run nothing.
bench_dnat_on() {
	lab_ns client "$LAB_IPT" -w -t nat -A OUTPUT -d "$A4" -j DNAT \
		--to-destination "$U1_4" &&
		lab_ns client "$LAB_IP6T" -w -t nat -A OUTPUT -d "$A6" -j DNAT \
			--to-destination "$U1_6"
}

bench_dnat_off() {
	bench_flush client
}

# bench_flush NS...: remove every netfilter table of these lab namespaces,
# so the next "without" pays for no empty base chain a datapath or the
# DNAT left behind (iptables-nft keeps them), nor for conntrack.
bench_flush() {
	local ns
	for ns; do
		if command -v nft >/dev/null; then
			lab_ns "$ns" nft flush ruleset || return 1
		else
			lab_ns "$ns" "$LAB_IPT" -w -t nat -F &&
				lab_ns "$ns" "$LAB_IP6T" -w -t nat -F || return 1
		fi
	done
}

# bench_sink_dev: the client's device that drops what the table fillers
# send (dummy where the kernel has it, else a veth without ARP whose peer
# drops it for want of a route).
bench_sink_dev() {
	if ! ip -n "$NS_CLIENT" link add "$BENCH_DEV" type dummy 2>/dev/null; then
		ip -n "$NS_CLIENT" link add "$BENCH_DEV" type veth peer name "${BENCH_DEV}p" &&
			ip -n "$NS_CLIENT" link set "${BENCH_DEV}p" up || return 1
	fi
	ip -n "$NS_CLIENT" -batch - <<-EOF
	link set $BENCH_DEV up arp off
	route add $BENCH_FILL4/32 dev $BENCH_DEV
	route add $BENCH_FILL6/128 dev $BENCH_DEV
	route add $BENCH_FILL_NAT4/32 dev $BENCH_DEV
	route add $BENCH_FILL_NAT6/128 dev $BENCH_DEV
	EOF
}

# bench_client2_up: the second client (namespace client2, router's c2).
bench_client2_up() {
	local ns=${LAB}client2
	ip netns add "$ns" || return 1
	ip -n "$ns" link set lo up || return 1
	lab_sysctl "$ns" net.ipv6.conf.all.accept_dad=0 \
		net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_ra=0 \
		net.ipv6.conf.default.accept_ra=0 || return 1
	ip link add c2 netns "$NS_ROUTER" type veth peer name eth0 netns "$ns" ||
		return 1
	ip -n "$NS_ROUTER" -batch - <<-EOF || return 1
	link set c2 up
	addr add $BENCH_R_C2_4/24 dev c2
	addr add $BENCH_R_C2_6/64 dev c2 nodad
	EOF
	ip -n "$ns" -batch - <<-EOF
	link set eth0 up
	addr add $BENCH_C2_4/24 dev eth0
	addr add $BENCH_C2_6/64 dev eth0 nodad
	route add default via $BENCH_R_C2_4 dev eth0
	route add default via $BENCH_R_C2_6 dev eth0
	EOF
}

# bench_order ROUND MODE...: the modes, rotated by the round, so that no
# mode always runs first (or right after another one) in a round.
bench_order() {
	local r=$1 n i
	shift
	n=$#
	for ((i = 0; i < n; i++)); do
		printf '%s\n' "${@:$(((r + i) % n + 1)):1}"
	done
}

# bench_cpu_busy SECONDS: the busy share of all CPUs over SECONDS, in % of
# one CPU (from /proc/stat: everything but idle and iowait).
bench_cpu_busy() {
	local a b
	a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat)
	sleep "$1"
	b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat)
	awk -v a="$a" -v b="$b" -v s="$1" -v hz="$(getconf CLK_TCK)" \
		'BEGIN { printf "%.1f\n", (b - a) / hz / s * 100 }'
}

# bench_kernel_kb: unreclaimable slab (kmalloc's large allocations
# included) plus vmalloc, in kB: where a flow table's memory goes.
bench_kernel_kb() {
	awk '/^(SUnreclaim|VmallocUsed):/ { s += $2 } END { print s }' /proc/meminfo
}

# ---------------------------------------------------------------------------
# The second chance (docs/second-chance.md), one procedure for both halves:
# a client without anypin (its configuration has no prefix), both
# instances responders, A routed to inst1, in rounds of
#   sc_off     the second chance off (no instance): nothing stamped
#   sc_direct  on (inst1 instance 1, inst2 instance 2, each the other's
#              peer): every segment from A stamped, the MSS lowered
#   sc_fwd     the same, and A moved to inst2 once the connections are up:
#              every segment from the client reaches inst2, which forwards
#              it to inst1 in IP-in-IP
# The half that sources this defines
#   sc_stat NS COUNTER   COUNTER of NS's prefix any$BENCH_FAMILY in its
#                        datapath's counters, 0 when there is none
# and names its datapath's start and stop to sc_rounds. Its records go
# under the half's BLOCK (host, vm), as bench_measure's do.

# sc_setup BLOCK: the run's note on it, and rr's server on inst1.
sc_setup() {
	bench_rec info "$1" sc "second chance: client without anypin, $SC_WARM s left out first (iperf3 -O, rr), sc_fwd's move within them"
	lab_bg inst1 rr "$RR" -s "$BENCH_RR_PORT" || return 1
	lab_wait_listen inst1 "$BENCH_RR_PORT" 30
}

# sc_conns PORT N: the client has N connections to PORT established.
sc_conns() {
	[ "$(lab_ns client ss -Htn state established "dport = :$1" | wc -l)" -ge "$2" ]
}

# sc_run BLOCK MODE ROUND NAME PORT N OUT CMD...: CMD, its output to OUT.
# In sc_fwd, CMD runs in the background; once the client has the N
# connections to PORT that CMD opens, and inst1 has had a fifth of a
# second to send on them (a connection can move once inst1 has stamped a
# segment of it), the router moves A to inst2, and after CMD back to
# inst1. Then inst2's sc_forwarded and sc_limited and inst1's sc_tunnel
# over CMD are recorded as the values COUNTER.NAME.rROUND, and it fails,
# loudly, if inst2 forwarded nothing: that measurement is not of a
# forwarded flow.
sc_run() {
	local block=$1 mode=$2 r=$3 name=$4 port=$5 n=$6 out=$7 pid fw0 li0 tu0 fw li tu
	shift 7
	if [ "$mode" != sc_fwd ]; then
		"$@" >"$out"
		return
	fi
	fw0=$(sc_stat inst2 sc_forwarded) li0=$(sc_stat inst2 sc_limited)
	tu0=$(sc_stat inst1 sc_tunnel)
	"$@" >"$out" &
	pid=$!
	lab_wait_until 15 sc_conns "$port" "$n" ||
		bench_log "sc_fwd round $r: $name: not $n connections to port $port after 15 s"
	sleep 0.2
	lab_route_a inst2 || bench_log "sc_fwd round $r: $name: the router did not move A"
	wait "$pid" || true
	lab_route_a inst1 || bench_log "sc_fwd round $r: $name: the router did not move A back"
	fw=$(($(sc_stat inst2 sc_forwarded) - fw0)) li=$(($(sc_stat inst2 sc_limited) - li0))
	tu=$(($(sc_stat inst1 sc_tunnel) - tu0))
	bench_rec value "$block" "sc_forwarded.$name.r$r" sc_fwd "$fw"
	bench_rec value "$block" "sc_limited.$name.r$r" sc_fwd "$li"
	bench_rec value "$block" "sc_tunnel.$name.r$r" sc_fwd "$tu"
	if [ "$fw" -le 0 ]; then
		bench_log "!!! sc_fwd round $r: $name: inst2 forwarded NOTHING (sc_forwarded $fw, inst1 sc_tunnel $tu): not a forwarded flow, recorded as nan !!!"
		return 1
	fi
	[ "$li" = 0 ] ||
		bench_log "sc_fwd round $r: $name: inst2 refused $li forwards (sc_limited: forward_rate)"
}

# sc_rr: "P50 P99" (us) of rr's round trips over one connection, SC_WARM
# seconds left out, then BENCH_SECS; "nan nan" if the connection failed.
sc_rr() {
	local out
	out=$(lab_ns client timeout $((SC_WARM + BENCH_SECS + 30)) "$RR" -c "$BENCH_A" \
		"$BENCH_RR_PORT" "$SC_WARM" "$BENCH_SECS" 2>&1) || {
		bench_log "rr: $out"
		echo nan nan
		return
	}
	printf '%s\n' "$out" | awk '
		!/^rtts / { print "rr: " $0 > "/dev/stderr"; next }
		{
			for (i = 1; i < NF; i += 2) v[$i] = $(i + 1)
			if (v["errors"] > 0 || v["rtts"] == 0) {
				print "rr: " $0 > "/dev/stderr"
				print "nan nan"
			} else
				print v["p50_us"], v["p99_us"]
			done = 1
		}
		END { if (!done) print "nan nan" }'
}

# sc_measure BLOCK MODE ROUND: the second chance's metrics in MODE (sc_run):
#   scbulk1   iperf3, the client sends (in sc_fwd every data segment is
#             forwarded)
#   scbulkR   iperf3 -R, the server sends (only the client's ACKs are)
#   rr50 rr99 rr's round trips, one byte each way
sc_measure() {
	local block=$1 mode=$2 r=$3 out=$LAB_STATE/sc.out m v p50 p99 args
	for m in scbulk1 scbulkR; do
		args=(-O "$SC_WARM")
		[ "$m" = scbulk1 ] || args+=(-R)
		v=nan
		if sc_run "$block" "$mode" "$r" "$m" "$BENCH_IPERF_PORT" 2 "$out" bench_iperf "${args[@]}"; then
			v=$(cat "$out")
		fi
		bench_rec sample "$block" "$m" "$mode" "$r" "$v"
	done
	p50=nan p99=nan
	if sc_run "$block" "$mode" "$r" rr "$BENCH_RR_PORT" 1 "$out" sc_rr; then
		read -r p50 p99 <"$out" || true
	fi
	bench_rec sample "$block" rr50 "$mode" "$r" "${p50:-nan}"
	bench_rec sample "$block" rr99 "$mode" "$r" "${p99:-nan}"
}

# sc_rounds BLOCK ROUNDS START STOP: ROUNDS rounds of the three modes, the
# order rotated by the round (bench_order); in each, START (the half's
# datapath on the client and both instances, from lab_anypin_conf: the
# client without prefixes, LAB_ANYPIN_LEGACY; the instances' second chance
# on but in sc_off, LAB_ANYPIN_SECOND), sc_measure, and STOP. Fails as
# soon as START does: the datapath refused the second chance's keys, and
# what follows would not measure it.
sc_rounds() {
	local block=$1 rounds=$2 start=$3 stop=$4 r mode second
	lab_route_a inst1
	for r in $(seq "$rounds"); do
		for mode in $(bench_order "$r" sc_off sc_direct sc_fwd); do
			bench_log "second chance, round $r/$rounds: $mode"
			second=1
			[ "$mode" != sc_off ] || second=
			if ! LAB_ANYPIN_LEGACY=client LAB_ANYPIN_SECOND=$second "$start"; then
				bench_log "$mode: the datapath or its configuration refused ($start; BENCH_SC=0 leaves the second chance out)"
				return 1
			fi
			sc_measure "$block" "$mode" "$r"
			"$stop"
		done
	done
}
