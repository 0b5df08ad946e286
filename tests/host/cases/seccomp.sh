# hosts: max61
# timeout: 180
#
# The worker's seccomp filters (src/vm/seccomp.c) on a real arm64 kernel,
# which qemu-user cannot give: tests/host/tools/seccomp-probe installs each
# thread kind's list in children, checks that what the worker needs still
# works (a KVM ioctl on a bad fd fails with EBADF rather than dying), that
# everything else dies by SIGSYS, that a vCPU thread can stack its list on
# the loop's, and that the SIGSYS report ends the process with
# WORKER_EXIT_SECCOMP (8) and names the syscall in the log and exit.json.

tool=$(need_tool seccomp-probe) || exit $?

for kind in loop vcpu; do
	say "the $kind list"
	assert_ok "$tool" list "$kind"
	assert_match "$RUN_OUT" "^$kind: [0-9]+ syscalls: ioctl " "the $kind list"
	note "without TAP or disks: $("$tool" list "$kind" --no-tap --no-disks | awk -F": " "{ print \$2 }")"

	say "the $kind filter"
	run "$tool" "$kind"
	printf '%s\n' "$RUN_OUT" >"$CASE_TMP/seccomp-$kind.log"
	assert_not_contains "$RUN_OUT" "FAIL " "seccomp-probe $kind"
	assert_contains "$RUN_OUT" "PASS $kind: report: openat: seccomp: syscall openat (56)"
	assert_match "$RUN_OUT" "^seccomp-probe $kind: [0-9]+ checks, 0 failed\$"
	assert_eq "$RUN_RC" 0 "seccomp-probe $kind exit status"
done
assert_contains "$(cat "$CASE_TMP/seccomp-loop.log")" \
	"PASS loop: report from a stacked vCPU thread: read: seccomp: syscall read (63)"
