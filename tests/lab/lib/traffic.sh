# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck shell=bash disable=SC2034
# (SC2034: FETCH_*, UPLOAD_* and the rest are for the scenarios.)
#
# The lab's traffic: the HTTP service on both instances, downloads from
# the client and their outcome, and uploads to the sink.
# Sourced by tests/lab/lab.sh, which defines what it uses (the names of
# the namespaces, the addresses, lab_ns, lab_log); never on its own.

# ---------------------------------------------------------------------------
# HTTP service (tests/lab/httpd.py) on port $LAB_PORT of every address of
# both instances (A, A6, U1, U2...):
#   /data.bin  LAB_FILE_MB MiB of random bytes, identical on both instances;
#              its sha256 is in $LAB_DATA_SHA (and $LAB_STATE/data.sha256)
#   /whoami    "inst1" or "inst2" (every response also carries the header
#              X-Lab-Instance)
#   ?rate=N    paces a response to N bytes/s on the server side, so the
#              connection has packets in flight all along
#   &$(lab_hold NAME)  holds a paced response after its first 100 kB until
#              lab_release NAME: the scenario's action (a flip, a drain)
#              lands at the same byte however slow the machine (the debug
#              kernel under emulation forks in about a second)

# lab__data_bytes SIZE: LAB_DATA_BYTES for SIZE, in MiB, or in KiB with
# the suffix K (256K).
lab__data_bytes() {
	case $1 in
	*K) LAB_DATA_BYTES=$((${1%K} * 1024)) ;;
	*) LAB_DATA_BYTES=$(($1 * 1024 * 1024)) ;;
	esac
}

# lab_serve [SIZE]: SIZE in MiB, or in KiB with the suffix K (256K)
lab_serve() {
	local i
	lab__data_bytes "${1:-$LAB_FILE_MB}"
	mkdir -p "$LAB_STATE/www" "$LAB_STATE/hold" || return 1
	head -c "$LAB_DATA_BYTES" /dev/urandom >"$LAB_STATE/www/data.bin" ||
		return 1
	LAB_DATA_SHA=$(sha256sum <"$LAB_STATE/www/data.bin") || return 1
	LAB_DATA_SHA=${LAB_DATA_SHA%% *}
	printf '%s\n' "$LAB_DATA_SHA" >"$LAB_STATE/data.sha256"
	for i in inst1 inst2; do
		mkdir -p "$LAB_STATE/www-$i" || return 1
		ln -f "$LAB_STATE/www/data.bin" "$LAB_STATE/www-$i/data.bin" ||
			return 1
		printf '%s\n' "$i" >"$LAB_STATE/www-$i/whoami"
		lab_bg "$i" "http-$i" "$LAB_PYTHON" "$LAB_HOME/httpd.py" \
			--port "$LAB_PORT" --name "$i" --hold-dir "$LAB_STATE/hold" \
			"$LAB_STATE/www-$i"
	done
	lab_wait_listen inst1 "$LAB_PORT" "${LAB_SERVE_WAIT:-30}" &&
		lab_wait_listen inst2 "$LAB_PORT" "${LAB_SERVE_WAIT:-30}"
}

# lab_served [SIZE]: for a script that takes over a lab another process
# set up and serves (without lab_up and lab_serve of its own: the VM's
# module topics share their runner's, tests/vm/kmod/run): succeeds when
# that lab_serve SIZE is still there (its data.bin has SIZE's bytes and
# both instances listen), and sets LAB_DATA_BYTES and LAB_DATA_SHA as it
# did. The files of earlier downloads go, as lab_up would have removed
# them: lab_fetch_wait_bytes would take an old NAME.res for the end of a
# new download of that name.
lab_served() {
	local sha="" f old=()
	lab__data_bytes "${1:-$LAB_FILE_MB}"
	[ "$(stat -c %s "$LAB_STATE/www/data.bin" 2>/dev/null)" = "$LAB_DATA_BYTES" ] ||
		return 1
	{ read -r sha <"$LAB_STATE/data.sha256"; } 2>/dev/null || return 1
	[ -n "$sha" ] || return 1
	lab__listening inst1 "$LAB_PORT" && lab__listening inst2 "$LAB_PORT" ||
		return 1
	LAB_DATA_SHA=$sha
	for f in "$LAB_STATE"/*.res "$LAB_STATE"/*.out "$LAB_STATE"/*.err \
		"$LAB_STATE"/*.ttfb; do
		if [ -e "$f" ]; then old+=("$f"); fi
	done
	[ ${#old[@]} = 0 ] || rm -f "${old[@]}"
}

# lab_url ADDR [PATH]
lab_url() {
	case $1 in
	*:*) printf 'http://[%s]:%s/%s' "$1" "$LAB_PORT" "${2:-}" ;;
	*) printf 'http://%s:%s/%s' "$1" "$LAB_PORT" "${2:-}" ;;
	esac
}

# lab_hold NAME [BYTES]: the query parameters that hold a paced response
# once BYTES (default 100000) are sent, until lab_release NAME.
lab_hold() {
	rm -f "$LAB_STATE/hold/$1"
	printf 'hold=%s&go=%s' "${2:-100000}" "$1"
}

# lab_release NAME...: let held responses go on.
lab_release() {
	local n
	for n in "$@"; do
		: >"$LAB_STATE/hold/$n"
	done
}

# lab_whoami ADDR: which instance serves a new connection from the client to
# ADDR (prints inst1, inst2, or nothing on failure).
lab_whoami() {
	lab_ns client curl -sS -g --max-time 3 "$(lab_url "$1" whoami)"
}

# lab_fetch NAME URL [CURL-ARGS...]: download URL from the client into
# $LAB_STATE/NAME.out (may run in the background).  The result goes to
# $LAB_STATE/NAME.res; read it with lab_fetch_result.
lab_fetch() {
	local name=$1 url=$2 t0 t1 rc=0
	shift 2
	t0=${EPOCHREALTIME/./}
	lab_ns client curl -sS -g -o "$LAB_STATE/$name.out" "$@" "$url" \
		2>"$LAB_STATE/$name.err" || rc=$?
	t1=${EPOCHREALTIME/./}
	{
		printf 'FETCH_EXIT=%s\n' "$rc"
		printf 'FETCH_US=%s\n' "$((t1 - t0))"
	} >"$LAB_STATE/$name.res"
}

# lab_fetch_ttfb NAME URL [CURL-ARGS...]: lab_fetch that also notes
# curl's time to the first byte of the response (time_starttransfer: from
# the start, through the handshake, to the first byte), which
# lab_fetch_result puts in FETCH_TTFB_US.
lab_fetch_ttfb() {
	lab_fetch "$@" -w '%{time_starttransfer}' >"$LAB_STATE/$1.ttfb"
}

# lab__us SECONDS: "1.234567" (curl's times) in microseconds.
lab__us() {
	local s=${1//,/.} i f=
	i=${s%%.*}
	[ "$i" = "$s" ] || f=${s#*.}
	f=${f}000000
	f=${f:0:6}
	case $i$f in '' | *[!0-9]*) return 1 ;; esac
	printf '%d\n' $((10#$i * 1000000 + 10#$f))
}

# lab_ms MICROSECONDS: milliseconds with one decimal ("1012.3").
lab_ms() {
	printf '%d.%d' $(($1 / 1000)) $(($1 % 1000 / 100))
}

# lab_fetch_result NAME: sets FETCH_EXIT, FETCH_SECS ("1.2"), FETCH_BYTES,
# FETCH_SHA, FETCH_ERR (curl's message), FETCH_EXACT (1 when the bytes
# are exactly the served data.bin) and, after lab_fetch_ttfb,
# FETCH_TTFB_US (empty when unknown).
lab_fetch_result() {
	local FETCH_US=0
	FETCH_EXIT=255
	FETCH_TTFB_US=
	# shellcheck disable=SC1090  # a .res file the download wrote
	[ -f "$LAB_STATE/$1.res" ] && . "$LAB_STATE/$1.res"
	if [ -s "$LAB_STATE/$1.ttfb" ]; then
		FETCH_TTFB_US=$(lab__us "$(cat "$LAB_STATE/$1.ttfb")") ||
			FETCH_TTFB_US=
	fi
	rm -f "$LAB_STATE/$1.ttfb"
	FETCH_SECS=$(printf '%d.%d' $((FETCH_US / 1000000)) \
		$((FETCH_US % 1000000 / 100000)))
	FETCH_BYTES=$(stat -c %s "$LAB_STATE/$1.out" 2>/dev/null || echo 0)
	FETCH_SHA=$(sha256sum 2>/dev/null <"$LAB_STATE/$1.out") || FETCH_SHA=
	FETCH_SHA=${FETCH_SHA%% *}
	FETCH_ERR=$(head -n 1 "$LAB_STATE/$1.err" 2>/dev/null || true)
	FETCH_ERR=${FETCH_ERR#curl: }
	FETCH_ERR=${FETCH_ERR#\(*\) }
	FETCH_EXACT=0
	if [ "$FETCH_EXIT" = 0 ] && [ -n "$LAB_DATA_SHA" ] &&
		[ "$FETCH_SHA" = "$LAB_DATA_SHA" ]; then
		FETCH_EXACT=1
	fi
	rm -f "$LAB_STATE/$1.out"
}

# lab_fetch_bg NAME URL [CURL-ARGS...]: lab_fetch in the background; its PID
# is added to LAB_FETCH_PIDS (lab_fetch_wait waits for all of them).
LAB_FETCH_PIDS=
lab_fetch_bg() {
	lab_fetch "$@" &
	LAB_FETCH_PIDS="$LAB_FETCH_PIDS $!"
}

# lab_fetch_wait: wait for every lab_fetch_bg/lab_upload_bg started so far.
lab_fetch_wait() {
	local p
	for p in $LAB_FETCH_PIDS; do
		wait "$p" 2>/dev/null || true
	done
	LAB_FETCH_PIDS=
}

# lab_fetch_bytes NAME: bytes a running (or finished) fetch has so far.
lab_fetch_bytes() {
	stat -c %s "$LAB_STATE/$1.out" 2>/dev/null || echo 0
}

lab__out_ge() {
	[ "$(stat -c %s "$LAB_STATE/$1.out" 2>/dev/null || echo 0)" -ge "$2" ]
}

lab__out_ge_or_done() {
	[ -e "$LAB_STATE/$1.res" ] || lab__out_ge "$1" "$2"
}

# lab_fetch_wait_bytes NAME BYTES [SECONDS]: wait until a running fetch has
# received at least BYTES (default bound 5 s); fails if it ended before or
# the time is up.  For uploads (lab_upload_bg) see lab_upload_wait_bytes.
lab_fetch_wait_bytes() {
	lab_wait_until "${3:-5}" lab__out_ge_or_done "$1" "$2"
	lab__out_ge "$1" "$2"
}

# lab_mib BYTES: "1.5" (MiB, one decimal, rounded down).
lab_mib() {
	printf '%d.%d' $(($1 / 1048576)) $(($1 % 1048576 * 10 / 1048576))
}

# lab_fetch_describe: what went wrong (or right) with the last
# lab_fetch_result, in words, for a PASS/FAIL detail.
lab_fetch_describe() {
	if [ "$FETCH_EXIT" != 0 ]; then
		printf 'curl exit %s after %s s: %s; %s of %s MB arrived' \
			"$FETCH_EXIT" "$FETCH_SECS" "${FETCH_ERR:-no message}" \
			"$(lab_mib "$FETCH_BYTES")" "$(lab_mib "${LAB_DATA_BYTES:-0}")"
	elif [ "$FETCH_EXACT" = 1 ]; then
		printf '%s MB byte-exact in %s s' "$(lab_mib "$FETCH_BYTES")" \
			"$FETCH_SECS"
	else
		printf 'complete after %s s but %s bytes, sha256 %.12s, expected %.12s' \
			"$FETCH_SECS" "$FETCH_BYTES" "$FETCH_SHA" "$LAB_DATA_SHA"
	fi
}

# ---------------------------------------------------------------------------
# Upload sink (tests/lab/tools/sink.py) on port $LAB_SINK_PORT (8081) of
# both instances: PUT/POST a body, get back "SHA256 BYTES INSTANCE";
# ?rate=N paces the server's reading.

LAB_SINK_PORT=${LAB_SINK_PORT:-8081}

# lab_sink_serve: start the sinks (after lab_serve, which makes data.bin).
lab_sink_serve() {
	local i
	for i in inst1 inst2; do
		lab_bg "$i" "sink-$i" "$LAB_PYTHON" "$LAB_HOME/tools/sink.py" \
			--port "$LAB_SINK_PORT" --name "$i"
	done
	lab_wait_listen inst1 "$LAB_SINK_PORT" "${LAB_SERVE_WAIT:-30}" &&
		lab_wait_listen inst2 "$LAB_SINK_PORT" "${LAB_SERVE_WAIT:-30}"
}

# lab_sink_url ADDR [QUERY]
lab_sink_url() {
	case $1 in
	*:*) printf 'http://[%s]:%s/up%s' "$1" "$LAB_SINK_PORT" "${2:+?$2}" ;;
	*) printf 'http://%s:%s/up%s' "$1" "$LAB_SINK_PORT" "${2:+?$2}" ;;
	esac
}

# lab_upload NAME URL [CURL-ARGS...]: upload data.bin from the client to
# URL (a lab_sink_url); read the outcome with lab_upload_result NAME.
lab_upload() {
	local name=$1 url=$2
	shift 2
	lab_fetch "$name" "$url" -H 'Expect:' \
		--upload-file "$LAB_STATE/www/data.bin" "$@"
}

lab__acked_ge() {
	local n
	n=$(lab_ns client ss "-$1" -Htni state established \
		"dport = :$LAB_SINK_PORT" | grep -o 'bytes_acked:[0-9]*' |
		sort -t: -k2 -n | tail -n 1)
	[ "${n#bytes_acked:}" -ge "$2" ] 2>/dev/null
}

lab__acked_ge_or_done() {
	[ -e "$LAB_STATE/$1.res" ] || lab__acked_ge "$2" "$3"
}

# lab_upload_wait_bytes NAME 4|6 BYTES [SECONDS]: wait until the upload
# NAME (of that family; one at a time per family) has had BYTES
# acknowledged (default bound 5 s); fails if it ended first or time is up.
lab_upload_wait_bytes() {
	lab_wait_until "${4:-5}" lab__acked_ge_or_done "$1" "$2" "$3" &&
		[ ! -e "$LAB_STATE/$1.res" ]
}

# lab_upload_bg NAME URL [CURL-ARGS...]: lab_upload in the background.
lab_upload_bg() {
	lab_upload "$@" &
	LAB_FETCH_PIDS="$LAB_FETCH_PIDS $!"
}

# lab_upload_result NAME: sets FETCH_EXIT, FETCH_SECS, FETCH_ERR (as
# lab_fetch_result), UPLOAD_BYTES (bytes the sink got, 0 if no answer),
# UPLOAD_INST (the sink's instance) and FETCH_EXACT (1 when the sink got
# exactly data.bin); FETCH_BYTES = UPLOAD_BYTES, so lab_fetch_describe works.
lab_upload_result() {
	local sha='' n='' inst=''
	if [ -s "$LAB_STATE/$1.out" ]; then
		read -r sha n inst <"$LAB_STATE/$1.out" || true
	fi
	lab_fetch_result "$1"
	UPLOAD_BYTES=${n:-0}
	UPLOAD_INST=${inst:-}
	FETCH_BYTES=$UPLOAD_BYTES
	FETCH_EXACT=0
	if [ "$FETCH_EXIT" = 0 ] && [ -n "$LAB_DATA_SHA" ] &&
		[ "$sha" = "$LAB_DATA_SHA" ]; then
		FETCH_EXACT=1
	fi
}
