# hosts: max61
# timeout: 600
# needs: guests
#
# armvmctl run: create, start, stream the console, wait for the end, exit
# with the outcome.  The Linux test guest run with --rm: its console on
# stdout, exit 0, the VM gone; input from stdin reaches its shell.  The
# bare-metal guest: without --rm it stays, stopped; without --name it is
# run-PID-N.  A refused create exits 125 with the daemon's message once; a
# guest that never stops with --timeout exits 124 (removed with --rm,
# stopped without); SIGTERM stops it (143) and --rm removes it; a killed
# worker is a crash (123).  On a terminal (ptyrun): what is typed reaches
# the guest, Ctrl-] stops the VM (130, removed with --rm) and the terminal
# is left as it was.

need_armvmd
need_guest
pty=$(need_tool ptyrun) || exit $?
img=$GUEST_DIR/boottimer.img
[ -f "$img" ] || skip "no bare-metal guest $img (make guests)"
j=$CASE_TMP
# the same guest, waiting for interrupts after its mark (offset 0x48 = 1)
hold=$j/boottimer-hold.img
cp "$img" "$hold" || fail "cannot copy $img"
printf '\001' | dd of="$hold" bs=1 seek=72 conv=notrunc 2>/dev/null || fail "cannot patch $hold"
armvmd_start --state-dir "$j/state"

# crun OUT ARGS...: armvmctl run ARGS, stdin /dev/null, stdout in OUT and
# stderr in OUT.err; sets RUN_RC
crun() {
	_o=$1
	shift
	printf '$ armvmctl run %s\n' "$*"
	ctl run "$@" </dev/null >"$_o" 2>"$_o.err"
	RUN_RC=$?
	cat "$_o.err"
	printf '(exit %s)\n' "$RUN_RC"
}

# gone NAME: vm.info answers -32002
gone() {
	jctl "$j/gone-$1.json" call vm.info "{\"name\":\"$1\"}"
	[ "$RUN_RC" = 1 ] || fail "$1 is still there after --rm"
	assert_json code -32002 "$j/gone-$1.json"
}

say "run --rm the Linux guest: its console on stdout, exit 0, the VM gone"
crun $j/lin.out --rm --name lin --kernel "$GUEST_KERNEL" --initrd "$GUEST_INITRD" \
	--memory 256M --cmdline "console=ttyS0"
tail -n 5 $j/lin.out
[ "$RUN_RC" = 0 ] || fail "run of the Linux guest: exit $RUN_RC, expected 0"
for m in 'Booting Linux' ARMVMD-GUEST-INIT ARMVMD-GUEST-DONE; do
	grep -q "$m" $j/lin.out || fail "no '$m' on run's stdout"
	note "ok: stdout shows $m"
done
gone lin

say "stdin goes to the guest: a shell told to power off"
(
	n=0
	while ! grep -q ARMVMD-GUEST-SHELL $j/sh.out 2>/dev/null && [ $n -lt 480 ]; do
		sleep 0.5
		n=$((n + 1))
	done
	sleep 2
	echo 'echo RUN-INPUT-$((6 * 7)); poweroff -f'
	sleep 2
) | ctl run --rm --name sh --kernel "$GUEST_KERNEL" --initrd "$GUEST_INITRD" \
	--memory 256M --cmdline "console=ttyS0 armvmd.test=hold" >$j/sh.out 2>$j/sh.out.err
RUN_RC=$?
cat $j/sh.out.err
tail -n 5 $j/sh.out
[ "$RUN_RC" = 0 ] || fail "run with input: exit $RUN_RC, expected 0"
grep -q RUN-INPUT-42 $j/sh.out || fail "the command sent on stdin did not run in the guest"
note "ok: the guest ran what came on stdin"
gone sh

say "on a terminal: typing reaches the guest, Ctrl-] stops the VM (exit 130)"
printf '$ ptyrun ... -- armvmctl run --rm --name tty ...\n'
"$pty" '/ # ' 'echo TTY-$((6 * 7))\r' 'TTY-42' '\x1d' -- \
	"$ARMVMCTL" --socket "$ARMVMD_SOCKET" run --rm --name tty --kernel "$GUEST_KERNEL" \
	--initrd "$GUEST_INITRD" --memory 256M --cmdline "console=ttyS0 armvmd.test=hold" \
	>$j/tty.out 2>&1
RUN_RC=$?
tail -n 4 $j/tty.out
assert_eq "$RUN_RC" 130 "exit status after Ctrl-] (97: terminal left raw, 98: no prompt)"
grep -q 'console attached, Ctrl-] stops the VM' $j/tty.out || fail "no hint about Ctrl-]"
grep -q 'tty: Ctrl-]: destroyed by force' $j/tty.out || fail "no message after Ctrl-]"
gone tty

say "without --rm: the VM stays, stopped"
crun $j/keep.out --name keep --kernel "$img"
[ "$RUN_RC" = 0 ] || fail "run of the bare-metal guest: exit $RUN_RC, expected 0"
wait_state keep stopped 10
jctl_ok $j/keep.json call vm.info '{"name":"keep"}'
assert_json reason "guest powered off" $j/keep.json
jctl_ok $j/d.json call vm.destroy '{"name":"keep"}'

say "without --name: run-PID-N, removed by --rm"
crun $j/anon.out --rm --kernel "$img"
[ "$RUN_RC" = 0 ] || fail "run without a name: exit $RUN_RC, expected 0"
crun $j/anon2.out --kernel "$img"
[ "$RUN_RC" = 0 ] || fail "run without a name: exit $RUN_RC, expected 0"
ctl --json list >$j/list.json
name=$(json_get 0.name $j/list.json) || fail "the unnamed VM is not listed"
assert_match "$name" '^run-[0-9][0-9]*-1$' "generated name"
[ "$(json_get 1.name $j/list.json)" ] && fail "more than one VM left: $(cat $j/list.json)"
jctl_ok $j/d.json call vm.destroy "{\"name\":\"$name\"}"

say "a refused create: exit 125, the daemon's message once"
crun $j/ipa.out --rm --name big --kernel "$img" --ipa 60
[ "$RUN_RC" = 125 ] || fail "run --ipa 60: exit $RUN_RC, expected 125"
assert_eq "$(grep -c 'vm.create: ' $j/ipa.out.err)" 1 "refusal messages"
grep -q 'code -32004' $j/ipa.out.err || fail "no -32004 in the message"
[ -s $j/ipa.out ] && fail "stdout of a refused run is not empty"
gone big
crun $j/nok.out --rm --name nok --kernel "$j/no-such-kernel"
[ "$RUN_RC" = 125 ] || fail "run of a missing kernel: exit $RUN_RC, expected 125"
assert_eq "$(grep -c 'vm.create: ' $j/nok.out.err)" 1 "refusal messages"
grep -q 'no-such-kernel' $j/nok.out.err || fail "the message does not name the kernel"
gone nok
crun $j/use.out --rm --kernel "$img" --no-such-option
[ "$RUN_RC" = 125 ] || fail "run with a bad option: exit $RUN_RC, expected 125"

say "a guest that never stops: --timeout 3 exits 124"
t0=$(date +%s)
crun $j/to.out --rm --name hold --timeout 3 --kernel "$hold"
t1=$(date +%s)
[ "$RUN_RC" = 124 ] || fail "run --timeout 3: exit $RUN_RC, expected 124"
[ $((t1 - t0)) -lt 30 ] || fail "run --timeout 3 took $((t1 - t0)) s"
grep -q 'still running after 3 s' $j/to.out.err || fail "no timeout message"
gone hold
crun $j/to2.out --name hold2 --timeout 2s --kernel "$hold"
[ "$RUN_RC" = 124 ] || fail "run --timeout 2s: exit $RUN_RC, expected 124"
wait_state hold2 stopped 10
jctl_ok $j/d.json call vm.destroy '{"name":"hold2"}'

say "SIGTERM: the VM destroyed, exit 143"
"$ARMVMCTL" --socket "$ARMVMD_SOCKET" run --rm --name term --kernel "$hold" \
	</dev/null >$j/term.out 2>$j/term.out.err &
rpid=$!
wait_state term running 30
kill -TERM $rpid
wait_exit $rpid 20 || { kill -KILL $rpid; fail "run did not exit after SIGTERM"; }
cat $j/term.out.err
assert_eq "$WAIT_RC" 143 "exit status after SIGTERM"
gone term

say "a killed worker is a crash: exit 123, --rm removes it"
"$ARMVMCTL" --socket "$ARMVMD_SOCKET" run --rm --name crash --kernel "$hold" \
	</dev/null >$j/crash.out 2>$j/crash.out.err &
rpid=$!
wait_state crash running 30
ctl --json call vm.info '{"name":"crash"}' >$j/crash.json
wpid=$(json_get pid $j/crash.json) || fail "no worker pid"
kill -KILL "$wpid"
wait_exit $rpid 20 || { kill -KILL $rpid; fail "run did not exit after the worker was killed"; }
cat $j/crash.out.err
assert_eq "$WAIT_RC" 123 "exit status after the worker was killed"
grep -q 'crashed' $j/crash.out.err || fail "no crash message"
gone crash
armvmd_stop
