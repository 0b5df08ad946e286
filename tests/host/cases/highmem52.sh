# hosts: max612 max61-nvhe
# timeout: 420
# needs: guests
#
# RAM above 2^48.  A 256 MiB kernel bank at 2 GiB plus 4 GiB at
# 0x8800000000000: on an LPA2 host (52-bit IPA limit) the VM gets a 52-bit
# IPA by default, boots the 6.12 guest kernel, and the guest sees the high
# bank (MemTotal) and uses it (writes and reads back a pattern over more
# memory than the low bank holds).  On a 48-bit host the same request is
# refused at vm.create with the structured error.  A 4K kernel's bank
# above 2^48 is refused everywhere: with the boot protocol's reason where
# the host reaches the bank, for the IPA size where it does not.

need_armvmd
need_guest
limit=$(need_expect EXPECT_IPA)
ARMVMD_STATE_DIR=$CASE_TMP/state0
export ARMVMD_STATE_DIR
armvmd_start
j=$CASE_TMP

say "a 4K kernel's bank at 2^48 is refused: the kernel must be 48-bit addressable"
jctl_fails $j/k.json call vm.create "{\"name\":\"k\",\"kernel\":\"$GUEST_KERNEL\",
	\"memory\":[\"256M@0x1000000000000\",\"256M\"]}"
assert_json code -32004 $j/k.json
assert_json data.needed_bits 49 $j/k.json
# the rule names the kernel's bank; the IPA refusal the map's last byte
if [ "$limit" -ge 49 ]; then
	assert_json data.highest_address 0x100000fffffff $j/k.json
else
	assert_json data.highest_address 0x100001fffffff $j/k.json
fi
assert_json data.host_limit_bits "$limit" $j/k.json
if [ "$limit" -ge 49 ]; then
	assert_contains "$(json_get message $j/k.json)" "48-bit addressable" "the refusal"
	assert_contains "$(json_get message $j/k.json)" "4K-page kernel" "the refusal"
else
	assert_contains "$(json_get message $j/k.json)" "needs 49 IPA bits" "the refusal"
fi
jctl_fails $j/kl.json call vm.layout "{\"kernel\":\"$GUEST_KERNEL\",\"memory\":\"256M@0x1000000000000\"}"
assert_json code -32004 $j/kl.json
jctl_ok $j/list.json call vm.list
assert_eq "$(tr -d ' \n' <$j/list.json)" "[]" "no VM left behind"
armvmd_stop

mem='["256M","4G@0x8800000000000"]'
if [ "$limit" -ge 52 ]; then
	kernel=$(guest_kernel_ver 6.12) || skip "no 6.12 guest kernel on this host"
	say "256 MiB + 4 GiB at 0x8800000000000 boots with a 52-bit IPA and uses the high bank"
	# MemTotal counts the 4 GiB (less the kernel's reservations)
	matrix_case name=split52 memory="$mem" kernel="$kernel" expect=boot expect_ipa=52 \
		test=highmem min_mem_kb=$((4 * 1024 * 1024)) host_ipa="$limit" \
		expect_console='ARMVMD-GUEST-IOMEM 8800000000000-88000ffffffff : System RAM'
else
	say "the same request on a $limit-bit host is refused at vm.create"
	matrix_case name=split52 memory="$mem" expect=refuse:-32004 expect_needed=52 \
		host_ipa="$limit"
	assert_contains "$MX_DETAIL" "needs 52 IPA bits" "the refusal"
fi
