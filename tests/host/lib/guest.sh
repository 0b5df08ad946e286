# Helpers for cases that boot guests.  POSIX/busybox sh.
#
#   GUEST_DIR          payloads carried into the host (/usr/lib/armvmd-guests)
#   GUEST_KERNEL       the arm64 guest kernel (the Debian kernel of the host)
#   GUEST_INITRD       the busybox test initramfs (tests/guests/linux-init)
#   need_guest                 skip unless the payloads are there
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

need_guest() {
	[ -f "$GUEST_KERNEL" ] || skip "no guest kernel at $GUEST_KERNEL"
	[ -f "$GUEST_INITRD" ] || skip "no guest initrd at $GUEST_INITRD"
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
