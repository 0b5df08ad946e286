// SPDX-License-Identifier: MIT
/* Host probing: PARange decoding, KVM mode from the kernel log, JSON shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "arm64/hostinfo.h"

/* ID_AA64MMFR0_EL1 values of qemu's CPU models (target/arm/cpu64.c) */
static void test_granules(void **state)
{
	bool lpa2 = true;

	/* cortex-a53 (0x00001122) and a57 (0x00001124): 4K and 64K, no 16K */
	assert_int_equal(hostinfo_granules(0x00001124ULL, &lpa2),
			 HOSTINFO_GRANULE_4K | HOSTINFO_GRANULE_64K);
	assert_false(lpa2);
	/* max: TGran4 1, TGran16 2 (52-bit), TGran64 0 */
	assert_int_equal(hostinfo_granules(0x10200000ULL | 6, &lpa2),
			 HOSTINFO_GRANULE_4K | HOSTINFO_GRANULE_16K | HOSTINFO_GRANULE_64K);
	assert_true(lpa2);
	/* max,lpa2=off: TGran4 0, TGran16 1 */
	assert_int_equal(hostinfo_granules(0x00100000ULL | 6, &lpa2),
			 HOSTINFO_GRANULE_4K | HOSTINFO_GRANULE_16K | HOSTINFO_GRANULE_64K);
	assert_false(lpa2);
	/* 64K only: TGran4 0xf, TGran16 0 */
	assert_int_equal(hostinfo_granules(0xf0000005ULL, NULL), HOSTINFO_GRANULE_64K);
	/* 4K only: TGran64 0xf */
	assert_int_equal(hostinfo_granules(0x0f000005ULL, NULL), HOSTINFO_GRANULE_4K);
	assert_int_equal(hostinfo_granule_bit(16), HOSTINFO_GRANULE_16K);
	assert_int_equal(hostinfo_granule_bit(0), 0);
}

/* the MOPS probe's program, word for word as binutils assembles it
 * (aarch64-linux-gnu-as with .arch armv8.8-a+mops) */
static void test_mops_program(void **state)
{
	static unsigned w[HOSTINFO_PROBE_WORDS];

	hostinfo_mops_program(w);
	assert_int_equal(w[0], 0x10008000);	/* adr x0, .+0x1000 */
	assert_int_equal(w[1], 0xd2800001);	/* mov x1, #0 */
	assert_int_equal(w[2], 0xd2800002);	/* mov x2, #0 */
	assert_int_equal(w[3], 0x19c10440);	/* setp [x0]!, x2!, x1 */
	assert_int_equal(w[4], 0x19c14440);	/* setm [x0]!, x2!, x1 */
	assert_int_equal(w[5], 0x19c18440);	/* sete [x0]!, x2!, x1 */
	assert_int_equal(w[6], 0xd2800023);	/* mov x3, #1 */
	assert_int_equal(w[7], 0xd2a00404);	/* mov x4, #0x200000 */
	assert_int_equal(w[8], 0xf9000083);	/* str x3, [x4] */
	assert_int_equal(w[9], 0x14000000);	/* b . */
	assert_int_equal(w[10], 0xd503201f);	/* nop */
	/* vectors at 0x800, 0x80 apart: mov x3, #(0x10 + n); b report (0x1c) */
	assert_int_equal(w[0x800 / 4], 0xd2800203);
	assert_int_equal(w[0x800 / 4 + 1], 0x17fffe06);
	assert_int_equal(w[0xa00 / 4], 0xd2800283);	/* vector 4: #0x14 */
	assert_int_equal(w[0xf80 / 4], 0xd28003e3);	/* vector 15: #0x1f */
	assert_int_equal(w[0xf80 / 4 + 1], 0x17fffc26);
	assert_int_equal(w[0xf80 / 4 + 2], 0xd503201f);
	assert_true(HOSTINFO_PROBE_MMIO >= 0x100000 + HOSTINFO_PROBE_RAM);
}

static void test_mops_verdict(void **state)
{
	char why[160];

	assert_int_equal(hostinfo_mops_verdict(true, HOSTINFO_PROBE_MMIO, 1, 0, why, sizeof(why)),
			 HOSTINFO_PROBE_WORKS);
	/* vector 4, ESR class 0: UNDEFINED */
	assert_int_equal(hostinfo_mops_verdict(true, HOSTINFO_PROBE_MMIO, 0x14, 0x2000000ull,
					       why, sizeof(why)), HOSTINFO_PROBE_UNDEFINED);
	assert_non_null(strstr(why, "ESR_EL1 0x2000000"));
	/* vector 4 with a data abort (class 0x25): not the feature's fault */
	assert_int_equal(hostinfo_mops_verdict(true, HOSTINFO_PROBE_MMIO, 0x14, 0x25ull << 26,
					       why, sizeof(why)), HOSTINFO_PROBE_INCONCLUSIVE);
	assert_non_null(strstr(why, "vector 4"));
	/* another vector, another address, no MMIO exit */
	assert_int_equal(hostinfo_mops_verdict(true, HOSTINFO_PROBE_MMIO, 0x10, 0, why, sizeof(why)),
			 HOSTINFO_PROBE_INCONCLUSIVE);
	assert_int_equal(hostinfo_mops_verdict(true, 0x9000000, 1, 0, why, sizeof(why)),
			 HOSTINFO_PROBE_INCONCLUSIVE);
	assert_int_equal(hostinfo_mops_verdict(false, 0, 0, 0, why, sizeof(why)),
			 HOSTINFO_PROBE_INCONCLUSIVE);
	assert_string_equal(hostinfo_verdict_name(HOSTINFO_PROBE_UNDEFINED), "undefined");
	assert_string_equal(hostinfo_verdict_name(HOSTINFO_PROBE_NOT_RUN), "not run");
}

static void test_parange(void **state)
{
	static const struct { unsigned long long reg; int bits; } cases[] = {
		{ 0x0, 32 }, { 0x1, 36 }, { 0x2, 40 }, { 0x3, 42 }, { 0x4, 44 },
		{ 0x5, 48 }, { 0x6, 52 }, { 0x7, 0 }, { 0xf, 0 },
		/* only bits 3:0 count: other fields set around them */
		{ 0x0000000000101125ULL, 48 }, { 0x1122334455667706ULL, 52 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(hostinfo_parange_bits(cases[i].reg), cases[i].bits);
}

static void test_mode_from_log(void **state)
{
	assert_string_equal(hostinfo_mode_from_log(
		"[    4.1] kvm [1]: IPA Size Limit: 48 bits\n"
		"[    4.2] kvm [1]: VHE mode initialized successfully\n"), "vhe");
	assert_string_equal(hostinfo_mode_from_log(
		"kvm [1]: Hyp mode initialized successfully\n"), "nvhe");
	assert_string_equal(hostinfo_mode_from_log(
		"kvm [1]: Protected nVHE mode initialized successfully\n"), "protected");
	/* 6.12 with kvm-arm.mode=protected on a VHE CPU */
	assert_string_equal(hostinfo_mode_from_log(
		"kvm [1]: Protected hVHE mode initialized successfully\n"), "protected");
	assert_null(hostinfo_mode_from_log("kvm [1]: disabled by firmware\n"));
	assert_null(hostinfo_mode_from_log(""));
}

static void test_json_without_kvm(void **state)
{
	struct host_info hi;
	json_t *o;

	memset(&hi, 0, sizeof(hi));
	strcpy(hi.arch, "x86_64");
	strcpy(hi.kernel, "6.1.0");
	strcpy(hi.reason, "no arm64 KVM here");
	o = hostinfo_to_json(&hi);
	assert_false(json_boolean_value(json_object_get(o, "kvm")));
	assert_string_equal(json_string_value(json_object_get(o, "reason")),
			    "no arm64 KVM here");
	assert_null(json_object_get(o, "ipa_limit_bits"));
	json_decref(o);
}

static void test_json_with_kvm(void **state)
{
	struct host_info hi;
	json_t *o, *gic;

	memset(&hi, 0, sizeof(hi));
	strcpy(hi.arch, "aarch64");
	hi.kvm = true;
	hi.ipa_cap = false;
	hi.ipa_limit_bits = HOST_DEFAULT_IPA_BITS;
	hi.pa_range_bits = 44;
	hi.pa_range_source = "test";
	hi.gic_v2 = hi.gic_v3 = true;
	hi.kvm_mode = "nvhe";
	hi.kvm_mode_source = "test";
	hi.el1_32bit = true;
	o = hostinfo_to_json(&hi);
	assert_int_equal(json_integer_value(json_object_get(o, "ipa_limit_bits")), 40);
	assert_non_null(strstr(json_string_value(json_object_get(o, "ipa_limit_source")),
			       "absent"));
	assert_int_equal(json_integer_value(json_object_get(o, "pa_range_bits")), 44);
	gic = json_object_get(o, "gic");
	assert_int_equal(json_array_size(gic), 2);
	assert_string_equal(json_string_value(json_object_get(o, "kvm_mode")), "nvhe");
	assert_true(json_boolean_value(json_object_get(o, "el1_32bit")));
	assert_true(json_is_object(json_object_get(o, "features")));
	json_decref(o);
}

static void test_probe_never_fails(void **state)
{
	const struct host_info *hi = hostinfo_get();

	assert_true(hi->arch[0] != '\0');
	if (!hi->kvm)
		assert_true(hi->reason[0] != '\0');
	else
		assert_in_range(hi->ipa_limit_bits, 32, 52);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parange),
		cmocka_unit_test(test_mops_program),
		cmocka_unit_test(test_mops_verdict),
		cmocka_unit_test(test_granules),
		cmocka_unit_test(test_mode_from_log),
		cmocka_unit_test(test_json_without_kvm),
		cmocka_unit_test(test_json_with_kvm),
		cmocka_unit_test(test_probe_never_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
