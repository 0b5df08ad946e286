# hosts: max61b
# timeout: 600
# needs: guests
#
# virtio devices under Debian's kernel (the test initramfs loads the
# virtio_mmio, virtio_blk, virtio_net, virtio_console and virtio_rng
# modules).  Two guests side by side:
#
#   vd  vda (writable), vdb (a read-only 64 MiB random pattern), eth0 on a
#       TAP (10.99.0.2 <-> 10.99.0.1 here), hvc0, hwrng.  The read-only disk
#       refuses writes; the guest copies the pattern onto vda, syncs; rng
#       feeds /dev/hwrng; ping both ways and an HTTP transfer each way with
#       the checksum checked on both ends; a shell on hvc0 answers, and
#       powers the guest off; then the image holds the pattern.
#   vs  (2 vCPUs, a disk with 2 request queues) copies 32 MiB of the
#       pattern onto its disk through the page cache, syncs, and is stopped
#       by force at once: the synced data is there.
#
# Kicks reach the worker through ioeventfds (no MMIO exit for QueueNotify)
# and interrupts go back through irqfds.

need_armvmd
need_guest
sockio=$(need_tool sockio)
j=$CASE_TMP
# the guests' consoles, vd's worker log and devices are dumped with the
# case's logs when it fails
keep_logs() {
	for n in vd vs; do cp "$(vm_console_log $n)" "$j/console-$n.log"; done 2>/dev/null
	cp "$ARMVMD_RUNTIME_DIR/vms/vd/worker.log" "$j/worker-vd.log" 2>/dev/null
	timeout 10 "$ARMVMCTL" --socket "$ARMVMD_SOCKET" --json call vm.info '{"name":"vd"}' \
		2>&1 | grep -A 400 '"devices"' >"$j/devices-vd.log"
}
trap keep_logs EXIT
trap 'exit 143' TERM
# uptime in front of the narration: where the time goes
say() {
	printf '== [%s] %s\n' "$(cut -d' ' -f1 /proc/uptime)" "$*"
}
if [ ! -c /dev/net/tun ]; then
	insmod "$GUEST_DIR/host-modules/tun.ko" || fail "cannot load the tun module"
	wait_until 5 test -c /dev/net/tun || fail "no /dev/net/tun after loading tun"
fi
armvmd_start

say "disks: a 64 MiB random pattern (read-only, shared), one disk per VM"
head -c $((64 << 20)) /dev/urandom >"$j/pattern.img"
truncate -s 80M "$j/vd.img"
truncate -s 40M "$j/vs.img"
pat_md5=$(md5sum <"$j/pattern.img" | cut -d' ' -f1)
pat32_md5=$(head -c $((32 << 20)) "$j/pattern.img" | md5sum | cut -d' ' -f1)
# all of vd's disk once the pattern is on it: the pattern, then zeroes
vd_md5=$({ cat "$j/pattern.img"; head -c $((16 << 20)) /dev/zero; } | md5sum | cut -d' ' -f1)

say "the host end of the network: an HTTP server with a 3 MiB blob"
mkdir -p "$j/www"
head -c 3145728 /dev/urandom >"$j/www/host.bin"
host_md5=$(md5sum <"$j/www/host.bin" | cut -d' ' -f1)
httpd -f -p 8080 -h "$j/www" &

say "vs: copy, sync, wait to be stopped"
jctl_ok "$j/vs.json" call vm.create "{\"name\":\"vs\",\"kernel\":\"$GUEST_KERNEL\",
	\"initrd\":\"$GUEST_INITRD\",\"memory\":\"256M\",\"vcpus\":2,
	\"cmdline\":\"console=ttyS0 armvmd.test=blksync armvmd.mib=32\",
	\"disks\":[{\"path\":\"$j/vs.img\",\"queues\":2},
		{\"path\":\"$j/pattern.img\",\"readonly\":true}]}"

say "vd: every device, with armvmctl's options"
assert_ok ctl --json create --name vd --kernel "$GUEST_KERNEL" --initrd "$GUEST_INITRD" \
	--memory 512M --cmdline "console=ttyS0 armvmd.test=virtio" \
	--disk "$j/vd.img,serial=vd-serial" --disk "$j/pattern.img,ro" \
	--net tap=vtap0,mac=02:00:00:00:00:02 --hvc --rng
ip addr add 10.99.0.1/24 dev vtap0 && ip link set vtap0 up || fail "cannot configure vtap0"

say "vs: stopped by force right after the guest's sync"
wait_console vs 'ARMVMD-V-SYNCED' 300
assert_contains "$(grep ARMVMD-V-DEVICES "$(vm_console_log vs)")" "vda_queues=2" \
	"two request queues (2 vCPUs, queues=2)"
assert_ok ctl --json call vm.stop '{"name":"vs","force":true}'
wait_state vs stopped 20
assert_eq "$(head -c $((32 << 20)) "$j/vs.img" | md5sum | cut -d' ' -f1)" "$pat32_md5" \
	"the synced 32 MiB on the host"

say "vd: the guest's checks"
wait_console vd 'ARMVMD-V-READY' 300
log=$(vm_console_log vd)
grep 'ARMVMD-V-' "$log"
assert_contains "$(grep ARMVMD-V-DEVICES "$log")" "vda=y vdb=y eth0=y hvc0=y hwrng=y" "devices"
assert_contains "$(cat "$log")" "ARMVMD-V-RNG ok" "rng"
assert_contains "$(cat "$log")" "ARMVMD-V-BLK-RO ok" "read-only disk"
assert_contains "$(cat "$log")" "ARMVMD-V-BLK-ID vda=vd-serial vdb=pattern.img" "GET_ID"
assert_contains "$(cat "$log")" "ARMVMD-V-BLK-WRITE ok mib=64 disk_md5=$vd_md5" \
	"pattern copied and read back"
assert_contains "$(cat "$log")" "ARMVMD-V-BLK-DISCARD ok" "discard"
assert_contains "$(cat "$log")" "ARMVMD-V-HVC ok" "hvc0"
assert_contains "$(cat "$log")" "ARMVMD-V-NET-PING ok 3 packets received" "guest -> host ping"
assert_contains "$(cat "$log")" "ARMVMD-V-NET-FETCH ok md5=$host_md5 bytes=3145728" \
	"host -> guest transfer"
assert_contains "$(cat "$log")" "eth0: 02:00:00:00:00:02" "the MAC address"

say "host -> guest: ping, and the guest's blob over HTTP"
assert_ok timeout 30 ping -c 3 -W 2 10.99.0.2
guest_md5=$(sed -n 's/.*ARMVMD-V-NET-SERVE md5=\([0-9a-f]*\).*/\1/p' "$log")
run timeout 90 wget -q -O "$j/guest.bin" http://10.99.0.2:8080/guest.bin
if [ "$RUN_RC" != 0 ]; then
	# what the guest's side looks like, through hvc0
	printf 'ip -s link show eth0; netstat -tn; grep -E "^(Tcp|Ip):" /proc/net/snmp\n' |
		timeout 30 "$sockio" "$ARMVMD_RUNTIME_DIR/vms/vd/hvc0.sock" 5
	ip -s link show vtap0
	fail "wget of the guest's blob failed (exit $RUN_RC)"
fi
assert_eq "$(md5sum <"$j/guest.bin" | cut -d' ' -f1)" "$guest_md5" "guest -> host transfer"

say "hvc0: its own log and socket; a shell answers there"
hvc=$ARMVMD_RUNTIME_DIR/vms/vd
assert_contains "$(cat "$hvc/hvc0.log")" "ARMVMD-V-HVC-HELLO" "hvc0.log"
run sh -c "printf 'echo HVC-\$((6*7))\n' | timeout 30 $sockio $hvc/hvc0.sock 3"
assert_contains "$RUN_OUT" "HVC-42" "the hvc0 shell's answer"

say "vm.info: every device running, kicks through ioeventfd, interrupts through irqfd"
jctl_ok "$j/info.json" call vm.info '{"name":"vd"}' >/dev/null
# one parse of the JSON (busybox awk is slow under emulation), then lookups
json_flat "$j/info.json" | grep '^live\.devices\.' >"$j/devices.txt"
grep -v '\.queues\.' "$j/devices.txt"
dev() {
	awk -F'\t' -v p="live.devices.$1" '$1 == p { print $3; exit }' "$j/devices.txt"
}
dev_is() {
	[ "$(dev "$1")" = "$2" ] || fail "vm.info live.devices.$1 is '$(dev "$1")', expected '$2'"
}
dev_ge() {
	[ "$(dev "$1")" -ge "$2" ] 2>/dev/null || fail "vm.info live.devices.$1 is '$(dev "$1")', expected >= $2"
}
for i in 0 1 2 3 4; do
	dev_is "$i.state" driver-ok
	dev_is "$i.ioeventfd" true
	dev_is "$i.irqfd" true
	dev_is "$i.mmio_kicks" 0
	dev_is "$i.errors" 0
	dev_ge "$i.kicks" 1
	dev_ge "$i.interrupts" 1
done
dev_is 0.type blk
dev_is 1.readonly true
dev_is 2.type net
dev_is 2.tap vtap0
dev_is 2.mac 02:00:00:00:00:02
dev_is 3.type console
dev_is 4.type rng
dev_ge 0.bytes_written $((64 << 20))
dev_ge 0.flushes 1
dev_ge 0.discards 1
dev_is 0.io_errors 0
dev_ge 1.bytes_read $((64 << 20))
dev_ge 2.rx_packets 10
dev_ge 2.tx_packets 10
dev_ge 3.tx_bytes 10
dev_ge 3.rx_bytes 10
dev_ge 4.bytes 4096
note "ok: every device driver-ok, kicks by ioeventfd, interrupts by irqfd, counters moved"

say "the guest syncs and powers off through hvc0; the image holds the pattern"
run sh -c "printf 'sync; poweroff -f\n' | $sockio $hvc/hvc0.sock 1"
wait_state vd stopped 60
assert_contains "$(json_get reason "$CASE_TMP/state.json")" "powered off" "stop reason"
assert_eq "$(head -c $((64 << 20)) "$j/vd.img" | md5sum | cut -d' ' -f1)" "$pat_md5" \
	"vda's first 64 MiB on the host"

for n in vd vs; do assert_ok ctl --json call vm.destroy "{\"name\":\"$n\"}"; done
armvmd_stop
assert_eq "$ARMVMD_RC" 0 "armvmd exit status"
