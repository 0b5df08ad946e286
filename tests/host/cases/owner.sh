# hosts: max61
# timeout: 300
#
# VM ownership (issue 12): a VM belongs to the uid that created it.  With
# --group armvmtest (the socket's) and --admin-group armvmadm, uid 1001
# creates a VM from files of its own; uid 1002 (in the socket's group
# only) may list it, read its info and get its state events, but not
# stop, destroy, pause, set or start it, nor read its console (vm.console,
# console events, console.sock, console.log): -32011 with reason
# not-owner.  The owner may; uid 1003 (the admin group as a supplementary
# group) stops it, uid 1004 (the admin group as its primary group) starts
# it, root destroys it.  An --admin-group that does not exist stops the
# daemon at start.  Callers of other uids come from the runas tool.

need_armvmd
runas=$(need_tool runas) || exit $?
sockio=$(need_tool sockio) || exit $?
img=$GUEST_DIR/boottimer.img
[ -f "$img" ] || skip "no bare-metal guest $img (make guests)"
j=$CASE_TMP
G=4100 A=4200

say "groups armvmtest ($G, the socket's) and armvmadm ($A, the admins)"
mkdir -p /etc
touch /etc/group
grep -q '^armvmtest:' /etc/group || echo "armvmtest:x:$G:" >>/etc/group
grep -q '^armvmadm:' /etc/group || echo "armvmadm:x:$A:" >>/etc/group

say "an --admin-group that does not exist is a start-up error"
assert_exit 2 "$ARMVMD" --socket "$j/bad.sock" --state-dir "$j/bad-state" \
	--admin-group no-such-group-here
assert_contains "$RUN_OUT" "no-such-group-here" "the message"
assert_no_file "$j/bad.sock"

armvmd_start --state-dir "$j/state" --group armvmtest --admin-group armvmadm
jctl_ok $j/di.json call daemon.info
assert_json admin_group armvmadm $j/di.json

# as UID GIDS FILE ARGS...: armvmctl --json ARGS as UID with groups GIDS
# (the first the primary one), the JSON it prints in FILE; sets RUN_RC
as() {
	_u=$1 _g=$2 _f=$3
	shift 3
	printf '$ [uid %s, groups %s] armvmctl --json %s\n' "$_u" "$_g" "$*"
	"$runas" "$_u" "$_g" -- "$ARMVMCTL" --socket "$ARMVMD_SOCKET" --json "$@" \
		>"$_f" 2>"$_f.err"
	RUN_RC=$?
	cat "$_f" "$_f.err"
	[ "$RUN_RC" = 0 ] || printf '(exit %s)\n' "$RUN_RC"
}

as_ok() {
	as "$@"
	[ "$RUN_RC" = 0 ] || fail "uid $1: armvmctl $4 $5 failed (exit $RUN_RC): $(tail -n 1 "$3.err")"
}

# as_refused UID GIDS FILE ARGS...: error -32011, not the owner
as_refused() {
	as "$@"
	[ "$RUN_RC" = 1 ] || fail "uid $1: armvmctl $4 $5: exit $RUN_RC, expected 1 (refused)"
	assert_json code -32011 "$3"
	assert_json data.reason not-owner "$3"
	assert_json data.name web "$3"
	assert_json data.owner 1001 "$3"
	assert_json data.uid "$1" "$3"
	assert_json data.admin_group armvmadm "$3"
}

say "uid 1001 creates web from a kernel of its own"
mine=$j/u1001
mkdir -p "$mine"
# the guest waits for interrupts after its marks (offset 0x48 = 1)
cp "$img" "$mine/Image" || fail "cannot copy $img"
printf '\001' | dd of="$mine/Image" bs=1 seek=72 conv=notrunc 2>/dev/null ||
	fail "cannot patch $mine/Image"
chmod 0755 "$j"
chown -R 1001:$G "$mine"
chmod 0700 "$mine"
chmod 0600 "$mine/Image"
as_ok 1001 $G $j/c.json call vm.create \
	"{\"name\":\"web\",\"kernel\":\"$mine/Image\",\"memory\":\"128M\"}"
assert_json owner 1001 $j/c.json
wait_state web running 60

say "uid 1002 watches state events meanwhile (open to the socket's group)"
"$runas" 1002 $G -- "$ARMVMCTL" --socket "$ARMVMD_SOCKET" events --json \
	>$j/ev-1002.log 2>&1 &
evpid=$!
sleep 1

say "uid 1002 may list web and read its info"
as_ok 1002 $G $j/l.json call vm.list
assert_json 0.name web $j/l.json
as_ok 1002 $G $j/i.json call vm.info '{"name":"web"}'
assert_json owner 1001 $j/i.json
assert_json state running $j/i.json

say "uid 1002 may not drive web"
as_refused 1002 $G $j/s.json call vm.stop '{"name":"web","force":true}'
assert_json data.method vm.stop $j/s.json
assert_contains "$(json_get message $j/s.json)" "uid 1002 may not stop it" "the message"
as_refused 1002 $G $j/d.json call vm.destroy '{"name":"web"}'
as_refused 1002 $G $j/p.json call vm.pause '{"name":"web"}'
as_refused 1002 $G $j/rb.json call vm.reboot '{"name":"web","force":true}'
as_refused 1002 $G $j/set.json call vm.set '{"name":"web","autostart":true}'
# refused in any state, before the state is looked at
as_refused 1002 $G $j/st.json call vm.start '{"name":"web"}'
# the armvmctl commands say the same
as 1002 $G $j/stop.json stop web --force
[ "$RUN_RC" = 1 ] || fail "armvmctl stop as uid 1002: exit $RUN_RC, expected 1"
assert_eq "$(vm_state web)" running "state of web after uid 1002's tries"

say "uid 1002 may not read web's console"
as_refused 1002 $G $j/con.json call vm.console '{"name":"web"}'
as_refused 1002 $G $j/ce.json call events.subscribe '{"vm":"web","kinds":["console"]}'
as 1002 $G $j/con2.json console web --recent
[ "$RUN_RC" = 1 ] || fail "armvmctl console as uid 1002: exit $RUN_RC, expected 1"
sock=$(json_get console_socket $j/i.json)
log=$(json_get console_log $j/i.json)
assert_socket "$sock"
note "console.sock: $(ls -ln "$sock")"
note "console.log: $(ls -ln "$log" 2>&1)"
run "$runas" 1002 $G -- "$sockio" "$sock" 1 </dev/null
[ "$RUN_RC" = 0 ] && fail "uid 1002 connected to web's console.sock"
note "ok: uid 1002 cannot connect to $sock"
run "$runas" 1002 $G -- cat "$log"
[ "$RUN_RC" = 0 ] && fail "uid 1002 read web's console.log"
note "ok: uid 1002 cannot read $log"

say "the owner may: console, pause, resume"
as_ok 1001 $G $j/oc.json call vm.console '{"name":"web"}'
as_ok 1001 $G $j/oce.json call events.subscribe '{"vm":"web","kinds":["console"]}'
run "$runas" 1001 $G -- "$sockio" "$sock" 1 </dev/null
[ "$RUN_RC" = 0 ] || fail "the owner cannot connect to web's console.sock"
as_ok 1001 $G $j/op.json call vm.pause '{"name":"web"}'
assert_json state paused $j/op.json
as_ok 1001 $G $j/or.json call vm.resume '{"name":"web"}'
assert_json state running $j/or.json

say "uid 1003, in the admin group (supplementary), stops web and reads its console"
as_ok 1003 $G,$A $j/ac.json call vm.console '{"name":"web"}'
run "$runas" 1003 $G,$A -- "$sockio" "$sock" 1 </dev/null
[ "$RUN_RC" = 0 ] || fail "an admin cannot connect to web's console.sock"
as_ok 1003 $G,$A $j/as.json call vm.stop '{"name":"web","force":true}'
assert_json state stopped $j/as.json

say "uid 1004, the admin group its primary group, starts it again"
as_ok 1004 $A,$G $j/a1.json call vm.start '{"name":"web"}'
wait_state web running 60

say "root destroys it"
jctl_ok $j/rd.json call vm.destroy '{"name":"web"}'
assert_json state destroyed $j/rd.json

say "uid 1002 saw every state change of web"
sleep 1
kill "$evpid" 2>/dev/null
wait "$evpid" 2>/dev/null
cat $j/ev-1002.log
grep -q '"stopped"' $j/ev-1002.log || fail "uid 1002 got no state event for the stop"
grep -q '"destroyed"' $j/ev-1002.log || fail "uid 1002 got no state event for the destroy"
grep -q '"console"' $j/ev-1002.log && fail "uid 1002 got a console event"
note "ok: state events, no console events"

grep -q 'vm.stop web refused' "$ARMVMD_LOG" || { show_log "$ARMVMD_LOG" 30; fail "no refusal in the daemon's log"; }
armvmd_stop 10
assert_eq "$ARMVMD_RC" 0 "armvmd exit status after SIGTERM"
