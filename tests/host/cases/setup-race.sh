# hosts: max61b
# timeout: 420
# needs: guests
#
# The daemon dies while a worker is still setting its VM up.  The worker
# is stopped (SIGSTOP) as soon as it runs, before it has a control socket;
# armvmd is killed with SIGKILL and a new one starts, finding no socket to
# adopt.  When the worker goes on, nobody reads its status line: it must
# end by itself, say why in exit.json and leave no socket behind, rather
# than run a VM that no daemon knows.  The name is free again afterwards,
# and a VM of that name boots.

need_armvmd
need_guest
state=$CASE_TMP/state
j=$CASE_TMP
armvmd_start --state-dir "$state"
rundir=/run/armvmd/vms/race

# worker_pid: the worker's pid, as soon as the daemon has logged its fork
worker_pid() {
	sed -n 's/.*VM race: worker \([0-9]*\) spawned.*/\1/p' "$ARMVMD_LOG"
}

# a 351 MiB initrd (the test one, zero-padded): copying it into guest
# memory keeps the worker in its set-up long enough to be caught there
big=$CASE_TMP/big.img
cp "$GUEST_INITRD" "$big"
dd if=/dev/zero of="$big" bs=1M count=0 seek=351 2>/dev/null

worker_gone() {
	! proc_alive "$WPID"
}

say "vm.create race; its worker is stopped as soon as it runs"
ctl call vm.create "{\"name\":\"race\",\"kernel\":\"$GUEST_KERNEL\",\"initrd\":\"$big\",\"memory\":\"1G\",\"cmdline\":\"console=ttyS0 armvmd.test=hold\"}" \
	>$j/create.out 2>&1 &
CREATE_PID=$!
WPID=
n=0
while [ -z "$WPID" ] && [ "$n" -lt 2000 ]; do
	WPID=$(worker_pid)
	n=$((n + 1))
done
[ -n "$WPID" ] || fail "no worker for race appeared"
kill -STOP "$WPID"
note "worker $WPID stopped after $n looks"
# the daemon binds the sockets at spawn; the worker listens once it is
# set up (a listening socket has the __SO_ACCEPTCON flag in /proc/net/unix)
if grep -q " 00010000 .* $rundir/control.sock\$" /proc/net/unix; then
	# too late: it was set up already; the new daemon adopts it instead
	EARLY=no
	note "the worker had its control socket already: the adoption path runs"
else
	EARLY=yes
fi

say "kill -9 armvmd; a new one starts while the worker is stopped"
armvmd_stop 5 KILL
wait "$CREATE_PID"
note "vm.create's client: $(cat $j/create.out)"
armvmd_start --state-dir "$state"
assert_ok ctl --json list

say "the worker goes on"
kill -CONT "$WPID"
if [ "$EARLY" = yes ]; then
	wait_until 30 worker_gone ||
		fail "worker $WPID still runs 30 s after its daemon died, known to no daemon"
	note "ok: worker $WPID ended by itself"
	ls -la "$rundir"
	show_log "$rundir/worker.log"
	assert_file "$rundir/exit.json"
	cat "$rundir/exit.json"
	assert_contains "$(cat "$rundir/exit.json")" "daemon ended while the VM was being set up" "exit.json"
	[ -e "$rundir/control.sock" ] && fail "control.sock left behind"
	[ -e "$rundir/console.sock" ] && fail "console.sock left behind"
	grep -q "daemon that spawned this worker is gone" "$rundir/worker.log" ||
		fail "worker.log does not say why it ended"
	jctl_fails $j/i.json info race
	assert_json code -32002 $j/i.json
else
	jctl_ok $j/i.json info race
	assert_eq "$(json_get pid $j/i.json)" "$WPID" "pid of the adopted worker"
	assert_ok ctl destroy race
fi

rm -f "$big"

say "the name is free: race is created again and boots"
jctl_ok $j/c2.json call vm.create "{\"name\":\"race\",\"kernel\":\"$GUEST_KERNEL\",\"initrd\":\"$GUEST_INITRD\",\"memory\":\"256M\",\"cmdline\":\"console=ttyS0\"}"
assert_json state running $j/c2.json
assert_ne "$(json_get pid $j/c2.json)" "$WPID" "the new worker's pid"
wait_console race 'ARMVMD-GUEST-INIT' 240
assert_ok ctl destroy race
armvmd_stop
