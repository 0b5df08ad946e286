# hosts: max61 a57-gicv2
# timeout: 180
#
# A hostile virtio driver (the bare-metal guest tests/guests/virtio-hostile.S)
# feeds the virtio-blk device malformed queues: buffers outside RAM or
# wrapping, loops, nested and oversized indirect tables, indices out of
# range, rings outside RAM, a bad queue size.  Each must set NEEDS_RESET,
# never take the worker down; a reset brings the device back (a GET_ID in
# between works); vm.info reports the device broken, with the reason.
# Also on a GICv2, nVHE host: kicks through ioeventfd, interrupts through
# irqfd there too.

need_armvmd
img=/usr/lib/armvmd-guests/virtio-hostile.img
[ -f "$img" ] || skip "no $img (build/guests/virtio-hostile.img not built)"
armvmd_start
j=$CASE_TMP

truncate -s 1M "$j/disk.img"
jctl_ok "$j/create.json" call vm.create "{\"name\":\"hostile\",\"kernel\":\"$img\",
	\"memory\":\"64M\",\"disks\":\"$j/disk.img,serial=hostile-id\"}"
assert_json state running "$j/create.json"
pid=$(json_get pid "$j/create.json")

wait_console hostile 'ARMVMD-HOSTILE (done|FAIL no)' 120
log=$(vm_console_log hostile)
cat "$log"
assert_not_contains "$(cat "$log")" "ARMVMD-HOSTILE FAIL" "hostile guest checks"
for n in buffer-above-ram buffer-wraps descriptor-loop indirect-loop nested-indirect \
	huge-indirect head-out-of-ring index-jump readable-after-writable \
	rings-outside-ram queue-size-3 final-loop; do
	grep -q "ARMVMD-HOSTILE ok $n\$" "$log" || fail "no 'ok $n' from the hostile guest"
done
assert_contains "$(cat "$log")" "ARMVMD-HOSTILE ok get-id hostile-id" "GET_ID after a reset"

say "the worker lives, the VM runs, the device is marked broken with the reason"
proc_alive "$pid" || fail "worker $pid died"
jctl_ok "$j/info.json" call vm.info '{"name":"hostile"}'
assert_json state running "$j/info.json"
assert_json live.devices.0.type blk "$j/info.json"
assert_json live.devices.0.state broken "$j/info.json"
err=$(json_get live.devices.0.error "$j/info.json")
assert_contains "$err" "loop" "the reason of the last failure"
errors=$(json_get live.devices.0.errors "$j/info.json")
[ "$errors" -ge 12 ] || fail "device errors: $errors, expected at least 12"
note "ok: $errors malformed queues counted; last: $err"
grep -q 'device needs a reset' "$ARMVMD_RUNTIME_DIR/vms/hostile/worker.log" ||
	fail "the worker log does not say the device needs a reset"
assert_json live.devices.0.ioeventfd true "$j/info.json"
assert_json live.devices.0.irqfd true "$j/info.json"
assert_json live.devices.0.mmio_kicks 0 "$j/info.json"
run ctl --table info hostile
assert_contains "$RUN_OUT" "blk0 broken" "armvmctl info's device row"

jctl_ok "$j/stop.json" call vm.stop '{"name":"hostile","force":true}'
wait_state hostile stopped 20
jctl_ok "$j/d.json" call vm.destroy '{"name":"hostile"}'
armvmd_stop
assert_eq "$ARMVMD_RC" 0 "armvmd exit status"
