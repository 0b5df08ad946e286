# hosts: max61
# timeout: 420
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
#   vs  copies 32 MiB of the pattern onto its disk through the page cache,
#       syncs, and is stopped by force at once: the synced data is there.
#
# Kicks reach the worker through ioeventfds (no MMIO exit for QueueNotify)
# and interrupts go back through irqfds.

need_armvmd
need_guest
sockio=$(need_tool sockio)
j=$CASE_TMP
# the guests' consoles are dumped with the case's logs when it fails
trap 'for n in vd vs; do cp "$(vm_console_log $n)" "$j/console-$n.log"; done 2>/dev/null
	cp "$ARMVMD_RUNTIME_DIR/vms/vd/worker.log" "$j/worker-vd.log" 2>/dev/null' EXIT
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

say "the host end of the network: an HTTP server with a 3 MiB blob"
mkdir -p "$j/www"
head -c 3145728 /dev/urandom >"$j/www/host.bin"
host_md5=$(md5sum <"$j/www/host.bin" | cut -d' ' -f1)
httpd -f -p 8080 -h "$j/www" &

say "vs: copy, sync, wait to be stopped"
jctl_ok "$j/vs.json" call vm.create "{\"name\":\"vs\",\"kernel\":\"$GUEST_KERNEL\",
	\"initrd\":\"$GUEST_INITRD\",\"memory\":\"256M\",
	\"cmdline\":\"console=ttyS0 armvmd.test=blksync armvmd.mib=32\",
	\"disks\":[\"$j/vs.img\",{\"path\":\"$j/pattern.img\",\"readonly\":true}]}"

say "vd: every device, with armvmctl's options"
assert_ok ctl --json create --name vd --kernel "$GUEST_KERNEL" --initrd "$GUEST_INITRD" \
	--memory 512M --cmdline "console=ttyS0 armvmd.test=virtio" \
	--disk "$j/vd.img,serial=vd-serial" --disk "$j/pattern.img,ro" \
	--net tap=vtap0,mac=02:00:00:00:00:02 --hvc --rng
ip addr add 10.99.0.1/24 dev vtap0 && ip link set vtap0 up || fail "cannot configure vtap0"

say "vs: stopped by force right after the guest's sync"
wait_console vs 'ARMVMD-V-SYNCED' 300
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
assert_contains "$(cat "$log")" "ARMVMD-V-BLK-WRITE ok mib=64 md5=$pat_md5" "pattern copied"
assert_contains "$(cat "$log")" "ARMVMD-V-BLK-DISCARD ok" "discard"
assert_contains "$(cat "$log")" "ARMVMD-V-HVC ok" "hvc0"
assert_contains "$(cat "$log")" "ARMVMD-V-NET-PING ok 3 packets received" "guest -> host ping"
assert_contains "$(cat "$log")" "ARMVMD-V-NET-FETCH ok md5=$host_md5 bytes=3145728" \
	"host -> guest transfer"
assert_contains "$(cat "$log")" "eth0: 02:00:00:00:00:02" "the MAC address"

say "host -> guest: ping, and the guest's blob over HTTP"
assert_ok ping -c 3 -W 2 10.99.0.2
guest_md5=$(sed -n 's/.*ARMVMD-V-NET-SERVE md5=\([0-9a-f]*\).*/\1/p' "$log")
assert_ok wget -q -O "$j/guest.bin" http://10.99.0.2:8080/guest.bin
assert_eq "$(md5sum <"$j/guest.bin" | cut -d' ' -f1)" "$guest_md5" "guest -> host transfer"

say "hvc0: its own log and socket; a shell answers there"
hvc=$ARMVMD_RUNTIME_DIR/vms/vd
assert_contains "$(cat "$hvc/hvc0.log")" "ARMVMD-V-HVC-HELLO" "hvc0.log"
run sh -c "printf 'echo HVC-\$((6*7))\n' | $sockio $hvc/hvc0.sock 3"
assert_contains "$RUN_OUT" "HVC-42" "the hvc0 shell's answer"

say "vm.info: every device running, kicks through ioeventfd, interrupts through irqfd"
jctl_ok "$j/info.json" call vm.info '{"name":"vd"}'
json_flat "$j/info.json" | grep 'live\.devices\.' | grep -v '\.queues\.' >"$j/devices.txt"
cat "$j/devices.txt"
for i in 0 1 2 3 4; do
	assert_json "live.devices.$i.state" driver-ok "$j/info.json"
	assert_json "live.devices.$i.ioeventfd" true "$j/info.json"
	assert_json "live.devices.$i.irqfd" true "$j/info.json"
	assert_json "live.devices.$i.mmio_kicks" 0 "$j/info.json"
	assert_json "live.devices.$i.errors" 0 "$j/info.json"
done
assert_json live.devices.0.type blk "$j/info.json"
assert_json live.devices.1.readonly true "$j/info.json"
assert_json live.devices.2.type net "$j/info.json"
assert_json live.devices.2.tap vtap0 "$j/info.json"
assert_json live.devices.3.type console "$j/info.json"
assert_json live.devices.4.type rng "$j/info.json"
[ "$(json_get live.devices.0.bytes_written "$j/info.json")" -ge $((64 << 20)) ] ||
	fail "blk0 wrote fewer than 64 MiB"
[ "$(json_get live.devices.0.flushes "$j/info.json")" -ge 1 ] || fail "blk0 saw no flush"
[ "$(json_get live.devices.1.bytes_read "$j/info.json")" -ge $((64 << 20)) ] ||
	fail "blk1 read fewer than 64 MiB"
[ "$(json_get live.devices.2.rx_packets "$j/info.json")" -ge 10 ] || fail "net0: few rx packets"
[ "$(json_get live.devices.2.tx_packets "$j/info.json")" -ge 10 ] || fail "net0: few tx packets"
[ "$(json_get live.devices.4.bytes "$j/info.json")" -ge 4096 ] || fail "rng0 gave under 4 KiB"

say "the guest syncs and powers off through hvc0; the image holds the pattern"
run sh -c "printf 'sync; poweroff -f\n' | $sockio $hvc/hvc0.sock 1"
wait_state vd stopped 60
assert_contains "$(json_get reason "$CASE_TMP/state.json")" "powered off" "stop reason"
assert_eq "$(head -c $((64 << 20)) "$j/vd.img" | md5sum | cut -d' ' -f1)" "$pat_md5" \
	"vda's first 64 MiB on the host"

for n in vd vs; do assert_ok ctl --json call vm.destroy "{\"name\":\"$n\"}"; done
armvmd_stop
assert_eq "$ARMVMD_RC" 0 "armvmd exit status"
