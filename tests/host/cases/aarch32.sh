# hosts: max61-prot a53 max61-nvhe
# timeout: 300
# needs: guests guests-armhf
#
# aarch32 guests: vm.layout plans Debian's armhf armmp-lpae zImage at RAM +
# 0x8000 with initrd and DTB inside the 256 MiB payload region; an initrd
# that fits 512 MiB but not 256 MiB is refused for aarch32 and accepted for
# aarch64 (the per-architecture rule); mismatched images and a kernel bank
# above 4 GiB are refused; then the zImage with the armhf busybox
# initramfs boots to its init (KVM_ARM_VCPU_EL1_32BIT) and powers off.

need_armvmd
need_guest
need_guest32
ARMVMD_STATE_DIR=$CASE_TMP/state0
export ARMVMD_STATE_DIR
armvmd_start
j=$CASE_TMP
ctl --json host >$j/host.json
[ "$(json_get el1_32bit $j/host.json)" = true ] ||
	skip "the host's KVM lacks KVM_CAP_ARM_EL1_32BIT (no 32-bit EL1)"

say "vm.layout of the zImage and the armhf initramfs in 512 MiB"
jctl_ok $j/l32.json call vm.layout "{\"arch\":\"aarch32\",\"kernel\":\"$GUEST32_KERNEL\",
	\"initrd\":\"$GUEST32_INITRD\",\"memory\":\"512M\"}"
assert_json arch aarch32 $j/l32.json
assert_json payload.region_base 0x80000000 $j/l32.json
assert_json payload.region_size $((256 << 20)) $j/l32.json
assert_json payload.kernel.format zImage $j/l32.json
assert_json payload.kernel.load 0x80008000 $j/l32.json
assert_json payload.kernel.entry 0x80008000 $j/l32.json
assert_json payload.initrd.base 0x88000000 $j/l32.json
assert_json payload.dtb.base 0x8fe00000 $j/l32.json
iend=$(json_get payload.initrd.end $j/l32.json)
[ $((iend)) -lt $((0x8fe00000)) ] || fail "initrd end $iend reaches the DTB block"

say "a 200 MiB initrd: too big for the aarch32 region, fine for aarch64"
dd if=/dev/zero of=$j/initrd200 bs=1M count=0 seek=200 2>/dev/null
jctl_fails $j/e32.json call vm.layout "{\"arch\":\"aarch32\",\"kernel\":\"$GUEST32_KERNEL\",
	\"initrd\":\"$j/initrd200\",\"memory\":\"1G\"}"
assert_json code -32005 $j/e32.json
assert_json data.region_size $((256 << 20)) $j/e32.json
assert_json data.initrd_size $((200 << 20)) $j/e32.json
assert_contains "$(json_get message $j/e32.json)" "aarch32" "the refusal"
jctl_ok $j/l64.json call vm.layout "{\"kernel\":\"$GUEST_KERNEL\",
	\"initrd\":\"$j/initrd200\",\"memory\":\"1G\"}"
assert_json payload.region_size $((512 << 20)) $j/l64.json
assert_json payload.initrd.size $((200 << 20)) $j/l64.json
jctl_fails $j/c32.json call vm.create "{\"name\":\"big32\",\"arch\":\"aarch32\",
	\"kernel\":\"$GUEST32_KERNEL\",\"initrd\":\"$j/initrd200\",\"memory\":\"1G\"}"
assert_json code -32005 $j/c32.json
rm -f $j/initrd200

say "images of the other architecture are refused clearly"
jctl_fails $j/x1.json call vm.layout "{\"arch\":\"aarch32\",\"kernel\":\"$GUEST_KERNEL\"}"
assert_json code -32006 $j/x1.json
assert_contains "$(json_get message $j/x1.json)" "arm64 Image" "the refusal"
jctl_fails $j/x2.json call vm.layout "{\"kernel\":\"$GUEST32_KERNEL\"}"
assert_json code -32006 $j/x2.json
assert_contains "$(json_get message $j/x2.json)" "aarch32" "the refusal"

say "a 32-bit kernel's bank must end at or below 4 GiB"
jctl_fails $j/e4g.json call vm.layout "{\"arch\":\"aarch32\",\"kernel\":\"$GUEST32_KERNEL\",
	\"memory\":\"256M@0x100000000\"}"
assert_json code -32004 $j/e4g.json
assert_contains "$(json_get message $j/e4g.json)" "4 GiB" "the refusal"
jctl_ok $j/list.json call vm.list
assert_eq "$(tr -d ' \n' <$j/list.json)" "[]" "no VM left behind"
armvmd_stop

say "boot the zImage to its init"
matrix_case name=a32-boot arch=aarch32 memory='"256M"' expect=boot expect_ipa=32 \
	host_ipa="${EXPECT_IPA:-}" expect_console='ARMVMD-GUEST-INIT .*armmp-lpae armv7l'
