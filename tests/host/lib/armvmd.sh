# Helpers to run armvmd / armvmctl inside a host test.  POSIX/busybox sh.
#
#   ARMVMD, ARMVMCTL      binaries (default /usr/bin/armvmd, /usr/bin/armvmctl)
#   ARMVMD_TESTS          extra test tools (default /usr/lib/armvmd-tests)
#   ARMVMD_SOCKET         socket used by armvmd_start and ctl
#                         (default /run/armvmd/armvmd.sock)
#
#   need_armvmd                fail unless armvmd and armvmctl exist
#   need_tool NAME             print the path of test tool NAME, skip if absent
#   armvmd_start [ARGS...]     start armvmd --socket $ARMVMD_SOCKET ARGS in the
#                              background, log to $CASE_TMP/armvmd[-N].log, wait
#                              (10 s) for the socket (a new one if a socket was
#                              already there); sets ARMVMD_PID, ARMVMD_LOG
#   armvmd_stop [SECONDS] [SIG] send SIG (TERM) to $ARMVMD_PID, wait for exit
#                              (5 s); sets ARMVMD_RC; fails if it does not exit
#   ctl ARGS...                armvmctl --socket $ARMVMD_SOCKET ARGS
#   armvmd_start_second NAME [ARGS...]  another armvmd beside the first, on
#                              /run/armvmd-NAME/armvmd.sock with its own runtime
#                              and state directories (for comparisons); sets
#                              SECOND_SOCKET, SECOND_PID
#   armvmd_stop_second         stop it

: "${ARMVMD:=/usr/bin/armvmd}"
: "${ARMVMCTL:=/usr/bin/armvmctl}"
: "${ARMVMD_TESTS:=/usr/lib/armvmd-tests}"
: "${ARMVMD_SOCKET:=/run/armvmd/armvmd.sock}"
_armvmd_n=0

need_armvmd() {
	[ -x "$ARMVMD" ] || fail "armvmd not found at $ARMVMD (build/aarch64/armvmd not built?)"
	[ -x "$ARMVMCTL" ] || fail "armvmctl not found at $ARMVMCTL (build/aarch64/armvmctl not built?)"
}

need_tool() {
	[ -x "$ARMVMD_TESTS/$1" ] || skip "test tool $1 not built (no build/aarch64/tests/$1)"
	printf '%s\n' "$ARMVMD_TESTS/$1"
}

ctl() {
	"$ARMVMCTL" --socket "$ARMVMD_SOCKET" "$@"
}

# show_log FILE [LINES]: print the tail of a log into the case output
show_log() {
	[ -f "$1" ] || return 0
	printf -- '--- %s (last %s lines) ---\n' "$1" "${2:-20}"
	tail -n "${2:-20}" "$1"
	printf -- '---\n'
}

armvmd_start() {
	_armvmd_n=$((_armvmd_n + 1))
	if [ "$_armvmd_n" = 1 ]; then
		ARMVMD_LOG=$CASE_TMP/armvmd.log
	else
		ARMVMD_LOG=$CASE_TMP/armvmd-$_armvmd_n.log
	fi
	mkdir -p "$(dirname "$ARMVMD_SOCKET")"
	# a socket already there (stale, or another daemon's) does not count:
	# wait for a new one (another inode)
	_old=
	[ -S "$ARMVMD_SOCKET" ] && _old=$(stat -c %i "$ARMVMD_SOCKET" 2>/dev/null)
	printf '$ %s --socket %s %s &   (log: %s)\n' "$ARMVMD" "$ARMVMD_SOCKET" "$*" "$ARMVMD_LOG"
	"$ARMVMD" --socket "$ARMVMD_SOCKET" "$@" >"$ARMVMD_LOG" 2>&1 </dev/null &
	ARMVMD_PID=$!
	_n=100
	while [ "$_n" -gt 0 ]; do
		if [ -S "$ARMVMD_SOCKET" ]; then
			[ -z "$_old" ] && break
			[ "$(stat -c %i "$ARMVMD_SOCKET" 2>/dev/null)" != "$_old" ] && break
		fi
		if ! proc_alive "$ARMVMD_PID"; then
			wait "$ARMVMD_PID"
			_rc=$?
			show_log "$ARMVMD_LOG"
			fail "armvmd exited (status $_rc) before creating $ARMVMD_SOCKET"
		fi
		sleep 0.1
		_n=$((_n - 1))
	done
	if [ "$_n" = 0 ]; then
		show_log "$ARMVMD_LOG"
		fail "armvmd did not create $ARMVMD_SOCKET within 10 s"
	fi
	note "armvmd running, pid $ARMVMD_PID"
}

armvmd_stop() {
	_t=${1:-5}
	_sig=${2:-TERM}
	[ -n "${ARMVMD_PID:-}" ] || fail "armvmd_stop: no armvmd started"
	printf '$ kill -%s %s\n' "$_sig" "$ARMVMD_PID"
	kill "-$_sig" "$ARMVMD_PID" 2>/dev/null
	if ! wait_exit "$ARMVMD_PID" "$_t"; then
		kill -KILL "$ARMVMD_PID" 2>/dev/null
		show_log "$ARMVMD_LOG"
		fail "armvmd did not exit within ${_t}s of SIG$_sig"
	fi
	ARMVMD_RC=$WAIT_RC
	note "armvmd exited with status $ARMVMD_RC"
	ARMVMD_PID=
}

armvmd_start_second() {
	_name=$1
	shift
	_s=$ARMVMD_SOCKET _p=${ARMVMD_PID:-} _l=${ARMVMD_LOG:-}
	ARMVMD_SOCKET=/run/armvmd-$_name/armvmd.sock
	armvmd_start --runtime-dir "/run/armvmd-$_name" --state-dir "$CASE_TMP/state-$_name" "$@"
	SECOND_SOCKET=$ARMVMD_SOCKET SECOND_PID=$ARMVMD_PID
	ARMVMD_SOCKET=$_s ARMVMD_PID=$_p ARMVMD_LOG=$_l
}

armvmd_stop_second() {
	[ -n "${SECOND_PID:-}" ] || return 0
	kill -TERM "$SECOND_PID" 2>/dev/null
	wait_exit "$SECOND_PID" 5 || kill -KILL "$SECOND_PID" 2>/dev/null
	SECOND_PID=
}
