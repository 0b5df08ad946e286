# hosts: max61
# timeout: 360
#
# The aarch64 payload region is 512 MiB: a 351 MiB initrd boots; a payload
# that cannot fit is refused with its sizes; bad kernels are refused
# clearly; the daemon stays up through all of it.

need_armvmd
need_guest
armvmd_start
j=$CASE_TMP

say "a 351 MiB initrd: the test initramfs followed by zero padding"
big=$CASE_TMP/big.img
cp "$GUEST_INITRD" "$big"
size=$(stat -c %s "$big")
dd if=/dev/zero bs=1M count=351 2>/dev/null | head -c $((351 * 1024 * 1024 - size)) >>"$big"
assert_eq "$(stat -c %s "$big")" $((351 * 1024 * 1024)) "initrd size"

jctl_ok $j/layout.json call vm.layout "{\"kernel\":\"$GUEST_KERNEL\",\"initrd\":\"$big\",\"memory\":\"1G\"}"
assert_json payload.region_size $((512 * 1024 * 1024)) $j/layout.json
jctl_ok $j/big.json call vm.create "{\"name\":\"big\",\"kernel\":\"$GUEST_KERNEL\",\"initrd\":\"$big\",\"memory\":\"1G\"}"
wait_console big 'ARMVMD-GUEST-INIT' 300
jctl_ok $j/d.json call vm.destroy '{"name":"big"}'
rm -f "$big"

say "a 600 MiB initrd does not fit the 512 MiB region"
dd if=/dev/zero of="$big" bs=1M count=0 seek=600 2>/dev/null
jctl_fails $j/e.json call vm.create "{\"name\":\"huge\",\"kernel\":\"$GUEST_KERNEL\",\"initrd\":\"$big\",\"memory\":\"2G\"}"
assert_json code -32005 $j/e.json
assert_json data.region_size $((512 * 1024 * 1024)) $j/e.json
assert_json data.initrd_size $((600 * 1024 * 1024)) $j/e.json
json_get data.kernel_size $j/e.json >/dev/null || fail "no kernel_size"
json_get data.needed_size $j/e.json >/dev/null || fail "no needed_size"
rm -f "$big"

say "a kernel that is not an Image is refused clearly"
head -c 4096 /dev/urandom >"$CASE_TMP/junk"
jctl_fails $j/ej.json call vm.create "{\"kernel\":\"$CASE_TMP/junk\"}"
assert_json code -32006 $j/ej.json
say "a truncated kernel too"
head -c 100000 "$GUEST_KERNEL" >"$CASE_TMP/trunc"
jctl_fails $j/et.json call vm.create "{\"kernel\":\"$CASE_TMP/trunc\"}"
assert_json code -32006 $j/et.json

say "the daemon still serves"
jctl_ok $j/list.json call vm.list
assert_eq "$(tr -d ' \n' <$j/list.json)" "[]" "no VM left behind"
armvmd_stop
