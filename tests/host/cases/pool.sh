# hosts: max61
# timeout: 300
# The warm pool (issue: performance): armvmd --pool N keeps N jailed
# workers waiting.  daemon.info counts them; vm.create takes one (the
# daemon's log says so), and the VM's worker is that very process, moved
# into the VM's own cgroup with the VM's rlimits, its seccomp filters on
# once its VM is set up; the pool is refilled; an idle worker that dies is
# replaced; the pooled workers hold worker uids nobody else gets; --pool 0
# keeps none, and VMs are spawned as before.

need_armvmd
img=$GUEST_DIR/boottimer.img
[ -f "$img" ] || skip "no bare-metal guest $img (make guests)"
j=$CASE_TMP

cp "$img" "$j/wait.img" || fail "cannot copy $img"
# parameter word: wait in wfi after the marks (tests/guests/boottimer.S)
printf '\001' | dd of="$j/wait.img" bs=1 seek=72 conv=notrunc 2>/dev/null ||
	fail "cannot patch $j/wait.img"

pool_idle() {
	jctl_ok "$j/d.json" call daemon.info '{}' >/dev/null
	json_get pool.idle "$j/d.json"
}

# the pooled workers: children of the daemon running armvmd-worker
# --pool-fd, but for the VMs' ($vm_pids: taken from the pool)
vm_pids=
pooled_pids() {
	for p in /proc/[0-9]*; do
		[ "$(cut -d' ' -f4 "$p/stat" 2>/dev/null)" = "$dpid" ] || continue
		case " $vm_pids " in *" ${p#/proc/} "*) continue ;; esac
		tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q -- '--pool-fd' && echo "${p#/proc/}"
	done
}

armvmd_start --state-dir "$j/state" --pool 2
dpid=$ARMVMD_PID

say "two workers wait, jailed"
wait_until 20 sh -c "[ \"\$(\"$ARMVMCTL\" --socket \"$ARMVMD_SOCKET\" --json call daemon.info '{}' | grep -o '\"idle\": *[0-9]*' | grep -o '[0-9]*$')\" = 2 ]" ||
	fail "daemon.info.pool.idle did not reach 2: $(cat "$j/d.json")"
jctl_ok "$j/d.json" call daemon.info '{}'
assert_json pool.size 2 "$j/d.json"
pids=$(pooled_pids | tr "\n" " ")
note "pooled workers: $pids"
assert_eq "$(echo $pids | wc -w)" 2 "pooled worker processes"
for p in $pids; do
	st=/proc/$p/status
	u=$(grep '^Uid:' "$st" | awk '{ print $2 }')
	[ "$u" -ge 1879048192 ] || fail "pooled worker $p runs as uid $u, not a worker uid"
	assert_eq "$(grep '^CapEff:' "$st" | tr -d '\t ')" "CapEff:0000000000000000" "pooled $p: CapEff"
	assert_eq "$(grep '^NoNewPrivs:' "$st" | tr -d '\t ')" "NoNewPrivs:1" "pooled $p: NoNewPrivs"
	assert_ne "$(readlink /proc/$p/ns/net)" "$(readlink /proc/$dpid/ns/net)" "pooled $p: net namespace"
	assert_eq "$(ls -A /proc/$p/root/ | wc -l)" 0 "pooled $p: entries in its root"
	# no guest yet: no seccomp filter yet either (it comes with the VM)
	assert_eq "$(grep '^Seccomp:' "$st" | tr -d '\t ')" "Seccomp:0" "pooled $p: seccomp before its VM"
	cat /proc/$p/cgroup
	grep -q 'pool\.' /proc/$p/cgroup || fail "pooled $p is not in a pool cgroup: $(cat /proc/$p/cgroup)"
done
u1=$(grep '^Uid:' /proc/$(echo $pids | cut -d' ' -f1)/status | awk '{ print $2 }')
u2=$(grep '^Uid:' /proc/$(echo $pids | cut -d' ' -f2)/status | awk '{ print $2 }')
assert_ne "$u1" "$u2" "the pooled workers' uids"

say "vm.create takes a pooled worker"
assert_ok ctl create --name p1 --kernel "$j/wait.img" --memory 64M
wait_state p1 running 60
jctl_ok "$j/i.json" call vm.info '{"name":"p1"}'
pid=$(json_get pid "$j/i.json")
note "p1's worker: $pid"
vm_pids=$pid
case " $pids " in
*" $pid "*) ;;
*) show_log "$ARMVMD_LOG" 40; fail "p1's worker $pid is not one of the pooled ones ($pids)" ;;
esac
grep -q "VM p1: worker $pid spawned (from the warm pool)" "$ARMVMD_LOG" ||
	{ show_log "$ARMVMD_LOG" 40; fail "the log does not say p1's worker came from the pool"; }
wuid=$(json_get sandbox.uid "$j/i.json")
assert_eq "$(grep '^Uid:' /proc/$pid/status | awk '{ print $2 }')" "$wuid" "p1's worker uid"
for t in /proc/$pid/task/*; do
	assert_eq "$(grep '^Seccomp:' "$t/status" | tr -d '\t ')" "Seccomp:2" \
		"p1 thread ${t##*/} ($(cat "$t/comm")): seccomp"
done
cg=$(cat /proc/$pid/cgroup)
note "p1's cgroup: $cg"
assert_contains "$cg" "p1-$wuid" "p1's worker is in p1's cgroup"
cgpath=$(json_get sandbox.cgroup.path "$j/i.json")
[ -n "$cgpath" ] && [ -n "$(json_get sandbox.cgroup.memory_max "$j/i.json")" ] ||
	fail "vm.info has no cgroup bound for p1"
cat /proc/$pid/limits
grep 'Max open files' /proc/$pid/limits | grep -qv ' unlimited ' || fail "open files unbounded"
grep 'Max file size' /proc/$pid/limits | grep -qv ' unlimited ' || fail "file size unbounded"
nofile=$(grep 'Max open files' /proc/$pid/limits | awk '{ print $4 }')
[ "$nofile" -lt 1024 ] || fail "p1's open-files limit $nofile is the pool's, not the VM's"

say "the pool is refilled; the pooled workers' uids are not given again"
wait_until 20 sh -c "[ \"\$(\"$ARMVMCTL\" --socket \"$ARMVMD_SOCKET\" --json call daemon.info '{}' | grep -o '\"idle\": *[0-9]*' | grep -o '[0-9]*$')\" = 2 ]" ||
	fail "the pool was not refilled: $(cat "$j/d.json")"
jctl_ok "$j/d.json" call daemon.info '{}'
[ "$(json_get pool.taken "$j/d.json")" -ge 1 ] || fail "pool.taken is not counted"
for p in $(pooled_pids); do
	u=$(grep '^Uid:' /proc/$p/status | awk '{ print $2 }')
	assert_ne "$u" "$wuid" "pooled worker $p's uid against p1's"
done

say "an idle worker killed from outside is replaced"
victim=$(pooled_pids | head -n 1)
kill -KILL "$victim"
wait_until 20 sh -c "! [ -d /proc/$victim ] || grep -q '^State:.*Z' /proc/$victim/status" ||
	fail "pooled worker $victim did not end"
wait_until 30 sh -c "\"$ARMVMCTL\" --socket \"$ARMVMD_SOCKET\" --json call daemon.info '{}' | grep -q '\"lost\": *1'" ||
	fail "the lost worker was not counted: $(ctl --json call daemon.info '{}')"
wait_until 30 sh -c "[ \"\$(\"$ARMVMCTL\" --socket \"$ARMVMD_SOCKET\" --json call daemon.info '{}' | grep -o '\"idle\": *[0-9]*' | grep -o '[0-9]*$')\" = 2 ]" ||
	fail "the lost worker was not replaced: $(ctl --json call daemon.info '{}')"
[ -d /proc/$victim ] && fail "pooled worker $victim was not reaped"

say "a VM that powers off at once, through the pool, ends as before"
assert_ok ctl create --name p2 --kernel "$img" --memory 32M
wait_state p2 stopped 60
jctl_ok "$j/i2.json" call vm.info '{"name":"p2"}'
assert_contains "$(json_get reason "$j/i2.json")" "powered off" "p2's reason"
assert_ok ctl destroy p1
assert_ok ctl destroy p2

say "--pool 0: none waits, VMs are spawned"
armvmd_stop
armvmd_start --state-dir "$j/state0" --pool 0
dpid=$ARMVMD_PID
jctl_ok "$j/d0.json" call daemon.info '{}'
assert_json pool.size 0 "$j/d0.json"
assert_eq "$(pooled_pids | wc -w)" 0 "pooled workers with --pool 0"
assert_ok ctl create --name q1 --kernel "$img" --memory 32M
wait_state q1 stopped 60
grep -q "VM q1: worker [0-9]* spawned, jailed" "$ARMVMD_LOG" || fail "q1's worker was not spawned"
armvmd_stop

say "--pool takes a count"
assert_exit 2 "$ARMVMD" --pool many --socket "$j/x.sock"
assert_exit 2 "$ARMVMD" --pool 65 --socket "$j/x.sock"
