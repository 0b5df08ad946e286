# hosts: max61b
# timeout: 420
# needs: guests
#
# Definitions persist and running VMs survive the daemon: after `kill -9`
# of armvmd and a restart, three running guests are re-adopted with their
# workers, console and counters intact; autostart is honoured; a corrupt
# state file is reported and set aside, never fatal.

need_armvmd
need_guest
state=$CASE_TMP/state
j=$CASE_TMP
armvmd_start --state-dir "$state"

for n in p1 p2 p3; do
	jctl_ok $j/c.json call vm.create "{\"name\":\"$n\",\"kernel\":\"$GUEST_KERNEL\",\"initrd\":\"$GUEST_INITRD\",\"memory\":\"256M\",\"cmdline\":\"console=ttyS0 armvmd.test=hold\"}"
done
say "a definition that does not run, with autostart"
jctl_ok $j/a.json call vm.create "{\"name\":\"auto\",\"kernel\":\"$GUEST_KERNEL\",\"initrd\":\"$GUEST_INITRD\",\"memory\":\"256M\",\"cmdline\":\"console=ttyS0 armvmd.test=hold\",\"start\":false,\"autostart\":true}"
assert_json state created $j/a.json
jctl_ok $j/st.json call vm.stop '{"name":"auto","force":true}'
for n in p1 p2 p3; do wait_console $n 'ARMVMD-GUEST-SHELL' 300; done
for n in p1 p2 p3 auto; do assert_file "$state/vms/$n.json"; done

pids=
for n in p1 p2 p3; do
	ctl --json info $n >$j/i-$n.json
	pids="$pids $(json_get pid $j/i-$n.json)"
	bytes=$(json_get live.console_bytes $j/i-$n.json)
	eval "bytes_$n=$bytes"
done
note "workers:$pids"

say "kill -9 armvmd; a corrupt and a half-written state file appear meanwhile"
armvmd_stop 5 KILL
printf '{"version":1,"name":"bad","params":' >"$state/vms/bad.json"
printf 'garbage' >"$state/vms/.p1.json.tmp"
for p in $pids; do kill -0 "$p" || fail "worker $p died with the daemon"; done

say "a new armvmd re-adopts the three, starts the autostart one"
armvmd_start --state-dir "$state"
i=0
for n in p1 p2 p3; do
	i=$((i + 1))
	jctl_ok $j/r-$n.json info $n
	assert_json state running $j/r-$n.json
	assert_eq "$(json_get pid $j/r-$n.json)" "$(echo $pids | cut -d' ' -f$i)" "worker pid of $n"
	eval "before=\$bytes_$n"
	now=$(json_get live.console_bytes $j/r-$n.json)
	[ "$now" -ge "$before" ] || fail "$n: console bytes went back ($before -> $now)"
	note "ok: $n console bytes $before -> $now"
done
assert_contains "$(json_get reason $j/r-p1.json)" "re-adopted" "reason"
jctl_ok $j/cons.json call vm.console '{"name":"p2","bytes":100000}'
assert_contains "$(cat $j/cons.json)" "ARMVMD-GUEST-SHELL" "console kept across the restart"
assert_ok ctl wait auto --state running --timeout 30

say "the corrupt file was set aside and reported; the half-written one removed"
jctl_ok $j/di.json call daemon.info
assert_contains "$(cat $j/di.json)" "bad.json" "daemon.info state_problems"
ls "$state/vms/" | grep -q 'bad.json.corrupt-' || fail "bad.json not set aside"
assert_no_file "$state/vms/.p1.json.tmp"
jctl_fails $j/nb.json call vm.info '{"name":"bad"}'

say "the re-adopted VMs still obey: input reaches p1, p2 stops"
run sh -c "echo 'echo READOPT\$((40+2))' | $ARMVMCTL --socket $ARMVMD_SOCKET console p1 --linger 4"
assert_contains "$RUN_OUT" "READOPT42" "console input after re-adoption"
jctl_ok $j/s2.json call vm.stop '{"name":"p2","force":true}'
assert_json state stopped $j/s2.json

say "destroy removes the definitions"
for n in p1 p2 p3 auto; do jctl_ok $j/d.json call vm.destroy "{\"name\":\"$n\"}"; done
for n in p1 p2 p3 auto; do assert_no_file "$state/vms/$n.json"; done
armvmd_stop
