# Helpers for cases that boot guests.  POSIX/busybox sh.
#
#   GUEST_DIR          payloads carried into the host (/usr/lib/armvmd-guests)
#   GUEST_KERNEL       the arm64 guest kernel (the Debian kernel of the host)
#   GUEST_INITRD       the busybox test initramfs (tests/guests/linux-init)
#   need_guest                 skip unless the payloads are there
#   need_guest_images K I [W]  skip unless kernel K and initrd I are there
#   vm_console_log NAME        path of NAME's console log
#   wait_console NAME PATTERN SECONDS
#                              wait for PATTERN (grep -E) in NAME's console;
#                              fail with the console tail on timeout
#   wait_state NAME STATE SECONDS
#   vm_state NAME              the state vm.list reports

: "${GUEST_DIR:=/usr/lib/armvmd-guests}"
: "${GUEST_KERNEL:=$GUEST_DIR/Image}"
: "${GUEST_INITRD:=$GUEST_DIR/linux.cpio.gz}"
: "${ARMVMD_RUNTIME_DIR:=/run/armvmd}"

# need_guest_images KERNEL INITRD [WHAT]: skip the case unless both exist
need_guest_images() {
	[ -f "$1" ] || skip "no ${3:-}${3:+ }guest kernel at $1"
	[ -f "$2" ] || skip "no ${3:-}${3:+ }guest initrd at $2"
}

need_guest() {
	need_guest_images "$GUEST_KERNEL" "$GUEST_INITRD"
}

vm_console_log() {
	printf '%s/vms/%s/console.log\n' "$ARMVMD_RUNTIME_DIR" "$1"
}

wait_console() {
	_log=$(vm_console_log "$1")
	_n=$(($3 * 2))
	while [ "$_n" -gt 0 ]; do
		grep -qE "$2" "$_log" 2>/dev/null && { note "ok: console of $1 shows /$2/"; return 0; }
		sleep 0.5
		_n=$((_n - 1))
	done
	show_log "$_log" 40
	show_log "$ARMVMD_RUNTIME_DIR/vms/$1/worker.log" 20
	fail "console of $1: no /$2/ within $3 s"
}

vm_state() {
	ctl --json call vm.info "{\"name\":\"$1\"}" >"$CASE_TMP/state.json" 2>/dev/null || return 1
	json_get state "$CASE_TMP/state.json"
}

wait_state() {
	_n=$(($3 * 2))
	while [ "$_n" -gt 0 ]; do
		[ "$(vm_state "$1")" = "$2" ] && { note "ok: $1 is $2"; return 0; }
		sleep 0.5
		_n=$((_n - 1))
	done
	fail "$1: state $(vm_state "$1"), expected $2 within $3 s"
}

# jctl FILE ARGS...: armvmctl --json ARGS with the JSON it prints (result or
# error object) in FILE and its messages beside it; sets RUN_RC
jctl() {
	_jf=$1
	shift
	printf '$ armvmctl --json %s\n' "$*"
	ctl --json "$@" >"$_jf" 2>"$_jf.err"
	RUN_RC=$?
	cat "$_jf" "$_jf.err"
	[ "$RUN_RC" = 0 ] || printf '(exit %s)\n' "$RUN_RC"
}

# jctl_ok FILE ARGS... / jctl_fails FILE ARGS...
jctl_ok() {
	jctl "$@"
	[ "$RUN_RC" = 0 ] || fail "armvmctl $2 $3 failed (exit $RUN_RC): $(tail -n 1 "$1.err")"
}

jctl_fails() {
	jctl "$@"
	[ "$RUN_RC" = 1 ] || fail "armvmctl $2 $3: exit $RUN_RC, expected 1 (an RPC error)"
}
