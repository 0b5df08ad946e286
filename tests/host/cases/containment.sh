# hosts: max61
# timeout: 300
# The jail and the files (issue: containment), with the sandbox on as by
# default.  A running worker: its own uid and gid from --worker-ids, no
# capabilities (effective, permitted, bounding), NoNewPrivs 1, Seccomp 2
# on every thread, mount/pid/net/ipc/uts namespaces of its own, an empty
# root, rlimits, and a cgroup of its own with memory.max = guest RAM plus
# the allowance.  A member of the socket's group (uid 1002) cannot use a
# file it may not read (/etc/shadow) as kernel, initrd, DTB or disk, by
# path or by descriptor, nor a block device, nor a file it may only read
# as a read-write disk; its own files work.  A worker that makes a
# forbidden call is reported crashed with the call's name, one killed by
# SIGTERM with the signal.  A reboot opens the kernel again, as its owner.

need_armvmd
runas=$(need_tool runas) || exit $?
img=$GUEST_DIR/boottimer.img
[ -f "$img" ] || skip "no bare-metal guest $img (make guests)"
j=$CASE_TMP
G=4100

mkdir -p /etc
touch /etc/group
grep -q '^armvmtest:' /etc/group || echo "armvmtest:x:$G:" >>/etc/group

armvmd_start --state-dir "$j/state" --group armvmtest
dpid=$ARMVMD_PID

# as UID FILE ARGS...: armvmctl --json ARGS as UID (group $G); RUN_RC
as() {
	_u=$1 _f=$2
	shift 2
	printf '$ [uid %s] armvmctl --json %s\n' "$_u" "$*"
	"$runas" "$_u" "$G" -- "$ARMVMCTL" --socket "$ARMVMD_SOCKET" --json "$@" \
		>"$_f" 2>"$_f.err"
	RUN_RC=$?
	cat "$_f" "$_f.err"
	[ "$RUN_RC" = 0 ] || printf '(exit %s)\n' "$RUN_RC"
}

# refused UID FILE PARAM PATH MODE REASON ARGS...: -32011 naming them
refused() {
	_u=$1 _f=$2 _p=$3 _path=$4 _m=$5 _why=$6
	shift 6
	as "$_u" "$_f" "$@"
	[ "$RUN_RC" = 1 ] || fail "uid $_u: $*: exit $RUN_RC, expected a refusal"
	assert_json code -32011 "$_f"
	assert_json data.param "$_p" "$_f"
	assert_json data.path "$_path" "$_f"
	assert_json data.mode "$_m" "$_f"
	assert_json data.uid "$_u" "$_f"
	assert_json data.reason "$_why" "$_f"
	assert_contains "$(json_get message "$_f")" "$_path" "the message names the path"
}

say "uid 1001's own files: a kernel (the guest waits after its marks) and a disk"
mine=$j/u1001
mkdir -p "$mine"
cp "$img" "$mine/Image" || fail "cannot copy $img"
printf '\001' | dd of="$mine/Image" bs=1 seek=72 conv=notrunc 2>/dev/null ||
	fail "cannot patch $mine/Image"
dd if=/dev/zero of="$mine/disk.img" bs=1024 count=1024 2>/dev/null
chmod 0755 "$j"
chown -R 1001:$G "$mine"
chmod 0700 "$mine"
chmod 0600 "$mine/Image" "$mine/disk.img"
cp "$mine/Image" "$j/hold.img"		# root's copy, for the seccomp trip

say "uid 1001 creates jail1 (descriptors, armvmctl's default)"
as 1001 $j/c.json create --name jail1 --kernel "$mine/Image" --memory 128M \
	--disk "$mine/disk.img"
[ "$RUN_RC" = 0 ] || fail "uid 1001 could not create jail1 from its own files"
wait_state jail1 running 60
jctl_ok $j/i.json call vm.info '{"name":"jail1"}'
assert_json files.kind descriptors $j/i.json
assert_json sandbox.enabled true $j/i.json
pid=$(json_get pid $j/i.json)
wuid=$(json_get sandbox.uid $j/i.json)
[ -n "$pid" ] && [ -d "/proc/$pid" ] || fail "no worker process ($pid)"
note "worker pid $pid, uid $wuid"

say "the worker's credentials: its own ids, no capabilities, no_new_privs, seccomp"
st=/proc/$pid/status
cat "$st"
uidl=$(grep '^Uid:' "$st" | tr -s '\t ' ' ')
gidl=$(grep '^Gid:' "$st" | tr -s '\t ' ' ')
assert_eq "$uidl" "Uid: $wuid $wuid $wuid $wuid" "the worker's uids"
assert_eq "$gidl" "Gid: $wuid $wuid $wuid $wuid" "the worker's gids"
[ "$wuid" -ge 1879048192 ] || fail "worker uid $wuid is not from --worker-ids' default range"
assert_eq "$(grep '^Groups:' "$st" | tr -d '\t ')" "Groups:" "no supplementary groups"
for c in CapInh CapPrm CapEff CapBnd CapAmb; do
	assert_eq "$(grep "^$c:" "$st" | tr -d '\t ')" "$c:0000000000000000" "$c"
done
assert_eq "$(grep '^NoNewPrivs:' "$st" | tr -d '\t ')" "NoNewPrivs:1" "NoNewPrivs"
assert_eq "$(grep '^Seccomp:' "$st" | tr -d '\t ')" "Seccomp:2" "Seccomp (filter mode)"
n=0
for t in /proc/$pid/task/*; do
	s=$(grep '^Seccomp:' "$t/status" | tr -d '\t ')
	assert_eq "$s" "Seccomp:2" "thread ${t##*/}: $(cat "$t/comm")"
	n=$((n + 1))
done
[ "$n" -ge 2 ] || fail "only $n threads: no vCPU thread to look at"
# the vCPU threads stacked a filter of their own on the loop's
for t in /proc/$pid/task/*; do
	case $(cat "$t/comm") in
	vcpu*) f=$(grep '^Seccomp_filters:' "$t/status" | tr -d '\t ')
	       assert_eq "$f" "Seccomp_filters:2" "vCPU thread $(cat "$t/comm") filters" ;;
	esac
done

say "its namespaces differ from the daemon's; its root is empty"
for ns in mnt pid net ipc uts; do
	a=$(readlink /proc/$pid/ns/$ns) b=$(readlink /proc/$dpid/ns/$ns)
	note "$ns: worker $a, daemon $b"
	assert_ne "$a" "$b" "the $ns namespace"
done
assert_eq "$(ls -A /proc/$pid/root/ | wc -l)" "0" "entries in the worker's root"
assert_eq "$(grep -c . /proc/$pid/mounts)" "1" "mounts the worker sees"
grep ' / tmpfs ro,' /proc/$pid/mounts || fail "the worker's root is not a read-only tmpfs"

say "its rlimits"
cat /proc/$pid/limits
assert_match "$(grep 'Max core file size' /proc/$pid/limits)" '0 *0 *bytes' "core 0"
grep 'Max open files' /proc/$pid/limits | grep -qv ' unlimited ' || fail "open files unbounded"
grep 'Max processes' /proc/$pid/limits | grep -qv ' unlimited ' || fail "processes unbounded"
grep 'Max file size' /proc/$pid/limits | grep -qv ' unlimited ' || fail "file size unbounded"

say "its cgroup"
cg=$(cat /proc/$pid/cgroup)
note "cgroup: $cg"
# named by the VM and its worker's uid: a new VM of the name never meets
# a dying worker's cgroup
assert_eq "$cg" "0::/armvmd/vms/jail1-$wuid" "the worker's cgroup"
d=/sys/fs/cgroup/armvmd/vms/jail1-$wuid
assert_eq "$(cat $d/memory.max)" "$(( (128 + 96) * 1048576 ))" "memory.max (guest RAM + allowance)"
assert_eq "$(cat $d/pids.max)" "5" "pids.max (1 vCPU + 4)"
assert_eq "$(cat $d/cgroup.procs)" "$pid" "the cgroup's processes"
assert_json sandbox.cgroup.path /armvmd/vms/jail1-$wuid $j/i.json

say "its descriptors: no path of the host opened by it"
ls -l /proc/$pid/fd/ 2>&1 | tail -n +2 | sed 's/.*[0-9] //'

say "the console is its owner's: uid 1002 cannot read console.log"
log=$(json_get console_log $j/i.json)
run "$runas" 1002 $G -- cat "$log"
[ "$RUN_RC" = 0 ] && fail "uid 1002 read jail1's console.log"

say "uid 1002 may not use what it cannot read, by path"
shadow=/etc/shadow
[ -f $shadow ] || { echo 'root:*:19000:0:99999:7:::' >$shadow; }
chmod 0600 $shadow
refused 1002 $j/k.json kernel $shadow read permission \
	--by-path layout --kernel $shadow
refused 1002 $j/ir.json initrd $shadow read permission \
	--by-path layout --kernel "$GUEST_DIR/boottimer.img" --initrd $shadow
refused 1002 $j/dt.json dtb $shadow read permission \
	--by-path layout --kernel "$GUEST_DIR/boottimer.img" --dtb $shadow
refused 1002 $j/dk.json "disk 0" $shadow read permission \
	--by-path create --name x1 --kernel "$GUEST_DIR/boottimer.img" --disk $shadow,ro
assert_not_contains "$(cat $j/ir.json)" "initrd_size" "a size of the refused initrd"

say "... nor through armvmctl's descriptors (it cannot open it: the daemon refuses the path)"
refused 1002 $j/kd.json kernel $shadow read permission \
	create --name x2 --kernel $shadow
jctl_fails $j/l.json call vm.info '{"name":"x2"}'

say "a file uid 1002 may only read is no read-write disk"
ro=$j/readonly.img
dd if=/dev/zero of=$ro bs=1024 count=64 2>/dev/null
chmod 0644 $ro
refused 1002 $j/rw.json "disk 0" $ro read-write permission \
	--by-path create --name x3 --kernel "$GUEST_DIR/boottimer.img" --disk $ro
# read-only it may have
as 1002 $j/ro.json --by-path layout --kernel "$GUEST_DIR/boottimer.img" --disk $ro,ro
[ "$RUN_RC" = 0 ] || fail "uid 1002 could not use $ro read-only"

say "a block device, even one it may read, only with --allow-block-devices"
blk=
for b in /dev/vda /dev/vdb /dev/loop0 /dev/ram0 /dev/nbd0; do
	[ -b "$b" ] && { blk=$b; break; }
done
if [ -n "$blk" ]; then
	chmod 0666 $blk
	refused 1002 $j/b.json "disk 0" $blk read block-device \
		--by-path layout --kernel "$GUEST_DIR/boottimer.img" --disk $blk,ro
	# root too
	jctl_fails $j/b0.json --by-path layout --kernel "$GUEST_DIR/boottimer.img" --disk $blk,ro
	assert_json data.reason block-device $j/b0.json
else
	note "no block device in this host: the block-device refusal is unit-tested (test_files)"
fi

say "uid 1002's own files work"
m2=$j/u1002
mkdir -p $m2
cp "$mine/Image" $m2/Image
chown -R 1002:$G $m2
chmod 0700 $m2
as 1002 $j/o2.json --by-path layout --kernel $m2/Image
[ "$RUN_RC" = 0 ] || fail "uid 1002 could not plan with its own kernel"
as 1002 $j/o3.json create --name mine2 --kernel $m2/Image --memory 64M
[ "$RUN_RC" = 0 ] || fail "uid 1002 could not create a VM from its own kernel"
wait_state mine2 running 60
jctl_ok $j/i2.json call vm.info '{"name":"mine2"}'
u2=$(json_get sandbox.uid $j/i2.json)
assert_ne "$u2" "$wuid" "two live VMs' worker uids"

say "another member cannot stop or destroy it (ownership)"
as 1001 $j/s.json stop mine2 --force
[ "$RUN_RC" = 1 ] || fail "uid 1001 stopped uid 1002's VM"
assert_json code -32011 $j/s.json
as 1001 $j/dd.json destroy mine2
[ "$RUN_RC" = 1 ] || fail "uid 1001 destroyed uid 1002's VM"
jctl_ok $j/x.json call vm.destroy '{"name":"mine2"}'

say "a jailed worker is its pid namespace's init: a SIGTERM still ends it, as a crash"
kill -TERM "$pid"
wait_state jail1 crashed 30
jctl_ok $j/ki.json call vm.info '{"name":"jail1"}'
assert_contains "$(json_get reason $j/ki.json)" "killed by signal SIGTERM from pid" "the reason"
jctl_ok $j/x.json call vm.destroy '{"name":"jail1"}'

say "a reboot reads the kernel again, opened as its owner: a kernel replaced at its path boots"
# the VM's files by path (a descriptor would keep the old file)
as 1001 $j/rb.json --by-path create --name rb --kernel "$mine/Image" --memory 64M
[ "$RUN_RC" = 0 ] || fail "uid 1001 could not create rb"
assert_json files.kind paths $j/rb.json
wait_state rb running 60
# a new file at the same path, as a build makes it: this one powers off
# after its marks where the old one waits
cp "$img" "$mine/new.img"
chown 1001:$G "$mine/new.img"
run "$runas" 1001 $G -- mv "$mine/new.img" "$mine/Image"
[ "$RUN_RC" = 0 ] || fail "cannot replace $mine/Image"
as 1001 $j/rb2.json reboot rb --force
[ "$RUN_RC" = 0 ] || fail "uid 1001 could not reboot rb"
wait_state rb stopped 60
jctl_ok $j/rbi.json call vm.info '{"name":"rb"}'
assert_contains "$(json_get reason $j/rbi.json)" "powered off" "rb after the reboot (the new kernel)"
jctl_ok $j/x.json call vm.destroy '{"name":"rb"}'
armvmd_stop

say "a worker that makes a forbidden call is reported crashed, with the call"
armvmd_start --state-dir "$j/state2" --test-seccomp-trip
jctl_ok $j/t.json create --name trip --kernel "$j/hold.img" --memory 64M
wait_state trip crashed 60
jctl_ok $j/ti.json call vm.info '{"name":"trip"}'
assert_contains "$(json_get reason $j/ti.json)" "seccomp: syscall openat (56)" "the reason"
jctl_ok $j/x.json call vm.destroy '{"name":"trip"}'
armvmd_stop
