# Host-test helpers: reporting and assertions.  POSIX/busybox sh.
#
# Sourced (with the other lib/*.sh) into every case before the case itself,
# inside the emulated arm64 host.  Also sourced by the aarch64 demo.
#
# A case passes if it reaches its end with status 0.  fail/assert_* end the
# case with status 1, skip ends it with status 77; the first message given
# to fail or skip becomes the reason shown on the CASE-END marker.

: "${CASE_NAME:=case}"
: "${CASE_TMP:=${TMPDIR:-/tmp}}"

# say MSG...: narrate a step (goes to the case log)
say() {
	printf '== %s\n' "$*"
}

# note MSG...: an informational detail
note() {
	printf '   %s\n' "$*"
}

_reason() {
	if [ -n "${CASE_REASON_FILE:-}" ] && [ ! -s "$CASE_REASON_FILE" ]; then
		printf '%s\n' "$*" | tr '\n' ' ' | sed 's/ *$//' | cut -c1-300 >"$CASE_REASON_FILE"
	fi
}

# fail MSG...: end the case as FAIL with this reason
fail() {
	printf 'FAIL: %s\n' "$*" >&2
	_reason "$*"
	exit 1
}

# skip MSG...: end the case as SKIP with this reason
skip() {
	printf 'SKIP: %s\n' "$*" >&2
	_reason "$*"
	exit 77
}

# assert_eq ACTUAL EXPECTED [WHAT]
assert_eq() {
	if [ "$1" != "$2" ]; then
		fail "${3:-value}: expected '$2', got '$1'"
	fi
	note "ok: ${3:-value} = '$1'"
}

# assert_ne ACTUAL UNEXPECTED [WHAT]
assert_ne() {
	if [ "$1" = "$2" ]; then
		fail "${3:-value}: must not be '$2'"
	fi
	note "ok: ${3:-value} = '$1' (not '$2')"
}

# assert_contains HAYSTACK NEEDLE [WHAT]: fixed-string match
assert_contains() {
	case "$1" in
	*"$2"*) note "ok: ${3:-output} contains '$2'" ;;
	*) fail "${3:-output} does not contain '$2'" ;;
	esac
}

# assert_not_contains HAYSTACK NEEDLE [WHAT]
assert_not_contains() {
	case "$1" in
	*"$2"*) fail "${3:-output} contains '$2'" ;;
	*) note "ok: ${3:-output} lacks '$2'" ;;
	esac
}

# assert_match STRING ERE [WHAT]: extended regular expression (grep -E)
assert_match() {
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then
		note "ok: ${3:-output} matches /$2/"
	else
		fail "${3:-output} does not match /$2/ (got '$(printf '%s' "$1" | head -c 120)')"
	fi
}

# assert_file PATH / assert_no_file PATH / assert_socket PATH / assert_chardev PATH
assert_file() {
	[ -e "$1" ] || fail "$1 does not exist"
	note "ok: $1 exists"
}
assert_no_file() {
	[ -e "$1" ] && fail "$1 still exists"
	note "ok: $1 absent"
}
assert_socket() {
	[ -S "$1" ] || fail "$1 is not a socket"
	note "ok: $1 is a socket"
}
assert_chardev() {
	[ -c "$1" ] || fail "$1 is not a character device"
	note "ok: $1 is a character device"
}

# run CMD...: run a command, show it and its output; sets RUN_RC and RUN_OUT
# (stdout+stderr).  Never fails by itself.
run() {
	printf '$ %s\n' "$*"
	RUN_OUT=$("$@" 2>&1)
	RUN_RC=$?
	[ -n "$RUN_OUT" ] && printf '%s\n' "$RUN_OUT"
	[ "$RUN_RC" = 0 ] || printf '(exit %s)\n' "$RUN_RC"
	return 0
}

# assert_ok CMD...: the command must exit 0; its output is left in RUN_OUT
assert_ok() {
	run "$@"
	[ "$RUN_RC" = 0 ] || fail "'$*' failed (exit $RUN_RC): $(printf '%s' "$RUN_OUT" | tail -n 1 | cut -c1-160)"
}

# assert_fails CMD...: the command must exit with a failure status of its
# own: not 0, and not a timeout (124), "cannot run" (126, 127) or death by a
# signal (>128, e.g. 143 when busybox timeout killed it, 139 on SIGSEGV)
assert_fails() {
	run "$@"
	[ "$RUN_RC" = 0 ] && fail "'$*' succeeded, expected failure"
	if [ "$RUN_RC" -ge 124 ] && [ "$RUN_RC" != 128 ]; then
		fail "'$*' did not fail cleanly (exit $RUN_RC: timeout, not runnable or killed by a signal)"
	fi
	note "ok: '$*' failed (exit $RUN_RC)"
}

# assert_exit CODE CMD...: the command must exit with CODE
assert_exit() {
	_want=$1
	shift
	run "$@"
	[ "$RUN_RC" = "$_want" ] || fail "'$*': exit $RUN_RC, expected $_want"
}

# wait_until SECONDS CMD...: poll CMD every 0.1 s until it succeeds;
# returns 1 on timeout
wait_until() {
	_n=$(($1 * 10))
	shift
	while [ "$_n" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		_n=$((_n - 1))
	done
	"$@" >/dev/null 2>&1
}

# proc_alive PID: the process exists and is not a zombie
proc_alive() {
	[ -r "/proc/$1/stat" ] || return 1
	_st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$_st" ] && [ "$_st" != Z ] && [ "$_st" != X ]
}

# wait_exit PID SECONDS: wait for a child of this shell to exit; on success
# sets WAIT_RC to its exit status and returns 0; returns 1 if still running
wait_exit() {
	_pid=$1
	_n=$(($2 * 10))
	while proc_alive "$_pid" && [ "$_n" -gt 0 ]; do
		sleep 0.1
		_n=$((_n - 1))
	done
	proc_alive "$_pid" && return 1
	wait "$_pid"
	WAIT_RC=$?
	return 0
}

# need_expect VAR: the value of expectation VAR (e.g. EXPECT_IPA), or fail
need_expect() {
	eval "_v=\${$1:-}"
	[ -n "$_v" ] || fail "$1 not set for this host (run-host --env $1=...)"
	printf '%s\n' "$_v"
}

# host facts from the kernel log ------------------------------------------

# dmesg_ipa_bits: "48" from "kvm [1]: IPA Size Limit: 48 bits", empty if none
dmesg_ipa_bits() {
	dmesg | sed -n 's/.*IPA Size Limit: \([0-9][0-9]*\) bits.*/\1/p' | tail -n 1
}

# dmesg_kvm_mode: vhe | nvhe | protected | none, from the KVM init message
dmesg_kvm_mode() {
	_l=$(dmesg | grep 'mode initialized successfully' | tail -n 1)
	case "$_l" in
	*Protected*) echo protected ;;
	*nVHE* | *hVHE* | *"Hyp mode"*) echo nvhe ;;
	*VHE*) echo vhe ;;
	*) echo none ;;
	esac
}
