// SPDX-License-Identifier: MIT
/* The whole plan from vm.create parameters: what vm.create and vm.layout use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arm64/hostinfo.h"
#include "arm64/plan.h"
#include "libarmvm.h"

static char kernel[64], initrd[64], kernel16[64], kernel64[64];

/* an Image header of that page size (flags bits 1-2: 1 4K, 2 16K, 3 64K) */
static void write_image(char *path, unsigned page_code)
{
	unsigned char hdr[4096] = { 0 };
	uint64_t image_size = 4u << 20, flags = (uint64_t)page_code << 1;
	uint32_t magic = ARM64_IMAGE_MAGIC;
	FILE *f;

	strcpy(path, "/tmp/armvmd-plan-kernel.XXXXXX");
	close(mkstemp(path));
	memcpy(hdr + 16, &image_size, 8);
	memcpy(hdr + 24, &flags, 8);
	memcpy(hdr + 56, &magic, 4);
	f = fopen(path, "wb");
	fwrite(hdr, 1, sizeof(hdr), f);
	fclose(f);
}

/* minimal arm64 Images (header, text_offset 0, image_size 4 MiB) of 4K,
 * 16K and 64K pages, and a sparse initrd */
static int setup(void **state)
{
	write_image(kernel, 1);
	strcpy(initrd, "/tmp/armvmd-plan-initrd.XXXXXX");
	close(mkstemp(initrd));
	assert_int_equal(truncate(initrd, 351 << 20), 0);	/* sparse */
	write_image(kernel16, 2);
	write_image(kernel64, 3);
	return 0;
}

static int teardown(void **state)
{
	unlink(kernel);
	unlink(initrd);
	unlink(kernel16);
	unlink(kernel64);
	return 0;
}

static const struct plan_host host44 = {
	.limits = { .ipa_limit_bits = 44, .ipa_cap = true },
	.gic_v3 = true,
};

/* plan_build of {"kernel": image, extra...} against host h */
static int build_img(const char *image, const char *extra, const struct plan_host *h,
		     struct vm_plan *plan, struct layout_error *err)
{
	char text[512];
	json_t *spec;
	int r;

	snprintf(text, sizeof(text), "{\"kernel\":\"%s\"%s%s}", image,
		 extra[0] ? "," : "", extra);
	spec = json_loads(text, 0, NULL);
	assert_non_null(spec);
	r = plan_build(spec, h, NULL, plan, err);
	json_decref(spec);
	return r;
}

static int build(const char *extra, const struct plan_host *h,
		 struct vm_plan *plan, struct layout_error *err)
{
	return build_img(kernel, extra, h, plan, err);
}

static void test_defaults(void **state)
{
	struct vm_plan plan;
	struct layout_error err;
	json_t *j;

	assert_int_equal(build("", &host44, &plan, &err), 0);
	assert_int_equal(plan.ipa.bits, 32);
	assert_int_equal(plan.gic, GIC_V3);
	assert_int_equal(plan.cfg.vcpus, 1);
	assert_int_equal(plan.cfg.banks[0].base, LAYOUT_RAM_BASE);
	assert_int_equal(plan.cfg.banks[0].size, 512u << 20);
	assert_string_equal(plan.cmdline, PLAN_DEFAULT_CMDLINE);
	/* booting.rst: 2 MiB aligned base + text_offset (0 here) */
	assert_int_equal(plan.payload.kernel_entry % SZ_2M, 0);

	j = plan_to_json(&plan);
	assert_int_equal(json_integer_value(json_object_get(
		json_object_get(j, "ipa"), "bits")), 32);
	assert_string_equal(json_string_value(json_object_get(
		json_object_get(json_object_get(j, "payload"), "kernel"), "entry")),
		"0x80000000");
	assert_int_equal(json_array_size(json_object_get(j, "banks")), 1);
	json_decref(j);
}

static void test_ipa_refused_with_data(void **state)
{
	struct vm_plan plan;
	struct layout_error err;
	json_t *d;

	assert_int_equal(build("\"ipa\":48", &host44, &plan, &err), -1);
	assert_int_equal(err.code, ARMVM_E_IPA);
	d = plan_error_data(&err);
	assert_int_equal(json_integer_value(json_object_get(d, "needed_bits")), 32);
	assert_int_equal(json_integer_value(json_object_get(d, "requested_bits")), 48);
	assert_int_equal(json_integer_value(json_object_get(d, "host_limit_bits")), 44);
	assert_string_equal(json_string_value(json_object_get(d, "highest_address")),
			    "0x9fffffff");
	json_decref(d);

	/* a bank at 2^47 needs 48 bits: refused on 44 without a request */
	assert_int_equal(build("\"memory\":\"256M@0x800000000000\"", &host44,
			       &plan, &err), -1);
	assert_int_equal(err.code, ARMVM_E_IPA);
	assert_int_equal(err.needed_bits, 48);
	d = plan_error_data(&err);
	assert_true(json_is_null(json_object_get(d, "requested_bits")));
	json_decref(d);
}

static void test_split_high_bank(void **state)
{
	static const struct plan_host host52 = {
		.limits = { .ipa_limit_bits = 52, .ipa_cap = true }, .gic_v3 = true,
	};
	struct vm_plan plan;
	struct layout_error err;

	assert_int_equal(build("\"memory\":[\"256M\",\"4G@0x8800000000000\"]",
			       &host52, &plan, &err), 0);
	assert_int_equal(plan.ipa.bits, 52);
	assert_int_equal(plan.cfg.nbanks, 2);
	/* the kernel stays in the low bank */
	assert_true(plan.payload.kernel_entry < (1ULL << 48));

	/* a kernel bank above 2^48 is refused, with the host limit */
	assert_int_equal(build("\"memory\":\"256M@0x8800000000000\"", &host52,
			       &plan, &err), -1);
	assert_int_equal(err.code, ARMVM_E_IPA);
	assert_int_equal(err.host_limit_bits, 52);
	assert_non_null(strstr(err.message, "48"));
}

static void test_payload_region(void **state)
{
	struct vm_plan plan;
	struct layout_error err;
	char extra[160];

	snprintf(extra, sizeof(extra), "\"initrd\":\"%s\",\"memory\":\"1G\"", initrd);
	assert_int_equal(build(extra, &host44, &plan, &err), 0);
	assert_int_equal(plan.payload.region_size, PAYLOAD_REGION_AARCH64);
	assert_int_equal(plan.payload.initrd_size, 351u << 20);
	assert_true(plan.payload.initrd_base >= plan.payload.kernel_end);
	assert_true(plan.payload.initrd_base + plan.payload.initrd_size <=
		    plan.payload.dtb_base);

	/* the same initrd in a 256 MiB bank: the region is clipped, refused */
	snprintf(extra, sizeof(extra), "\"initrd\":\"%s\",\"memory\":\"256M\"", initrd);
	assert_int_equal(build(extra, &host44, &plan, &err), -1);
	assert_int_equal(err.code, ARMVM_E_PAYLOAD);
	assert_int_equal(err.region_size, 256u << 20);
	assert_int_equal(err.initrd_size, 351u << 20);
}

static void test_refusals(void **state)
{
	struct vm_plan plan;
	struct layout_error err;

	assert_int_equal(build("\"arch\":\"aarch32\"", &host44, &plan, &err), -1);
	assert_non_null(strstr(err.message, "32-bit"));
	assert_int_equal(build("\"gic\":\"v2\"", &host44, &plan, &err), -1);
	assert_int_equal(err.code, ARMVM_E_INVALID_PARAMS);
	assert_int_equal(build("\"gic\":\"v4\"", &host44, &plan, &err), -1);
	assert_int_equal(build("\"vcpus\":0", &host44, &plan, &err), -1);
	assert_int_equal(build("\"memory\":\"lots\"", &host44, &plan, &err), -1);
	assert_int_equal(err.code, ARMVM_E_INVALID_PARAMS);
	assert_int_equal(build("\"memory\":[]", &host44, &plan, &err), -1);
	assert_int_equal(build("\"initrd\":\"/nonexistent/initrd\"", &host44, &plan, &err), -1);
	assert_int_equal(err.code, ARMVM_E_IMAGE);

	json_t *spec = json_pack("{s:s}", "kernel", initrd);	/* not an Image */
	assert_int_equal(plan_build(spec, &host44, NULL, &plan, &err), -1);
	assert_int_equal(err.code, ARMVM_E_IMAGE);
	json_decref(spec);
}

/*
 * A single memory string is wrapped in a list of its own: the error path
 * must build its message before that list (and the string) is freed.
 */
static void test_bad_bank_message(void **state)
{
	struct vm_plan plan;
	struct layout_error err;

	assert_int_equal(build("\"memory\":\"12Q\"", &host44, &plan, &err), -1);
	assert_int_equal(err.code, ARMVM_E_INVALID_PARAMS);
	assert_non_null(strstr(err.message, "memory bank 0: "));
	assert_non_null(strstr(err.message, "bad size \"12Q\""));
	assert_int_equal(build("\"memory\":\"99999999999999999999G\"", &host44,
			       &plan, &err), -1);
	assert_non_null(strstr(err.message, "too large size"));
	assert_int_equal(build("\"memory\":[\"1G\",\"2G@0xzz\"]", &host44,
			       &plan, &err), -1);
	assert_non_null(strstr(err.message, "memory bank 1: "));
	assert_non_null(strstr(err.message, "bad base \"0xzz\""));
	assert_int_equal(build("\"memory\":[\"1G\",7]", &host44, &plan, &err), -1);
	assert_non_null(strstr(err.message, "memory bank 1: not a string"));
}

static const struct plan_host host52 = {
	.limits = { .ipa_limit_bits = 52, .ipa_cap = true },
	.gic_v3 = true,
};

static int build_with(const char *image, const char *extra,
		      struct vm_plan *plan, struct layout_error *err)
{
	return build_img(image, extra, &host52, plan, err);
}

/* The kernel's bank above 2^48: by the kernel's page size, from its header */
static void test_kernel_above_48_by_page_size(void **state)
{
	const char *high = "\"memory\":[\"256M@0x1000000000000\",\"256M\"]";
	struct vm_plan plan;
	struct layout_error err;
	json_t *j, *w;

	/* 4K and 16K: refused, citing the rule and the page size */
	assert_int_equal(build_with(kernel, high, &plan, &err), -1);
	assert_int_equal(err.code, ARMVM_E_IPA);
	assert_int_equal(err.needed_bits, 49);
	assert_int_equal(err.host_limit_bits, 52);
	assert_non_null(strstr(err.message, "48-bit addressable"));
	assert_non_null(strstr(err.message, "4K-page"));
	assert_int_equal(build_with(kernel16, high, &plan, &err), -1);
	assert_non_null(strstr(err.message, "16K-page"));

	/* 64K: accepted, with the reason and the warning in the layout */
	assert_int_equal(build_with(kernel64, high, &plan, &err), 0);
	assert_int_equal(plan.ipa.bits, 49);
	assert_true(plan.payload.kernel_load >= 0x1000000000000ULL);
	j = plan_to_json(&plan);
	assert_string_equal(json_string_value(json_object_get(json_object_get(
		json_object_get(j, "payload"), "kernel"), "page_size")), "64K");
	assert_non_null(strstr(json_string_value(json_object_get(json_object_get(
		json_object_get(j, "payload"), "kernel"), "placement")), "64K-page kernel"));
	w = json_object_get(j, "warnings");
	assert_int_equal(json_array_size(w), 1);
	assert_non_null(strstr(json_string_value(json_array_get(w, 0)), "only promises"));
	json_decref(j);

	/* 64K but the host cannot reach the bank: the IPA refusal */
	{
		struct plan_host h48 = host52;

		h48.limits.ipa_limit_bits = 48;
		assert_int_equal(build_img(kernel64, high, &h48, &plan, &err), -1);
		assert_int_equal(err.code, ARMVM_E_IPA);
		assert_int_equal(err.needed_bits, 49);
		assert_int_equal(err.host_limit_bits, 48);
	}

	/* a 16K kernel on a CPU without the 16K granule (cortex-a57) */
	{
		struct plan_host a57 = host52;

		a57.granules = HOSTINFO_GRANULE_4K | HOSTINFO_GRANULE_64K;
		assert_int_equal(build_img(kernel16, "", &a57, &plan, &err), -1);
		assert_int_equal(err.code, ARMVM_E_IMAGE);
		assert_non_null(strstr(err.message, "no 16K translation granule"));
		assert_int_equal(build_img(kernel64, "", &a57, &plan, &err), 0);
	}

	/* low: no note, no warning, for any page size */
	assert_int_equal(build_with(kernel64, "\"memory\":\"256M\"", &plan, &err), 0);
	j = plan_to_json(&plan);
	assert_int_equal(json_array_size(json_object_get(j, "warnings")), 0);
	assert_null(json_object_get(json_object_get(json_object_get(j, "payload"),
						    "kernel"), "placement"));
	json_decref(j);
}

static void test_names(void **state)
{
	assert_true(plan_name_valid("vm1"));
	assert_true(plan_name_valid("a.b-c_D"));
	assert_false(plan_name_valid(""));
	assert_false(plan_name_valid(".hidden"));
	assert_false(plan_name_valid("-x"));
	assert_false(plan_name_valid("a/b"));
	assert_false(plan_name_valid("a b"));
	assert_false(plan_name_valid("0123456789012345678901234567890123456789x"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_ipa_refused_with_data),
		cmocka_unit_test(test_split_high_bank),
		cmocka_unit_test(test_payload_region),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_bad_bank_message),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_kernel_above_48_by_page_size),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
