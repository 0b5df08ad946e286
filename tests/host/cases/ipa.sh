# hosts: a57 max61
# timeout: 300
#
# IPA size choice against the host limit: impossible requests are refused
# at vm.create with the structured error; a bank at 2^47 on a 48-bit host
# boots with IPA 48 chosen by default.

need_armvmd
need_guest
armvmd_start
limit=$(need_expect EXPECT_IPA)
j=$CASE_TMP

say "default IPA for 256 MiB at 2 GiB is 32 (vm.layout)"
jctl_ok $j/layout.json call vm.layout "{\"kernel\":\"$GUEST_KERNEL\",\"memory\":\"256M\"}"
assert_json ipa.bits 32 $j/layout.json
assert_json ipa.needed_bits 32 $j/layout.json

say "--ipa 31 is refused"
jctl_fails $j/e31.json call vm.create "{\"kernel\":\"$GUEST_KERNEL\",\"ipa\":31}"
assert_json code -32004 $j/e31.json
assert_json data.requested_bits 31 $j/e31.json

if [ "$limit" -lt 52 ]; then
	over=$((limit + 4))
	[ "$over" -gt 52 ] && over=52
	say "--ipa $over, above the host limit ($limit), is refused with the four numbers"
	jctl_fails $j/eover.json call vm.create "{\"name\":\"big\",\"kernel\":\"$GUEST_KERNEL\",\"ipa\":$over}"
	assert_json code -32004 $j/eover.json
	assert_json data.requested_bits "$over" $j/eover.json
	assert_json data.host_limit_bits "$limit" $j/eover.json
	assert_json data.needed_bits 32 $j/eover.json
	assert_json data.highest_address 0x9fffffff $j/eover.json
fi
jctl_ok $j/list.json call vm.list
assert_eq "$(tr -d ' \n' <$j/list.json)" "[]" "nothing half-created"

say "a 256 MiB bank at 2^47 (0x800000000000)"
if [ "$limit" -lt 48 ]; then
	jctl_fails $j/ehi.json call vm.create "{\"name\":\"hi\",\"kernel\":\"$GUEST_KERNEL\",\"memory\":\"256M@0x800000000000\"}"
	assert_json code -32004 $j/ehi.json
	assert_json data.needed_bits 48 $j/ehi.json
	assert_json data.host_limit_bits "$limit" $j/ehi.json
	assert_json data.highest_address 0x80000fffffff $j/ehi.json
	say "...and armvmctl create --ipa 48 is refused too"
	jctl_fails $j/e48.json create --kernel "$GUEST_KERNEL" --ipa 48
	assert_json code -32004 $j/e48.json
	assert_json data.requested_bits 48 $j/e48.json
	assert_json data.host_limit_bits "$limit" $j/e48.json
else
	jctl_ok $j/hi.json call vm.create "{\"name\":\"hi\",\"kernel\":\"$GUEST_KERNEL\",\"initrd\":\"$GUEST_INITRD\",\"memory\":\"256M@0x800000000000\"}"
	assert_json ipa_bits 48 $j/hi.json
	wait_console hi 'ARMVMD-GUEST-INIT' 240
	assert_ok ctl info hi
	assert_contains "$RUN_OUT" "48" "armvmctl info shows the IPA bits"
	jctl_ok $j/hiinfo.json info hi
	assert_json ipa_bits 48 $j/hiinfo.json
	reason=$(json_get ipa_reason $j/hiinfo.json) || fail "no ipa_reason"
	note "reason: $reason"
	say "the maximum explicitly: --ipa $limit"
	jctl_ok $j/max.json call vm.layout "{\"kernel\":\"$GUEST_KERNEL\",\"ipa\":$limit}"
	assert_json ipa.bits "$limit" $j/max.json
	jctl_ok $j/d.json call vm.destroy '{"name":"hi"}'
fi
armvmd_stop
