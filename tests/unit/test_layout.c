// SPDX-License-Identifier: MIT
/* The memory map: size and bank parsing, bank placement, IPA choice, payload. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "arm64/layout.h"
#include "libarmvm.h"

#define MiB(x)	((uint64_t)(x) << 20)
#define GiB(x)	((uint64_t)(x) << 30)

static void cfg_init(struct vm_config *cfg, enum guest_arch arch)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->arch = arch;
	cfg->vcpus = 1;
	cfg->gic = GIC_AUTO;
}

/* base 0: let layout_place_banks choose */
static void add_bank(struct vm_config *cfg, uint64_t size, uint64_t base)
{
	struct mem_bank *b = &cfg->banks[cfg->nbanks++];

	b->size = size;
	b->base = base;
	b->base_given = base != 0;
}

static struct host_limits host_cap(int bits)
{
	struct host_limits h = { .ipa_limit_bits = bits, .ipa_cap = true };

	return h;
}

/* a config that layout_place_banks accepts, with banks as given */
static void placed(struct vm_config *cfg)
{
	struct layout_error err;

	assert_int_equal(layout_place_banks(cfg, &err), 0);
	assert_int_equal(err.code, 0);
}

/* ---- parsing ---- */

static void test_parse_size_good(void **state)
{
	static const struct { const char *text; uint64_t size; } cases[] = {
		{ "1G", GiB(1) }, { "256M", MiB(256) }, { "512K", 512 * 1024 },
		{ "2T", GiB(2048) }, { "4096", 4096 }, { "0", 0 },
		{ "1g", GiB(1) }, { "256m", MiB(256) }, { "512k", 512 * 1024 },
		{ "2t", GiB(2048) }, { "512MiB", MiB(512) }, { "1GiB", GiB(1) },
		{ "2mib", MiB(2) }, { "3KIB", 3 * 1024 },
		{ "18446744073709551615", UINT64_MAX },
		{ "16777215T", 16777215ULL << 40 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 1;

		assert_int_equal(layout_parse_size(cases[i].text, &v), 0);
		assert_true(v == cases[i].size);
	}
}

static void test_parse_size_bad(void **state)
{
	static const char *const bad[] = {
		"", "-1", "+1", " 1G", "1G ", "1X", "1GB", "1Gi", "1GiBs", "G",
		"0x10", "1.5G", "1 G", "M1", "1MM",
	};
	uint64_t v = 7;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(layout_parse_size(bad[i], &v), -EINVAL);
	assert_int_equal(layout_parse_size(NULL, &v), -EINVAL);
	assert_int_equal(layout_parse_size("18446744073709551616", &v), -ERANGE);
	assert_int_equal(layout_parse_size("16777216T", &v), -ERANGE);
	assert_int_equal(layout_parse_size("17179869184G", &v), -ERANGE);
	assert_true(v == 7);	/* untouched on failure */
}

static void test_parse_bank_good(void **state)
{
	struct mem_bank b;
	char msg[256];

	assert_int_equal(layout_parse_bank("256M", &b, msg, sizeof(msg)), 0);
	assert_true(b.size == MiB(256));
	assert_false(b.base_given);

	assert_int_equal(layout_parse_bank("256M@0x800000000000", &b, msg,
					   sizeof(msg)), 0);
	assert_true(b.size == MiB(256));
	assert_true(b.base == 0x800000000000ULL);
	assert_true(b.base_given);

	assert_int_equal(layout_parse_bank("1G@2147483648", &b, msg,
					   sizeof(msg)), 0);
	assert_true(b.base == GiB(2) && b.size == GiB(1) && b.base_given);

	assert_int_equal(layout_parse_bank("512MiB@0X1aBcDe00000", &b, msg,
					   sizeof(msg)), 0);
	assert_true(b.base == 0x1abcde00000ULL && b.size == MiB(512));
}

static void test_parse_bank_bad(void **state)
{
	static const char *const bad[] = {
		"", "@0x80000000", "256M@", "256M@0x", "256M@-1", "256M@+1",
		"256M@0x1g", "abc", "256M@@1", "256M@1@2", "256M@ 1",
		"256M@0x10000000000000000", "256M@18446744073709551616",
		"99999999999999999999M", "-256M", "256M@1G",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mem_bank b;
		char msg[256] = "";

		assert_int_equal(layout_parse_bank(bad[i], &b, msg, sizeof(msg)),
				 -EINVAL);
		assert_true(msg[0] != '\0');
	}
}

/* ---- banks ---- */

static void test_place_default(void **state)
{
	struct vm_config cfg;

	cfg_init(&cfg, GUEST_AARCH64);
	add_bank(&cfg, MiB(256), 0);
	placed(&cfg);
	assert_true(cfg.banks[0].base == LAYOUT_RAM_BASE);

	/* later banks follow the highest end so far, 2 MiB aligned */
	cfg_init(&cfg, GUEST_AARCH64);
	add_bank(&cfg, GiB(1), 0);
	add_bank(&cfg, MiB(512), 0);
	add_bank(&cfg, MiB(256), 0x1000000000ULL);
	add_bank(&cfg, MiB(2), 0);
	placed(&cfg);
	assert_true(cfg.banks[1].base == GiB(3));
	assert_true(cfg.banks[3].base == 0x1000000000ULL + MiB(256));
	assert_false(cfg.banks[1].base_given);
}

static void expect_invalid(struct vm_config *cfg, const char *needle)
{
	struct layout_error err;

	assert_int_equal(layout_place_banks(cfg, &err), -1);
	assert_int_equal(err.code, ARMVM_E_INVALID_PARAMS);
	assert_non_null(strstr(err.message, needle));
}

static void test_place_alignment(void **state)
{
	struct vm_config cfg;

	cfg_init(&cfg, GUEST_AARCH64);
	add_bank(&cfg, MiB(3), 0);
	expect_invalid(&cfg, "2 MiB");

	cfg_init(&cfg, GUEST_AARCH64);
	add_bank(&cfg, MiB(256), GiB(2) + MiB(1));
	expect_invalid(&cfg, "aligned");

	cfg_init(&cfg, GUEST_AARCH64);
	add_bank(&cfg, 0, 0);
	expect_invalid(&cfg, "non-zero");

	cfg_init(&cfg, GUEST_AARCH64);
	add_bank(&cfg, MiB(256), GiB(1));
	expect_invalid(&cfg, "devices");

	/* bank 0 must hold a payload */
	cfg_init(&cfg, GUEST_AARCH64);
	add_bank(&cfg, MiB(8), 0);
	expect_invalid(&cfg, "too small");

	/* a later bank may be small */
	cfg_init(&cfg, GUEST_AARCH64);
	add_bank(&cfg, MiB(16), 0);
	add_bank(&cfg, MiB(2), 0);
	placed(&cfg);

	cfg_init(&cfg, GUEST_AARCH64);
	add_bank(&cfg, MiB(256), 0);
	add_bank(&cfg, MiB(4), 0xfffffffffff00000ULL & ~(SZ_2M - 1));
	expect_invalid(&cfg, "end of the address space");
}

static void test_place_overlap(void **state)
{
	struct vm_config cfg;

	cfg_init(&cfg, GUEST_AARCH64);
	add_bank(&cfg, GiB(1), GiB(2));
	add_bank(&cfg, GiB(1), GiB(2) + MiB(512));
	expect_invalid(&cfg, "overlap");

	/* a given base inside an earlier placed bank */
	cfg_init(&cfg, GUEST_AARCH64);
	add_bank(&cfg, GiB(1), 0);
	add_bank(&cfg, MiB(256), GiB(2) + MiB(256));
	expect_invalid(&cfg, "overlap");

	/* an earlier given bank that a later one sits inside */
	cfg_init(&cfg, GUEST_AARCH64);
	add_bank(&cfg, MiB(256), GiB(8));
	add_bank(&cfg, GiB(16), GiB(4));
	expect_invalid(&cfg, "overlap");

	/* touching is fine */
	cfg_init(&cfg, GUEST_AARCH64);
	add_bank(&cfg, GiB(1), GiB(2));
	add_bank(&cfg, GiB(1), GiB(3));
	placed(&cfg);
}

static void test_place_counts(void **state)
{
	struct vm_config cfg;

	cfg_init(&cfg, GUEST_AARCH64);
	expect_invalid(&cfg, "banks");

	cfg_init(&cfg, GUEST_AARCH64);
	for (int i = 0; i < LAYOUT_MAX_BANKS; i++)
		add_bank(&cfg, MiB(16), 0);
	placed(&cfg);
	cfg.nbanks = LAYOUT_MAX_BANKS + 1;
	expect_invalid(&cfg, "banks");

	cfg_init(&cfg, GUEST_AARCH64);
	add_bank(&cfg, MiB(256), 0);
	cfg.vcpus = 0;
	expect_invalid(&cfg, "vCPUs");
	cfg.vcpus = LAYOUT_MAX_VCPUS_GICV3;
	placed(&cfg);
	cfg.vcpus = LAYOUT_MAX_VCPUS_GICV3 + 1;
	expect_invalid(&cfg, "GICv3");
	cfg.gic = GIC_V3;
	expect_invalid(&cfg, "GICv3");
	cfg.gic = GIC_V2;
	cfg.vcpus = 8;
	placed(&cfg);
	cfg.vcpus = 9;
	expect_invalid(&cfg, "GICv2");
	assert_int_equal(LAYOUT_MAX_VCPUS_GICV3, 123);
}

static void test_kernel_bank_above_48(void **state)
{
	struct vm_config cfg;
	struct layout_error err;

	/* ending exactly at 2^48 is allowed */
	cfg_init(&cfg, GUEST_AARCH64);
	add_bank(&cfg, MiB(256), LAYOUT_KERNEL_LIMIT - MiB(256));
	placed(&cfg);

	cfg_init(&cfg, GUEST_AARCH64);
	add_bank(&cfg, MiB(512), LAYOUT_KERNEL_LIMIT - MiB(256));
	assert_int_equal(layout_place_banks(&cfg, &err), -1);
	assert_int_equal(err.code, ARMVM_E_IPA);
	assert_true(err.highest_address == LAYOUT_KERNEL_LIMIT + MiB(256) - 1);
	assert_int_equal(err.needed_bits, 49);
	assert_non_null(strstr(err.message, "48-bit addressable"));
	assert_non_null(strstr(err.message, "boot protocol"));

	/* above 2^48 is fine for a bank that does not hold the kernel */
	cfg_init(&cfg, GUEST_AARCH64);
	add_bank(&cfg, MiB(256), 0);
	add_bank(&cfg, MiB(512), 0x8800000000000ULL);
	placed(&cfg);
}

static void test_aarch32_bank_below_4g(void **state)
{
	struct vm_config cfg;
	struct layout_error err;

	cfg_init(&cfg, GUEST_AARCH32);
	add_bank(&cfg, GiB(2), 0);
	placed(&cfg);

	cfg_init(&cfg, GUEST_AARCH32);
	add_bank(&cfg, GiB(2) + SZ_2M, 0);
	assert_int_equal(layout_place_banks(&cfg, &err), -1);
	assert_int_equal(err.code, ARMVM_E_IPA);
	assert_true(err.highest_address == GiB(4) + SZ_2M - 1);
	assert_non_null(strstr(err.message, "4 GiB"));

	cfg_init(&cfg, GUEST_AARCH32);
	add_bank(&cfg, MiB(256), GiB(4));
	assert_int_equal(layout_place_banks(&cfg, &err), -1);
	assert_int_equal(err.code, ARMVM_E_IPA);

	/* further banks may go higher (LPAE) */
	cfg_init(&cfg, GUEST_AARCH32);
	add_bank(&cfg, MiB(256), 0);
	add_bank(&cfg, GiB(4), GiB(8));
	placed(&cfg);

	/* ...but not beyond LPAE's 40 bits */
	cfg_init(&cfg, GUEST_AARCH32);
	add_bank(&cfg, MiB(256), 0);
	add_bank(&cfg, GiB(1), (1ULL << 40) - GiB(1));
	placed(&cfg);
	cfg_init(&cfg, GUEST_AARCH32);
	add_bank(&cfg, MiB(256), 0);
	add_bank(&cfg, GiB(4), 0x8800000000000ULL);
	assert_int_equal(layout_place_banks(&cfg, &err), -1);
	assert_int_equal(err.code, ARMVM_E_IPA);
	assert_true(err.highest_address == 0x8800000000000ULL + GiB(4) - 1);
	assert_int_equal(err.needed_bits, 52);
	assert_non_null(strstr(err.message, "40 bits"));
}

/* ---- IPA ---- */

static void test_bits_for(void **state)
{
	assert_int_equal(layout_bits_for(0), 32);
	assert_int_equal(layout_bits_for(0x0a003fff), 32);
	assert_int_equal(layout_bits_for(0x8fffffff), 32);
	assert_int_equal(layout_bits_for(0xffffffff), 32);
	assert_int_equal(layout_bits_for(0x100000000ULL), 33);
	assert_int_equal(layout_bits_for(0x800000000000ULL + MiB(256) - 1), 48);
	assert_int_equal(layout_bits_for((1ULL << 52) - 1), 52);
	assert_int_equal(layout_bits_for(1ULL << 52), 53);
	assert_int_equal(layout_bits_for(UINT64_MAX), 64);
}

static void test_highest_address(void **state)
{
	struct vm_config cfg;

	cfg_init(&cfg, GUEST_AARCH64);
	/* devices only: the virtio window is the top of the device space */
	assert_true(layout_highest_address(&cfg) ==
		    LAYOUT_VIRTIO_BASE + LAYOUT_VIRTIO_SLOTS * LAYOUT_VIRTIO_STRIDE - 1);
	add_bank(&cfg, MiB(256), 0);
	placed(&cfg);
	assert_true(layout_highest_address(&cfg) == 0x8fffffffULL);
}

static void test_ipa_default_256m(void **state)
{
	static const int limits[] = { 36, 40, 44, 48, 52 };
	struct vm_config cfg;
	struct host_limits h;
	struct ipa_plan plan;
	struct layout_error err;

	cfg_init(&cfg, GUEST_AARCH64);
	add_bank(&cfg, MiB(256), 0);
	placed(&cfg);
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		h = host_cap(limits[i]);
		assert_int_equal(layout_choose_ipa(&cfg, &h, &plan, &err), 0);
		assert_int_equal(plan.bits, 32);
		assert_int_equal(plan.needed_bits, 32);
		assert_int_equal(plan.vm_type, 32);
		assert_true(plan.highest_address == 0x8fffffffULL);
		assert_non_null(strstr(plan.reason, "0x8fffffff"));
		assert_non_null(strstr(plan.reason, "minimum 32"));
	}
}

static void expect_ipa_error(const struct vm_config *cfg,
			     const struct host_limits *h, int needed,
			     int requested, int limit, uint64_t highest,
			     const char *needle)
{
	struct ipa_plan plan;
	struct layout_error err;

	assert_int_equal(layout_choose_ipa(cfg, h, &plan, &err), -1);
	assert_int_equal(err.code, ARMVM_E_IPA);
	assert_int_equal(err.needed_bits, needed);
	assert_int_equal(err.requested_bits, requested);
	assert_int_equal(err.host_limit_bits, limit);
	assert_true(err.highest_address == highest);
	assert_non_null(strstr(err.message, needle));
}

static void test_ipa_hosts(void **state)
{
	static const int limits[] = { 36, 40, 44, 48, 52 };

	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		int lim = limits[i];
		struct host_limits h = host_cap(lim);
		struct vm_config small, big, mid;
		struct ipa_plan plan;
		struct layout_error err;
		char num[16];

		cfg_init(&small, GUEST_AARCH64);
		add_bank(&small, MiB(256), 0);
		placed(&small);

		/* a second bank just at 2^limit: one bit too many */
		cfg_init(&big, GUEST_AARCH64);
		add_bank(&big, MiB(256), 0);
		add_bank(&big, MiB(256), 1ULL << lim);
		placed(&big);
		expect_ipa_error(&big, &h, lim + 1, 0, lim,
				 (1ULL << lim) + MiB(256) - 1, "needs");
		snprintf(num, sizeof(num), "%d bits", lim);
		assert_int_equal(layout_choose_ipa(&big, &h, &plan, &err), -1);
		assert_non_null(strstr(err.message, num));

		/* just below 2^limit: fits, with the default choice */
		big.banks[1].base = (1ULL << lim) - MiB(256);
		assert_int_equal(layout_choose_ipa(&big, &h, &plan, &err), 0);
		assert_int_equal(plan.bits, lim);
		assert_int_equal(plan.vm_type, (unsigned long)lim);

		/* explicit request at the limit */
		small.ipa_bits = lim;
		assert_int_equal(layout_choose_ipa(&small, &h, &plan, &err), 0);
		assert_int_equal(plan.bits, lim);
		assert_int_equal(plan.needed_bits, 32);
		assert_int_equal(plan.vm_type, (unsigned long)lim);
		assert_string_equal(plan.reason, "requested");

		/* below the limit, covering the map */
		small.ipa_bits = lim - 1;
		assert_int_equal(layout_choose_ipa(&small, &h, &plan, &err), 0);
		assert_int_equal(plan.bits, lim - 1);
		small.ipa_bits = 32;
		assert_int_equal(layout_choose_ipa(&small, &h, &plan, &err), 0);
		assert_int_equal(plan.bits, 32);

		/* above the limit */
		small.ipa_bits = lim + 1;
		expect_ipa_error(&small, &h, 32, lim + 1, lim, 0x8fffffffULL,
				 "allows at most");

		/* below the architectural minimum */
		small.ipa_bits = 31;
		expect_ipa_error(&small, &h, 32, 31, lim, 0x8fffffffULL,
				 "minimum of 32");

		/* a request that does not cover the map */
		cfg_init(&mid, GUEST_AARCH64);
		add_bank(&mid, MiB(256), 0);
		add_bank(&mid, MiB(256), 1ULL << 35);
		placed(&mid);
		mid.ipa_bits = 33;
		expect_ipa_error(&mid, &h, 36, 33, lim,
				 (1ULL << 35) + MiB(256) - 1, "needs 36 bits");
		mid.ipa_bits = 36;
		assert_int_equal(layout_choose_ipa(&mid, &h, &plan, &err), 0);
		assert_int_equal(plan.bits, 36);
	}
}

static void test_ipa_no_cap(void **state)
{
	struct host_limits h = { .ipa_limit_bits = 40, .ipa_cap = false };
	struct vm_config cfg;
	struct ipa_plan plan;
	struct layout_error err;

	cfg_init(&cfg, GUEST_AARCH64);
	add_bank(&cfg, MiB(256), 0);
	placed(&cfg);
	assert_int_equal(layout_choose_ipa(&cfg, &h, &plan, &err), 0);
	assert_int_equal(plan.bits, 40);
	assert_int_equal(plan.needed_bits, 32);
	assert_int_equal(plan.vm_type, 0);
	assert_non_null(strstr(plan.reason, "40"));

	/* a smaller request is accepted, but KVM gives 40 anyway */
	cfg.ipa_bits = 36;
	assert_int_equal(layout_choose_ipa(&cfg, &h, &plan, &err), 0);
	assert_int_equal(plan.bits, 40);
	assert_int_equal(plan.vm_type, 0);
	assert_non_null(strstr(plan.reason, "requested 36"));
	assert_non_null(strstr(plan.reason, "fixes 40"));

	cfg.ipa_bits = 40;
	assert_int_equal(layout_choose_ipa(&cfg, &h, &plan, &err), 0);
	assert_int_equal(plan.bits, 40);

	cfg.ipa_bits = 41;
	expect_ipa_error(&cfg, &h, 32, 41, 40, 0x8fffffffULL,
			 "KVM_CAP_ARM_VM_IPA_SIZE");

	/* a map needing 41 bits */
	cfg.ipa_bits = 0;
	add_bank(&cfg, MiB(256), 1ULL << 40);
	placed(&cfg);
	expect_ipa_error(&cfg, &h, 41, 0, 40, (1ULL << 40) + MiB(256) - 1,
			 "fixes the IPA size at 40");

	/* the host's reported limit does not matter without the cap */
	h.ipa_limit_bits = 48;
	expect_ipa_error(&cfg, &h, 41, 0, 40, (1ULL << 40) + MiB(256) - 1,
			 "40");
}

static void test_ipa_bank_at_2_47(void **state)
{
	struct vm_config cfg;
	struct host_limits h;
	struct ipa_plan plan;
	struct layout_error err;

	cfg_init(&cfg, GUEST_AARCH64);
	add_bank(&cfg, MiB(256), 0x800000000000ULL);
	placed(&cfg);
	h = host_cap(48);
	assert_int_equal(layout_choose_ipa(&cfg, &h, &plan, &err), 0);
	assert_int_equal(plan.bits, 48);
	assert_int_equal(plan.vm_type, 48);
	assert_true(plan.highest_address == 0x80000fffffffULL);

	h = host_cap(44);
	expect_ipa_error(&cfg, &h, 48, 0, 44, 0x80000fffffffULL, "44");
}

static void test_ipa_split_52(void **state)
{
	struct vm_config cfg;
	struct host_limits h;
	struct ipa_plan plan;
	struct layout_error err;

	cfg_init(&cfg, GUEST_AARCH64);
	add_bank(&cfg, GiB(1), 0);
	add_bank(&cfg, GiB(1), 0x8800000000000ULL);
	placed(&cfg);
	h = host_cap(52);
	assert_int_equal(layout_choose_ipa(&cfg, &h, &plan, &err), 0);
	assert_int_equal(plan.bits, 52);
	assert_int_equal(plan.needed_bits, 52);
	assert_int_equal(plan.vm_type, 52);

	h = host_cap(48);
	expect_ipa_error(&cfg, &h, 52, 0, 48, 0x8800000000000ULL + GiB(1) - 1,
			 "needs 52");
}

/* ---- payload ---- */

static void check_aarch64_plan(const struct vm_config *cfg,
			       const struct payload_input *in,
			       const struct payload_plan *p)
{
	uint64_t region_end = p->region_base + p->region_size;

	assert_true(p->region_base == cfg->banks[0].base);
	/* a 2 MiB aligned base + text_offset, image_size reserved */
	assert_true((p->kernel_load - in->text_offset) % SZ_2M == 0);
	assert_true(p->kernel_load == p->region_base + in->text_offset);
	assert_true(p->kernel_entry == p->kernel_load);
	assert_true(p->kernel_end - p->kernel_load >= in->kernel_size);
	assert_true(p->kernel_end - p->kernel_load >= in->kernel_file_size);
	if (in->initrd_size) {
		assert_true(p->initrd_base >= p->kernel_end);
		assert_true(p->initrd_base % SZ_4K == 0);
		assert_true(p->initrd_size == in->initrd_size);
		assert_true(p->initrd_base + p->initrd_size <= p->dtb_base);
		/* kernel and initrd in one 32 GiB window */
		assert_true(p->kernel_load >> 35 ==
			    (p->initrd_base + p->initrd_size - 1) >> 35);
	} else {
		assert_true(p->initrd_base == 0 && p->initrd_size == 0);
		assert_true(p->kernel_end <= p->dtb_base);
	}
	/* the DTB alone in the region's last 2 MiB, 8-byte aligned */
	assert_true(p->dtb_base % 8 == 0);
	assert_true(p->dtb_base == region_end - SZ_2M);
	assert_true(p->dtb_size == in->dtb_size);
	assert_true(p->dtb_base + p->dtb_size <= region_end);
	assert_true(region_end <= cfg->banks[0].base + cfg->banks[0].size);
}

static void test_payload_aarch64(void **state)
{
	static const uint64_t offsets[] = { 0, 0x80000 };
	struct vm_config cfg;
	struct layout_error err;

	cfg_init(&cfg, GUEST_AARCH64);
	add_bank(&cfg, GiB(1), 0);
	placed(&cfg);
	for (size_t i = 0; i < 2; i++) {
		struct payload_input in = {
			.kernel_size = MiB(40) + 123, .kernel_file_size = MiB(30),
			.text_offset = offsets[i], .initrd_size = MiB(20) + 1,
			.dtb_size = 0x1234,
		};
		struct payload_plan p;

		assert_int_equal(layout_place_payload(&cfg, &in, &p, &err), 0);
		assert_true(p.region_size == PAYLOAD_REGION_AARCH64);
		check_aarch64_plan(&cfg, &in, &p);
		assert_true(p.initrd_base ==
			    ((p.kernel_end + SZ_4K - 1) & ~(SZ_4K - 1)));

		in.initrd_size = 0;
		assert_int_equal(layout_place_payload(&cfg, &in, &p, &err), 0);
		check_aarch64_plan(&cfg, &in, &p);
	}
}

static void test_payload_file_larger_than_header(void **state)
{
	struct vm_config cfg;
	struct layout_error err;
	struct payload_input in = {
		.kernel_size = MiB(1), .kernel_file_size = MiB(3),
		.initrd_size = MiB(1), .dtb_size = 4096,
	};
	struct payload_plan p;

	cfg_init(&cfg, GUEST_AARCH64);
	add_bank(&cfg, MiB(256), 0);
	placed(&cfg);
	assert_int_equal(layout_place_payload(&cfg, &in, &p, &err), 0);
	assert_true(p.kernel_end - p.kernel_load == MiB(3));
	check_aarch64_plan(&cfg, &in, &p);
}

static void test_payload_351m_initrd(void **state)
{
	struct payload_input in = {
		.kernel_size = MiB(40) + 4096, .kernel_file_size = MiB(38),
		.text_offset = 0, .initrd_size = MiB(351), .dtb_size = 8192,
	};
	struct vm_config cfg;
	struct payload_plan p;
	struct layout_error err;

	cfg_init(&cfg, GUEST_AARCH64);
	add_bank(&cfg, MiB(512), 0);
	placed(&cfg);
	assert_int_equal(layout_place_payload(&cfg, &in, &p, &err), 0);
	check_aarch64_plan(&cfg, &in, &p);

	cfg_init(&cfg, GUEST_AARCH32);
	add_bank(&cfg, GiB(1), 0);
	placed(&cfg);
	in.text_offset = 0x8000;
	assert_int_equal(layout_place_payload(&cfg, &in, &p, &err), -1);
	assert_int_equal(err.code, ARMVM_E_PAYLOAD);
	assert_true(err.region_size == PAYLOAD_REGION_AARCH32);
	assert_true(err.kernel_size == in.kernel_size);
	assert_true(err.initrd_size == MiB(351));
	assert_true(err.dtb_size == 8192);
	assert_true(err.needed_size > err.region_size);
	assert_true(err.needed_size >= MiB(351) + in.kernel_size + SZ_2M);
	assert_non_null(strstr(err.message, "351 MiB"));
	assert_non_null(strstr(err.message, "256 MiB"));
	assert_non_null(strstr(err.message, "aarch32"));
	assert_non_null(strstr(err.message, "+128 MiB"));
}

static void test_payload_clipped(void **state)
{
	struct payload_input in = {
		.kernel_size = MiB(20), .kernel_file_size = MiB(18),
		.initrd_size = MiB(30), .dtb_size = 4096,
	};
	struct vm_config cfg;
	struct payload_plan p;
	struct layout_error err;

	assert_true(layout_payload_region_size(GUEST_AARCH64, GiB(4)) == MiB(512));
	assert_true(layout_payload_region_size(GUEST_AARCH32, GiB(4)) == MiB(256));
	assert_true(layout_payload_region_size(GUEST_AARCH64, MiB(64)) == MiB(64));
	assert_true(layout_payload_region_size(GUEST_AARCH32, MiB(64)) == MiB(64));

	cfg_init(&cfg, GUEST_AARCH64);
	add_bank(&cfg, MiB(64), 0);
	add_bank(&cfg, GiB(2), 0);
	placed(&cfg);
	assert_int_equal(layout_place_payload(&cfg, &in, &p, &err), 0);
	assert_true(p.region_size == MiB(64));
	assert_true(p.dtb_base == LAYOUT_RAM_BASE + MiB(62));
	check_aarch64_plan(&cfg, &in, &p);

	in.initrd_size = MiB(50);
	assert_int_equal(layout_place_payload(&cfg, &in, &p, &err), -1);
	assert_int_equal(err.code, ARMVM_E_PAYLOAD);
	assert_true(err.region_size == MiB(64));
	assert_true(err.needed_size == MiB(72));
	assert_non_null(strstr(err.message, "72 MiB"));
	assert_non_null(strstr(err.message, "64 MiB"));
}

static void test_payload_kernel_too_big(void **state)
{
	struct payload_input in = {
		.kernel_size = MiB(600), .kernel_file_size = MiB(30),
		.dtb_size = 4096,
	};
	struct vm_config cfg;
	struct payload_plan p;
	struct layout_error err;

	cfg_init(&cfg, GUEST_AARCH64);
	add_bank(&cfg, GiB(4), 0);
	placed(&cfg);
	assert_int_equal(layout_place_payload(&cfg, &in, &p, &err), -1);
	assert_int_equal(err.code, ARMVM_E_PAYLOAD);
	assert_true(err.kernel_size == MiB(600));
	assert_true(err.region_size == MiB(512));
	assert_true(err.initrd_size == 0);
	assert_true(err.dtb_size == 4096);
	assert_true(err.needed_size == MiB(602));
	assert_non_null(strstr(err.message, "600 MiB"));
	assert_non_null(strstr(err.message, "602 MiB"));

	/* a header with an absurd image_size does not wrap around */
	in.kernel_size = UINT64_MAX - 5;
	in.text_offset = UINT64_MAX / 2;
	assert_int_equal(layout_place_payload(&cfg, &in, &p, &err), -1);
	assert_int_equal(err.code, ARMVM_E_PAYLOAD);
}

static void test_payload_dtb_too_big(void **state)
{
	struct payload_input in = {
		.kernel_size = MiB(20), .dtb_size = SZ_2M,
	};
	struct vm_config cfg;
	struct payload_plan p;
	struct layout_error err;

	cfg_init(&cfg, GUEST_AARCH64);
	add_bank(&cfg, GiB(1), 0);
	placed(&cfg);
	assert_int_equal(layout_place_payload(&cfg, &in, &p, &err), 0);
	check_aarch64_plan(&cfg, &in, &p);

	in.dtb_size = SZ_2M + 8;
	assert_int_equal(layout_place_payload(&cfg, &in, &p, &err), -1);
	assert_int_equal(err.code, ARMVM_E_PAYLOAD);
	assert_true(err.dtb_size == SZ_2M + 8);
	assert_non_null(strstr(err.message, "2 MiB"));
}

static void test_payload_aarch32(void **state)
{
	struct payload_input in = {
		.kernel_size = MiB(8), .kernel_file_size = MiB(8),
		.text_offset = 0x8000, .initrd_size = MiB(20), .dtb_size = 4096,
	};
	struct vm_config cfg;
	struct payload_plan p;
	struct layout_error err;

	cfg_init(&cfg, GUEST_AARCH32);
	add_bank(&cfg, MiB(512), 0);
	placed(&cfg);
	assert_int_equal(layout_place_payload(&cfg, &in, &p, &err), 0);
	assert_true(p.region_size == MiB(256));
	assert_true(p.kernel_load == LAYOUT_RAM_BASE + 0x8000);
	assert_true(p.kernel_entry == p.kernel_load);
	/* initrd above the decompressor's reach: RAM + 128 MiB */
	assert_true(p.initrd_base == LAYOUT_RAM_BASE + MiB(128));
	assert_true(p.dtb_base == LAYOUT_RAM_BASE + MiB(254));
	assert_true(p.initrd_base + p.initrd_size <= p.dtb_base);

	/* the largest initrd: up to the DTB block */
	in.initrd_size = MiB(126);
	assert_int_equal(layout_place_payload(&cfg, &in, &p, &err), 0);
	in.initrd_size = MiB(126) + 1;
	assert_int_equal(layout_place_payload(&cfg, &in, &p, &err), -1);
	assert_int_equal(err.code, ARMVM_E_PAYLOAD);

	/* a small bank: half of it */
	cfg_init(&cfg, GUEST_AARCH32);
	add_bank(&cfg, MiB(64), 0);
	placed(&cfg);
	in.initrd_size = MiB(20);
	assert_int_equal(layout_place_payload(&cfg, &in, &p, &err), 0);
	assert_true(p.region_size == MiB(64));
	assert_true(p.initrd_base == LAYOUT_RAM_BASE + MiB(32));
	assert_true(p.dtb_base == LAYOUT_RAM_BASE + MiB(62));
}

static void test_payload_32g_window(void **state)
{
	struct payload_input in = {
		.kernel_size = MiB(40), .kernel_file_size = MiB(30),
		.initrd_size = MiB(100), .dtb_size = 4096,
	};
	struct vm_config cfg;
	struct payload_plan p;
	struct layout_error err;

	/* bank 0 starts 256 MiB below a 32 GiB boundary */
	cfg_init(&cfg, GUEST_AARCH64);
	add_bank(&cfg, GiB(1), GiB(32) - MiB(256));
	placed(&cfg);
	assert_int_equal(layout_place_payload(&cfg, &in, &p, &err), 0);
	check_aarch64_plan(&cfg, &in, &p);

	in.initrd_size = MiB(300);
	assert_int_equal(layout_place_payload(&cfg, &in, &p, &err), -1);
	assert_int_equal(err.code, ARMVM_E_PAYLOAD);
	assert_non_null(strstr(err.message, "32 GiB"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size_good),
		cmocka_unit_test(test_parse_size_bad),
		cmocka_unit_test(test_parse_bank_good),
		cmocka_unit_test(test_parse_bank_bad),
		cmocka_unit_test(test_place_default),
		cmocka_unit_test(test_place_alignment),
		cmocka_unit_test(test_place_overlap),
		cmocka_unit_test(test_place_counts),
		cmocka_unit_test(test_kernel_bank_above_48),
		cmocka_unit_test(test_aarch32_bank_below_4g),
		cmocka_unit_test(test_bits_for),
		cmocka_unit_test(test_highest_address),
		cmocka_unit_test(test_ipa_default_256m),
		cmocka_unit_test(test_ipa_hosts),
		cmocka_unit_test(test_ipa_no_cap),
		cmocka_unit_test(test_ipa_bank_at_2_47),
		cmocka_unit_test(test_ipa_split_52),
		cmocka_unit_test(test_payload_aarch64),
		cmocka_unit_test(test_payload_file_larger_than_header),
		cmocka_unit_test(test_payload_351m_initrd),
		cmocka_unit_test(test_payload_clipped),
		cmocka_unit_test(test_payload_kernel_too_big),
		cmocka_unit_test(test_payload_dtb_too_big),
		cmocka_unit_test(test_payload_aarch32),
		cmocka_unit_test(test_payload_32g_window),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
