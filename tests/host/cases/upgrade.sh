# hosts: max61
# timeout: 480
#
# The daemon binary replaced under a running VM (issue 11, item 7).  The
# previous release's armvmd (tests/host/prev-release; in the host
# /usr/lib/armvmd-tests/armvmd-prev) creates a Linux guest
# (armvmd.test=powerkey: a heartbeat, a shell, acpid on the power key) and
# ends on SIGTERM; the guest goes on.  Our armvmd, started on the same
# socket and directories, re-adopts that release's worker (protocol 1: no
# "proto" in worker.info): the same pid, state running, vm.info with its
# live part, vm.console and input typed into the guest's shell work, the
# heartbeat goes on; a graceful vm.stop through the new daemon powers the
# guest off with the power key; the VM is destroyed.  Skipped when the
# previous release's daemon was not built into the host.

prev=$ARMVMD_TESTS/armvmd-prev
[ -x "$prev" ] || skip "no previous release's daemon at $prev (run tests/host/prev-release, then rebuild the host)"
need_armvmd
need_guest
new=$ARMVMD

say "the previous release's daemon creates a VM"
ARMVMD=$prev
armvmd_start
assert_ok ctl --json call daemon.info
note "previous daemon: $(printf '%s' "$RUN_OUT" | grep '"version"' | head -n 1)"
assert_ok ctl --json call vm.create "{\"name\":\"upgr\",\"kernel\":\"$GUEST_KERNEL\",
	\"initrd\":\"$GUEST_INITRD\",\"memory\":\"256M\",
	\"cmdline\":\"console=ttyS0 armvmd.test=powerkey\"}"
wait_console upgr 'ARMVMD-GUEST-ALIVE' 240
ctl --json call vm.info '{"name":"upgr"}' >"$CASE_TMP/before.json"
pid=$(json_get pid "$CASE_TMP/before.json")
[ -n "$pid" ] || fail "no worker pid for upgr"
note "worker pid $pid (the previous release's)"

say "SIGTERM the previous daemon: the VM keeps running"
armvmd_stop 10 TERM
assert_eq "$ARMVMD_RC" 0 "previous armvmd's exit status after SIGTERM"
proc_alive "$pid" || fail "the worker ended with its daemon"

say "the new daemon re-adopts the worker"
ARMVMD=$new
armvmd_start
wait_state upgr running 30
ctl --json call vm.info '{"name":"upgr"}' >"$CASE_TMP/after.json"
cat "$CASE_TMP/after.json"
assert_eq "$(json_get pid "$CASE_TMP/after.json")" "$pid" "worker pid after the upgrade"
assert_contains "$(json_get reason "$CASE_TMP/after.json")" "re-adopted" "reason"
json_get live.pid "$CASE_TMP/after.json" >/dev/null ||
	fail "vm.info has no live part from the re-adopted worker: $(json_get live.error "$CASE_TMP/after.json")"
assert_eq "$(json_get live.pid "$CASE_TMP/after.json")" "$pid" "live.pid"
note "unresponsive=$(json_get unresponsive "$CASE_TMP/after.json") proto=$(json_get live.proto "$CASE_TMP/after.json" || echo none)"
[ "$(json_get unresponsive "$CASE_TMP/after.json")" = true ] && fail "the re-adopted VM is marked unresponsive"

say "the console still works through the new daemon"
ctl --json call vm.console '{"name":"upgr","bytes":4096}' >"$CASE_TMP/console.json"
assert_contains "$(json_get output "$CASE_TMP/console.json")" "ARMVMD-GUEST-ALIVE" "vm.console output"
before=$(grep -c ARMVMD-GUEST-ALIVE "$(vm_console_log upgr)")
run sh -c "echo 'echo MARK\$((6*7))' | $ARMVMCTL --socket $ARMVMD_SOCKET console upgr --linger 5"
assert_contains "$RUN_OUT" "MARK42" "the shell's answer on the console"
sleep 6
after=$(grep -c ARMVMD-GUEST-ALIVE "$(vm_console_log upgr)")
[ "$after" -gt "$before" ] || fail "no heartbeat after the upgrade ($before -> $after)"
note "ok: heartbeat goes on ($before -> $after)"

say "a graceful stop through the new daemon"
assert_ok "$ARMVMCTL" --socket "$ARMVMD_SOCKET" --timeout 120 --json call vm.stop \
	'{"name":"upgr","timeout":60}'
wait_state upgr stopped 30
ctl --json call vm.info '{"name":"upgr"}' >"$CASE_TMP/stopped.json"
note "reason: $(json_get reason "$CASE_TMP/stopped.json")"
grep -q ARMVMD-GUEST-POWERKEY "$(vm_console_log upgr)" || note "(the guest did not log the power key)"
n=0
while proc_alive "$pid" && [ "$n" -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
proc_alive "$pid" && fail "the worker $pid still runs after vm.stop"
assert_ok ctl --json call vm.destroy '{"name":"upgr"}'
armvmd_stop 10
assert_eq "$ARMVMD_RC" 0 "armvmd exit status after SIGTERM"
