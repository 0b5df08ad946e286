# hosts: max61
# timeout: 300
#
# One worker per VM: SIGKILL of one VM's worker marks that VM crashed and
# leaves the daemon and another running VM untouched.

need_armvmd
need_guest
armvmd_start

for n in a b; do
	assert_ok ctl --json call vm.create "{\"name\":\"$n\",\"kernel\":\"$GUEST_KERNEL\",
		\"initrd\":\"$GUEST_INITRD\",\"memory\":\"256M\",
		\"cmdline\":\"console=ttyS0 armvmd.test=hold\"}"
done
wait_console b 'ARMVMD-GUEST-INIT' 240

pid=$(ctl --json call vm.info '{"name":"a"}' | grep '"pid"' | head -n 1 | tr -dc 0-9)
[ -n "$pid" ] || fail "no worker pid for a"
say "kill -9 the worker of a (pid $pid)"
kill -KILL "$pid"
wait_state a crashed 20
ctl --json call vm.info '{"name":"a"}' >"$CASE_TMP/a.json"
assert_contains "$(json_get reason "$CASE_TMP/a.json")" "signal 9" "crash reason"

say "b keeps running and printing"
assert_eq "$(vm_state b)" running "state of b"
before=$(grep -c ARMVMD-GUEST-ALIVE "$(vm_console_log b)")
sleep 8
after=$(grep -c ARMVMD-GUEST-ALIVE "$(vm_console_log b)")
[ "$after" -gt "$before" ] || fail "b printed nothing new ($before -> $after)"
note "ok: b alive ($before -> $after)"
assert_ok ctl list
kill -0 "$ARMVMD_PID" || fail "armvmd died"

say "input typed on b's console reaches its shell (armvmctl console)"
wait_console b 'ARMVMD-GUEST-SHELL' 30
run sh -c "echo 'echo MARK\$((6*7))' | $ARMVMCTL --socket $ARMVMD_SOCKET console b --linger 5"
assert_contains "$RUN_OUT" "MARK42" "the shell's answer on the console"

say "a crashed VM can be started again"
assert_ok ctl --json call vm.start '{"name":"a"}'
wait_state a running 30
for n in a b; do assert_ok ctl --json call vm.destroy "{\"name\":\"$n\"}"; done
armvmd_stop
