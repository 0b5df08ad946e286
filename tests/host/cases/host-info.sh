# hosts: all
# timeout: 120
#
# armvmd on a real (emulated) arm64 KVM host: `armvmctl host` reports what
# this host configuration is (KVM present, IPA limit, KVM mode, aarch64),
# agreeing with the kernel log; SIGTERM ends armvmd cleanly.

need_armvmd
json=$CASE_TMP/host.json

say "start armvmd"
armvmd_start

say "armvmctl host --json"
assert_ok ctl --json host
printf '%s\n' "$RUN_OUT" >"$json"
json_flat "$json" >/dev/null || fail "armvmctl host --json is not valid JSON"

assert_json kvm true "$json"
assert_eq "$(json_type kvm "$json")" b "type of kvm"
assert_json arch aarch64 "$json"
for k in version kernel ipa_limit_bits ipa_limit_source pa_range_bits kvm_mode gic max_vcpus; do
	json_flat "$json" | grep -q "^${k}[.	]" || fail "JSON key '$k' missing"
done
note "ok: all expected keys present"

ipa=$(json_get ipa_limit_bits "$json")
mode=$(json_get kvm_mode "$json")
if [ -n "${EXPECT_IPA:-}" ]; then
	assert_eq "$ipa" "$EXPECT_IPA" "ipa_limit_bits"
else
	note "no EXPECT_IPA for this host; ipa_limit_bits is $ipa"
fi
if [ -n "${EXPECT_MODE:-}" ]; then
	assert_eq "$mode" "$EXPECT_MODE" "kvm_mode"
else
	note "no EXPECT_MODE for this host; kvm_mode is $mode"
fi

gics=$(json_flat "$json" | awk -F '\t' '$1 ~ /^gic(\.|$)/ { print $3 }' | tr '\n' ' ')
note "gic: $gics"
assert_contains " $gics" " v${ARMVMD_HOST_GIC:-3}" "gic list"

say "cross-check with the kernel log"
dipa=$(dmesg_ipa_bits)
[ -n "$dipa" ] || fail "no 'IPA Size Limit' line in dmesg"
assert_eq "$ipa" "$dipa" "ipa_limit_bits vs dmesg"
dmode=$(dmesg_kvm_mode)
assert_eq "$mode" "$dmode" "kvm_mode vs dmesg"
assert_eq "$(json_get kernel "$json")" "$(uname -r)" "kernel vs uname -r"

say "armvmctl host piped prints JSON; --table prints the readable table"
assert_ok ctl host
assert_eq "$(printf '%s' "$RUN_OUT" | head -c 1)" "{" "first byte of piped output"
assert_ok ctl --table host
assert_not_contains "$RUN_OUT" "{" "table output"
assert_contains "$RUN_OUT" "$ipa" "table output"
assert_contains "$RUN_OUT" "$mode" "table output"

say "SIGTERM ends armvmd with status 0 and removes the socket"
armvmd_stop 5 TERM
assert_eq "$ARMVMD_RC" 0 "armvmd exit status after SIGTERM"
assert_no_file "$ARMVMD_SOCKET"
