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

say "default IPA for 256 MiB at 2 GiB is 32 (vm.layout)"
assert_ok ctl --json call vm.layout "{\"kernel\":\"$GUEST_KERNEL\",\"memory\":\"256M\"}"
printf '%s\n' "$RUN_OUT" >"$CASE_TMP/layout.json"
assert_json ipa.bits 32 "$CASE_TMP/layout.json"
assert_json ipa.needed_bits 32 "$CASE_TMP/layout.json"

say "--ipa 31 is refused"
assert_fails ctl --json call vm.create "{\"kernel\":\"$GUEST_KERNEL\",\"ipa\":31}"
printf '%s\n' "$RUN_OUT" >"$CASE_TMP/e31.json"
assert_json code -32004 "$CASE_TMP/e31.json"
assert_json data.requested_bits 31 "$CASE_TMP/e31.json"

say "an IPA above the host limit ($limit) is refused with needed/requested/limit/highest"
over=$((limit + 4))
[ "$over" -gt 52 ] && over=52
if [ "$limit" -lt 52 ]; then
	assert_fails ctl --json call vm.create "{\"name\":\"big\",\"kernel\":\"$GUEST_KERNEL\",\"ipa\":$over}"
	printf '%s\n' "$RUN_OUT" >"$CASE_TMP/eover.json"
	assert_json code -32004 "$CASE_TMP/eover.json"
	assert_json data.requested_bits "$over" "$CASE_TMP/eover.json"
	assert_json data.host_limit_bits "$limit" "$CASE_TMP/eover.json"
	assert_json data.needed_bits 32 "$CASE_TMP/eover.json"
	json_get data.highest_address "$CASE_TMP/eover.json" >/dev/null || fail "no highest_address"
fi
assert_ok ctl --json call vm.list
assert_eq "$RUN_OUT" "[]" "nothing half-created"

say "a 256 MiB bank at 2^47 (0x800000000000)"
if [ "$limit" -lt 48 ]; then
	assert_fails ctl --json call vm.create "{\"name\":\"hi\",\"kernel\":\"$GUEST_KERNEL\",
		\"memory\":\"256M@0x800000000000\"}"
	printf '%s\n' "$RUN_OUT" >"$CASE_TMP/ehi.json"
	assert_json code -32004 "$CASE_TMP/ehi.json"
	assert_json data.needed_bits 48 "$CASE_TMP/ehi.json"
	assert_json data.host_limit_bits "$limit" "$CASE_TMP/ehi.json"
	assert_json data.highest_address 0x80000fffffff "$CASE_TMP/ehi.json"
	say "...and an explicit --ipa 48 is refused too"
	assert_fails ctl create --kernel "$GUEST_KERNEL" --ipa 48
	assert_contains "$RUN_OUT" "-32004" "armvmctl create --ipa 48"
else
	assert_ok ctl --json call vm.create "{\"name\":\"hi\",\"kernel\":\"$GUEST_KERNEL\",
		\"initrd\":\"$GUEST_INITRD\",\"memory\":\"256M@0x800000000000\"}"
	printf '%s\n' "$RUN_OUT" >"$CASE_TMP/hi.json"
	assert_json ipa_bits 48 "$CASE_TMP/hi.json"
	wait_console hi 'ARMVMD-GUEST-INIT' 240
	assert_ok ctl info hi
	assert_contains "$RUN_OUT" "48" "armvmctl info shows the IPA bits"
	assert_ok ctl --json info hi
	printf '%s\n' "$RUN_OUT" >"$CASE_TMP/hiinfo.json"
	assert_json ipa_bits 48 "$CASE_TMP/hiinfo.json"
	json_get ipa_reason "$CASE_TMP/hiinfo.json" | grep -q . || fail "no ipa_reason"
	note "reason: $(json_get ipa_reason "$CASE_TMP/hiinfo.json")"
	say "the maximum explicitly: --ipa $limit"
	assert_ok ctl --json call vm.layout "{\"kernel\":\"$GUEST_KERNEL\",\"ipa\":$limit}"
	printf '%s\n' "$RUN_OUT" >"$CASE_TMP/max.json"
	assert_json ipa.bits "$limit" "$CASE_TMP/max.json"
	assert_ok ctl --json call vm.destroy '{"name":"hi"}'
fi
armvmd_stop
