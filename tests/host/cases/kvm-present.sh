# hosts: all
# timeout: 60
#
# The emulated host itself is what the configuration says: /dev/kvm exists,
# and the kernel log reports the expected IPA size limit and KVM mode.
# Needs no armvmd binary, so it also checks the harness.

say "KVM device"
assert_chardev /dev/kvm

say "IPA size limit from the kernel log"
dmesg | grep -i 'kvm' | grep -iE 'IPA|mode|GIC' | sed 's/^/   dmesg: /'
ipa=$(dmesg_ipa_bits)
[ -n "$ipa" ] || fail "no 'IPA Size Limit' line in dmesg"
if [ -n "${EXPECT_IPA:-}" ]; then
	assert_eq "$ipa" "$EXPECT_IPA" "IPA limit (dmesg)"
else
	note "no EXPECT_IPA for this host; IPA limit is $ipa"
fi

say "KVM mode from the kernel log"
mode=$(dmesg_kvm_mode)
assert_ne "$mode" none "KVM init message"
if [ -n "${EXPECT_MODE:-}" ]; then
	assert_eq "$mode" "$EXPECT_MODE" "KVM mode (dmesg)"
else
	note "no EXPECT_MODE for this host; mode is $mode"
fi

say "GIC"
if [ "${ARMVMD_HOST_GIC:-3}" = 2 ]; then
	dmesg | grep -qi 'GICv2' || fail "GIC 2 host without a GICv2 line in dmesg"
else
	dmesg | grep -qi 'GICv3' || fail "GIC 3 host without a GICv3 line in dmesg"
fi
note "ok: GICv${ARMVMD_HOST_GIC:-3}"

say "page size"
ps=$(getconf PAGESIZE 2>/dev/null || getconf PAGE_SIZE 2>/dev/null)
[ -n "$ps" ] || ps=$(awk '/KernelPageSize/ { print $2 * 1024; exit }' /proc/self/smaps 2>/dev/null)
if [ -n "${EXPECT_PAGE_SIZE:-}" ] && [ -n "$ps" ]; then
	assert_eq "$ps" "$EXPECT_PAGE_SIZE" "page size"
fi
