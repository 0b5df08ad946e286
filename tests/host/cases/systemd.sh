# hosts: sysd
# timeout: 420
# needs: guests
#
# armvmd under systemd (the sysd host: systemd is PID 1, the units of
# systemd/ are in /etc/systemd/system, not enabled).  armvmd.socket listens
# before any daemon runs; the first armvmctl call starts armvmd.service
# through it.  A guest runs; "systemctl restart armvmd" gives a new daemon
# that re-adopts the running worker (same pid, state running, the console
# goes on, input reaches the guest; a member of the socket's group
# attaches to the console, the worker's control socket stays root's);
# "systemctl stop armvmd" ends the daemon only (KillMode=process): the
# worker and the guest go on and the socket still listens, so the next
# armvmctl call activates a daemon again, which re-adopts the VM.  The
# daemon's log lines are in the journal.

need_armvmd
need_guest
[ -d /run/systemd/system ] || skip "systemd is not PID 1 on this host"
command -v systemctl >/dev/null 2>&1 || skip "no systemctl"

UNITS=/etc/systemd/system
SOCK=/run/armvmd/armvmd.sock
[ "$ARMVMD_SOCKET" = "$SOCK" ] || fail "ARMVMD_SOCKET is $ARMVMD_SOCKET, not the socket unit's $SOCK"
assert_file "$UNITS/armvmd.service"
assert_file "$UNITS/armvmd.socket"
cat "$UNITS/armvmd.service" "$UNITS/armvmd.socket"

is_active() { # UNIT: its ActiveState
	systemctl is-active "$1" 2>/dev/null
}
main_pid() {
	systemctl show -p MainPID --value armvmd.service
}
service_active() {
	[ "$(is_active armvmd.service)" = active ]
}
alive_count() {
	grep -c ARMVMD-GUEST-ALIVE "$(vm_console_log g1)" 2>/dev/null
}
# the guest prints a heartbeat every 5 s: wait for the count to grow
assert_heartbeat() { # WHEN
	_b=$(alive_count)
	wait_until 20 sh -c "[ \$(grep -c ARMVMD-GUEST-ALIVE $(vm_console_log g1)) -gt $_b ]" ||
		fail "$1: the guest's console shows no new heartbeat in 20 s (still $_b)"
	note "ok: $1: the guest's heartbeat goes on ($_b -> $(alive_count))"
}
# assert_adopted WHEN: g1 is running in the worker $WPID, answered for by
# a daemon that is not the one before
assert_adopted() {
	jctl_ok "$CASE_TMP/info.json" info g1
	assert_json state running "$CASE_TMP/info.json"
	assert_eq "$(json_get pid "$CASE_TMP/info.json")" "$WPID" "$1: worker pid of g1"
	assert_contains "$(json_get reason "$CASE_TMP/info.json")" "re-adopted" "$1: reason"
	# its scope outlives the daemon: systemd keeps it, and its bounds
	[ -z "${SCOPE:-}" ] || assert_eq "$(cat /proc/"$WPID"/cgroup)" "0::/machine.slice/$SCOPE" \
		"$1: the worker's scope"
}

say "systemctl start armvmd.socket: systemd listens, no daemon runs yet"
assert_ok systemctl start armvmd.socket
assert_eq "$(is_active armvmd.socket)" active "armvmd.socket"
assert_eq "$(is_active armvmd.service)" inactive "armvmd.service before any call"
assert_socket "$SOCK"
assert_eq "$(stat -c '%U:%G %a' "$SOCK")" "root:armvm 660" "owner and mode of $SOCK"

say "armvmctl host: the call activates armvmd.service through the socket"
assert_ok ctl --json host
assert_contains "$RUN_OUT" '"kvm"' "host.info answer"
wait_until 30 service_active || fail "armvmd.service is $(is_active armvmd.service) 30 s after the call"
PID1=$(main_pid)
[ "${PID1:-0}" -gt 0 ] || fail "armvmd.service has no main pid"
jctl_ok "$CASE_TMP/daemon.json" daemon
assert_eq "$(json_get pid "$CASE_TMP/daemon.json")" "$PID1" "daemon.info pid vs MainPID"
note "armvmd.service active, pid $PID1 ($(systemctl show -p Type --value armvmd.service))"

say "the socket's group may use the daemon, others may not"
# util-linux's setpriv by its path: busybox sh runs its own applets first
SETPRIV=
if [ -x /usr/bin/setpriv ] && /usr/bin/setpriv --help 2>&1 | grep -q -e --regid; then
	SETPRIV=/usr/bin/setpriv
	assert_ok $SETPRIV --reuid=nobody --regid=armvm --clear-groups \
		"$ARMVMCTL" --socket "$SOCK" --json host
	assert_fails $SETPRIV --reuid=nobody --regid=nogroup --clear-groups \
		"$ARMVMCTL" --socket "$SOCK" --json host
else
	note "no util-linux setpriv: not checked"
fi

say "create and start a guest that stays up"
jctl_ok "$CASE_TMP/create.json" call vm.create "{\"name\":\"g1\",\"kernel\":\"$GUEST_KERNEL\",
	\"initrd\":\"$GUEST_INITRD\",\"memory\":\"256M\",
	\"cmdline\":\"console=ttyS0 armvmd.test=hold\"}"
assert_json state running "$CASE_TMP/create.json"
wait_console g1 'ARMVMD-GUEST-SHELL' 240
jctl_ok "$CASE_TMP/info0.json" info g1
WPID=$(json_get pid "$CASE_TMP/info0.json")
[ "${WPID:-0}" -gt 0 ] || fail "no worker pid for g1"
note "worker $WPID, cgroup $(cat /proc/"$WPID"/cgroup 2>/dev/null)"
assert_heartbeat "before any restart"

say "its worker is jailed in a cgroup of its own: a transient scope (systemd $(systemctl --version | head -n 1 | cut -d' ' -f2))"
# systemd before 254 cannot give the daemon a delegated subtree that
# survives restarts (DelegateSubgroup=): armvmd asks systemd for a scope
cg=$(cat /proc/"$WPID"/cgroup)
case $cg in
0::/machine.slice/armvm-g1-*.scope|0::/system.slice/armvmd.service/vms/g1-*)
	note "ok: worker cgroup $cg" ;;
*)	fail "the worker's cgroup is $cg, not one of its own" ;;
esac
case $cg in
*.scope)
	unit=${cg##*/}
	systemctl status "$unit" --no-pager 2>&1 | head -n 8
	assert_eq "$(systemctl show -p MemoryMax --value "$unit")" "$(( (256 + 96) * 1048576 ))" \
		"the scope's MemoryMax (guest RAM + allowance)"
	assert_eq "$(systemctl show -p TasksMax --value "$unit")" 5 "the scope's TasksMax"
	assert_eq "$(cat "/sys/fs/cgroup${cg#0::}/memory.max")" "$(( (256 + 96) * 1048576 ))" \
		"memory.max of the scope's cgroup"
	assert_json sandbox.scope "$unit" "$CASE_TMP/info0.json"
	SCOPE=$unit ;;
esac
if [ "$(systemctl show -p Type --value armvmd.service)" = notify ]; then
	wait_until 10 sh -c 'systemctl show -p StatusText --value armvmd.service | grep -q "1 running"' ||
		fail "armvmd.service status '$(systemctl show -p StatusText --value armvmd.service)': no '1 running' (STATUS= every 5 s)"
	note "ok: status: $(systemctl show -p StatusText --value armvmd.service)"
fi

say "systemctl restart armvmd: a new daemon re-adopts the running worker"
assert_ok systemctl restart armvmd.service
wait_until 30 service_active || fail "armvmd.service is $(is_active armvmd.service) after the restart"
PID2=$(main_pid)
assert_ne "$PID2" "$PID1" "daemon pid after the restart"
proc_alive "$WPID" || fail "the worker $WPID died with the restart"
assert_adopted "after the restart"
assert_heartbeat "after the restart"

say "input reaches the guest through the new daemon's console link"
run sh -c "echo 'echo MARK\$((6*7))' | $ARMVMCTL --socket $SOCK console g1 --linger 5"
assert_contains "$RUN_OUT" "MARK42" "the guest shell's answer"

say "the console is its owner's (root's: no admin group); the control socket is root's"
assert_eq "$(stat -c '%U:%G %a' /run/armvmd/vms/g1)" "root:armvm 750" "owner and mode of g1's runtime dir"
assert_eq "$(stat -c '%U:%G %a' /run/armvmd/vms/g1/console.sock)" "root:root 600" "owner and mode of console.sock"
assert_eq "$(stat -c '%U:%G %a' /run/armvmd/vms/g1/control.sock)" "root:root 600" "owner and mode of control.sock"
if [ -n "$SETPRIV" ]; then
	# a member of the socket's group is not the VM's owner: no console
	assert_fails $SETPRIV --reuid=nobody --regid=armvm --clear-groups \
		"$ARMVMCTL" --socket "$SOCK" console g1 --linger 1 </dev/null
	assert_contains "$RUN_OUT" "32011" "armvmctl console g1 as a member of armvm"
	# the worker's own socket refuses the group's members (EACCES)
	assert_fails $SETPRIV --reuid=nobody --regid=armvm --clear-groups \
		"$ARMVMCTL" --socket /run/armvmd/vms/g1/control.sock --json host
	assert_contains "$RUN_OUT" "ermission denied" "armvmctl on control.sock as a member of armvm"
fi

say "systemctl stop armvmd: the daemon ends, the VM goes on, the socket listens"
assert_ok systemctl stop armvmd.service
assert_eq "$(is_active armvmd.service)" inactive "armvmd.service after the stop"
proc_alive "$PID2" && fail "the daemon $PID2 still runs after systemctl stop"
assert_eq "$(is_active armvmd.socket)" active "armvmd.socket after stopping the service"
assert_socket "$SOCK"
proc_alive "$WPID" || fail "the worker $WPID died with systemctl stop"
assert_socket /run/armvmd/vms/g1/control.sock
assert_heartbeat "while no daemon runs"

say "the next armvmctl call activates a daemon again, which re-adopts g1"
assert_ok ctl --json list
assert_contains "$RUN_OUT" '"g1"' "vm.list after re-activation"
wait_until 30 service_active || fail "armvmd.service is $(is_active armvmd.service) after the call"
PID3=$(main_pid)
assert_ne "$PID3" "$PID2" "daemon pid after re-activation"
assert_adopted "after re-activation"
assert_heartbeat "after re-activation"

say "the journal has the daemon's log lines"
journalctl --no-pager -o cat -u armvmd.service >"$CASE_TMP/journal.txt" 2>&1
cat "$CASE_TMP/journal.txt"
n=$(grep -c 'listening on' "$CASE_TMP/journal.txt")
[ "$n" -ge 3 ] || fail "journal of armvmd.service: $n 'listening on' lines, expected 3 (three daemons)"
grep -q "VM g1: worker $WPID spawned" "$CASE_TMP/journal.txt" ||
	fail "journal of armvmd.service: no 'VM g1: worker $WPID spawned'"
n=$(grep -c "VM g1: re-adopted worker $WPID" "$CASE_TMP/journal.txt")
[ "$n" -ge 2 ] || fail "journal of armvmd.service: $n 're-adopted worker $WPID' lines, expected 2"
grep -q 'shutting down' "$CASE_TMP/journal.txt" || fail "journal of armvmd.service: no 'shutting down'"

say "clean up: the VM, then the units"
assert_ok ctl --json call vm.stop '{"name":"g1","force":true}'
wait_state g1 stopped 20
assert_ok ctl --json call vm.destroy '{"name":"g1"}'
wait_exit "$WPID" 10 || fail "the worker $WPID outlived vm.destroy"
assert_ok systemctl stop armvmd.socket armvmd.service
assert_eq "$(is_active armvmd.service)" inactive "armvmd.service at the end"
