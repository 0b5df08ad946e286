# hosts: max61
# timeout: 360
#
# The aarch64 payload region is 512 MiB: a 351 MiB initrd boots; a payload
# that cannot fit is refused with its sizes, and the daemon stays up.

need_armvmd
need_guest
armvmd_start

say "a 351 MiB initrd: the test initramfs followed by zero padding"
big=$CASE_TMP/big.img
cp "$GUEST_INITRD" "$big"
size=$(stat -c %s "$big")
dd if=/dev/zero bs=1M count=351 2>/dev/null | head -c $((351 * 1024 * 1024 - size)) >>"$big"
assert_eq "$(stat -c %s "$big")" $((351 * 1024 * 1024)) "initrd size"

assert_ok ctl --json call vm.layout "{\"kernel\":\"$GUEST_KERNEL\",\"initrd\":\"$big\",\"memory\":\"1G\"}"
assert_ok ctl --json call vm.create "{\"name\":\"big\",\"kernel\":\"$GUEST_KERNEL\",
	\"initrd\":\"$big\",\"memory\":\"1G\"}"
wait_console big 'ARMVMD-GUEST-INIT' 300
assert_ok ctl --json call vm.destroy '{"name":"big"}'

say "a 600 MiB initrd does not fit the 512 MiB region"
dd if=/dev/zero of="$big" bs=1M count=0 seek=600 2>/dev/null
assert_fails ctl --json call vm.create "{\"name\":\"huge\",\"kernel\":\"$GUEST_KERNEL\",
	\"initrd\":\"$big\",\"memory\":\"2G\"}"
printf '%s\n' "$RUN_OUT" >"$CASE_TMP/e.json"
assert_json code -32005 "$CASE_TMP/e.json"
assert_json data.region_size $((512 * 1024 * 1024)) "$CASE_TMP/e.json"
assert_json data.initrd_size $((600 * 1024 * 1024)) "$CASE_TMP/e.json"
json_get data.kernel_size "$CASE_TMP/e.json" >/dev/null || fail "no kernel_size"
json_get data.needed_size "$CASE_TMP/e.json" >/dev/null || fail "no needed_size"

say "a kernel that is not an Image is refused clearly"
head -c 4096 /dev/urandom >"$CASE_TMP/junk"
assert_fails ctl --json call vm.create "{\"kernel\":\"$CASE_TMP/junk\"}"
assert_contains "$RUN_OUT" "-32006" "bad image error code"
say "a truncated kernel too"
head -c 100000 "$GUEST_KERNEL" >"$CASE_TMP/trunc"
assert_fails ctl --json call vm.create "{\"kernel\":\"$CASE_TMP/trunc\"}"

say "the daemon still serves"
assert_ok ctl --json call vm.list
assert_eq "$RUN_OUT" "[]" "no VM left behind"
armvmd_stop
