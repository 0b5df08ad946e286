// SPDX-License-Identifier: MIT
/*
 * The guest memory map as pure functions: size and bank parsing, bank
 * placement, the IPA size and where kernel, initrd and DTB go.  Nothing
 * here touches KVM, files or memory; errors come back in a layout_error.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "arm64/layout.h"
#include "libarmvm.h"

#define SZ_1M	0x100000ULL

/* ---- small helpers ---- */

static inline bool is_aligned(uint64_t x, uint64_t a)
{
	return (x & (a - 1)) == 0;
}

/* Round x up to a (a power of two); false when that overflows. */
static bool align_up(uint64_t x, uint64_t a, uint64_t *out)
{
	if (x > UINT64_MAX - (a - 1))
		return false;
	*out = (x + a - 1) & ~(a - 1);
	return true;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* MiB, rounded up: what the payload messages print */
static uint64_t mib_up(uint64_t bytes)
{
	return bytes / SZ_1M + (bytes % SZ_1M != 0);
}

/* "256 MiB", "4 GiB", "2 TiB" or "12345 bytes" for messages */
static const char *fmt_size(uint64_t v, char *buf, size_t len)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
	int u = -1;

	while (u < 4 && v != 0 && v % 1024 == 0) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%" PRIu64 " bytes", v);
	else
		snprintf(buf, len, "%" PRIu64 " %s", v, unit[u]);
	return buf;
}

static void err_reset(struct layout_error *err, int code)
{
	memset(err, 0, sizeof(*err));
	err->code = code;
}

/* Set the message of an error already reset; returns -1 for `return`. */
static int __attribute__((format(printf, 2, 3)))
err_msg(struct layout_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- parsing ---- */

static int parse_u64_dec(const char *s, const char **end, uint64_t *out)
{
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*end = s;
	*out = v;
	return 0;
}

static int parse_u64_hex(const char *s, const char **end, uint64_t *out)
{
	uint64_t v = 0;
	const char *start = s;

	for (;; s++) {
		unsigned d;

		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (*s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (*s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			break;
		if (v >> 60)
			return -ERANGE;
		v = v << 4 | d;
	}
	if (s == start)
		return -EINVAL;
	*end = s;
	*out = v;
	return 0;
}

int layout_parse_size(const char *text, uint64_t *size)
{
	const char *p;
	uint64_t v;
	unsigned shift = 0;
	int r;

	if (!text)
		return -EINVAL;
	r = parse_u64_dec(text, &p, &v);
	if (r)
		return r;
	switch (*p) {
	case 'k': case 'K': shift = 10; break;
	case 'm': case 'M': shift = 20; break;
	case 'g': case 'G': shift = 30; break;
	case 't': case 'T': shift = 40; break;
	case '\0': break;
	default: return -EINVAL;
	}
	if (shift) {
		p++;
		/* "MiB" and "mib": the letters are binary multiples either way */
		if ((p[0] == 'i' || p[0] == 'I') && (p[1] == 'b' || p[1] == 'B'))
			p += 2;
	}
	if (*p != '\0')
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*size = v << shift;
	return 0;
}

static int parse_base(const char *s, uint64_t *base)
{
	const char *end;
	int r;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		r = parse_u64_hex(s + 2, &end, base);
	else
		r = parse_u64_dec(s, &end, base);
	if (r)
		return r;
	return *end == '\0' ? 0 : -EINVAL;
}

int layout_parse_bank(const char *text, struct mem_bank *bank,
		      char *msg, size_t msglen)
{
	char sizebuf[64];
	const char *at;
	size_t n;
	int r;

	if (!text || !*text) {
		snprintf(msg, msglen, "empty memory bank: want SIZE or SIZE@BASE");
		return -EINVAL;
	}
	at = strchr(text, '@');
	n = at ? (size_t)(at - text) : strlen(text);
	if (n >= sizeof(sizebuf)) {
		snprintf(msg, msglen, "memory bank \"%.40s...\": size too long", text);
		return -EINVAL;
	}
	memcpy(sizebuf, text, n);
	sizebuf[n] = '\0';

	memset(bank, 0, sizeof(*bank));
	r = layout_parse_size(sizebuf, &bank->size);
	if (r) {
		snprintf(msg, msglen, "memory bank \"%s\": %s size \"%s\" "
			 "(want bytes or a number with K, M, G or T)", text,
			 r == -ERANGE ? "too large" : "bad", sizebuf);
		return -EINVAL;
	}
	if (!at)
		return 0;
	r = parse_base(at + 1, &bank->base);
	if (r) {
		snprintf(msg, msglen, "memory bank \"%s\": %s base \"%s\" "
			 "(want decimal or 0x hex)", text,
			 r == -ERANGE ? "too large" : "bad", at + 1);
		return -EINVAL;
	}
	bank->base_given = true;
	return 0;
}

/* ---- banks ---- */

static int check_vcpus(const struct vm_config *cfg, struct layout_error *err)
{
	unsigned max = cfg->gic == GIC_V2 ? LAYOUT_MAX_VCPUS_GICV2
					  : (unsigned)LAYOUT_MAX_VCPUS_GICV3;

	if (cfg->gic != GIC_AUTO && cfg->gic != GIC_V2 && cfg->gic != GIC_V3) {
		err_reset(err, ARMVM_E_INVALID_PARAMS);
		return err_msg(err, "unknown GIC version %d", (int)cfg->gic);
	}
	if (cfg->vcpus < 1 || cfg->vcpus > max) {
		err_reset(err, ARMVM_E_INVALID_PARAMS);
		/* GICv2 has 8 CPU interface targets; GICv3 is bounded by
		 * the redistributor frames that fit below the UART */
		return err_msg(err, "%u vCPUs: %s allows 1 to %u", cfg->vcpus,
			       cfg->gic == GIC_V2 ? "GICv2" : "GICv3", max);
	}
	return 0;
}

/* Give a bank without a base one, then check it on its own. */
static int place_one(struct vm_config *cfg, unsigned i, uint64_t top,
		     struct layout_error *err)
{
	struct mem_bank *b = &cfg->banks[i];
	char s1[32], s2[32];

	if (!b->base_given) {
		/* the first bank at LAYOUT_RAM_BASE, later ones after the
		 * highest end so far (aligned already: earlier banks passed) */
		uint64_t base = i == 0 ? LAYOUT_RAM_BASE : top;

		if (!align_up(base, SZ_2M, &b->base)) {
			err_reset(err, ARMVM_E_INVALID_PARAMS);
			return err_msg(err, "bank %u: no room after 0x%" PRIx64,
				       i, top);
		}
	}
	fmt_size(b->size, s1, sizeof(s1));
	if (b->size == 0 || !is_aligned(b->size, SZ_2M)) {
		err_reset(err, ARMVM_E_INVALID_PARAMS);
		return err_msg(err, "bank %u: size %s is not a non-zero "
			       "multiple of 2 MiB", i, s1);
	}
	if (!is_aligned(b->base, SZ_2M)) {
		err_reset(err, ARMVM_E_INVALID_PARAMS);
		return err_msg(err, "bank %u: base 0x%" PRIx64
			       " is not 2 MiB aligned", i, b->base);
	}
	if (b->base < LAYOUT_DEVICES_END) {
		err_reset(err, ARMVM_E_INVALID_PARAMS);
		return err_msg(err, "bank %u: base 0x%" PRIx64 " is below 0x%llx,"
			       " where the devices live", i, b->base,
			       LAYOUT_DEVICES_END);
	}
	if (b->size > UINT64_MAX - b->base) {
		err_reset(err, ARMVM_E_INVALID_PARAMS);
		return err_msg(err, "bank %u: %s at 0x%" PRIx64
			       " runs past the end of the address space",
			       i, s1, b->base);
	}
	if (i == 0 && b->size < LAYOUT_MIN_KERNEL_BANK) {
		err_reset(err, ARMVM_E_INVALID_PARAMS);
		return err_msg(err, "bank 0: %s is too small for kernel, initrd"
			       " and device tree (at least %s)", s1,
			       fmt_size(LAYOUT_MIN_KERNEL_BANK, s2, sizeof(s2)));
	}
	return 0;
}

static int check_overlaps(const struct vm_config *cfg,
			  struct layout_error *err)
{
	for (unsigned i = 0; i < cfg->nbanks; i++) {
		const struct mem_bank *a = &cfg->banks[i];

		for (unsigned j = i + 1; j < cfg->nbanks; j++) {
			const struct mem_bank *b = &cfg->banks[j];

			if (a->base < b->base + b->size &&
			    b->base < a->base + a->size) {
				err_reset(err, ARMVM_E_INVALID_PARAMS);
				return err_msg(err, "banks %u (0x%" PRIx64 "-0x%"
					       PRIx64 ") and %u (0x%" PRIx64
					       "-0x%" PRIx64 ") overlap", i,
					       a->base, a->base + a->size - 1, j,
					       b->base, b->base + b->size - 1);
			}
		}
	}
	return 0;
}

static const char *page_name(unsigned kb)
{
	switch (kb) {
	case 4: return "4K-page";
	case 16: return "16K-page";
	case 64: return "64K-page";
	default: return "page-size-unspecified";
	}
}

int layout_check_kernel_bank(const struct vm_config *cfg,
			     struct layout_error *err,
			     char *note, size_t notelen,
			     char *warning, size_t warninglen)
{
	const struct mem_bank *b = &cfg->banks[0];
	uint64_t end = b->base + b->size;

	if (cfg->arch != GUEST_AARCH64 || end <= LAYOUT_KERNEL_LIMIT ||
	    cfg->kernel_page_kb == LAYOUT_PAGE_UNREAD)
		return 0;
	if (cfg->kernel_page_kb == 64) {
		if (note && notelen)
			snprintf(note, notelen, "bank 0 ends at 0x%" PRIx64 ", above "
				 "2^48: accepted for a 64K-page kernel, whose initial "
				 "ID map reaches 52 bits (the 48-bit rule comes from the "
				 "ID map of 4K and 16K kernels with LPA2); the kernel "
				 "must be built for 52-bit physical addresses "
				 "(CONFIG_ARM64_PA_BITS_52) and the CPU must have "
				 "FEAT_LPA", end - 1);
		if (warning && warninglen)
			snprintf(warning, warninglen, "the arm64 boot protocol "
				 "(booting.rst) only promises that a kernel image in "
				 "48-bit addressable memory boots: the kernel at 0x%"
				 PRIx64 " relies on its 64K pages", b->base);
		return 1;
	}
	err_reset(err, ARMVM_E_IPA);
	err->highest_address = end - 1;
	err->needed_bits = layout_bits_for(end - 1);
	err->requested_bits = cfg->ipa_bits;
	/* under 256 bytes: what libarmvm's struct armvm_error holds */
	return err_msg(err, "bank 0 holds the kernel and ends at 0x%" PRIx64
		       ": a %s kernel must be in 48-bit addressable memory (the "
		       "arm64 boot protocol; its initial ID map reaches no "
		       "higher), only a 64K-page kernel may be above 2^48: put "
		       "bank 0 below 2^48", end - 1,
		       page_name(cfg->kernel_page_kb));
}

/*
 * The kernel's bank must be reachable by the boot protocol.  This is an
 * address-space limit, not a typo in the request, so it is reported as
 * ARMVM_E_IPA with the numbers a caller needs to move the bank lower.
 */
static int check_kernel_bank(const struct vm_config *cfg,
			     struct layout_error *err)
{
	const struct mem_bank *b = &cfg->banks[0];
	uint64_t end = b->base + b->size;

	if (layout_check_kernel_bank(cfg, err, NULL, 0, NULL, 0) < 0)
		return -1;
	if (cfg->arch == GUEST_AARCH32 && end > LAYOUT_AARCH32_LIMIT) {
		err_reset(err, ARMVM_E_IPA);
		err->highest_address = end - 1;
		err->needed_bits = layout_bits_for(end - 1);
		err->requested_bits = cfg->ipa_bits;
		return err_msg(err, "bank 0 holds the kernel and ends at 0x%"
			       PRIx64 ", but a 32-bit guest boots with 32-bit "
			       "physical addresses: bank 0 must end at or below "
			       "4 GiB", end - 1);
	}
	/* the other banks of a 32-bit guest: as far as LPAE reaches */
	for (unsigned i = 1; cfg->arch == GUEST_AARCH32 && i < cfg->nbanks; i++) {
		b = &cfg->banks[i];
		end = b->base + b->size;
		if (end <= LAYOUT_AARCH32_LPAE_LIMIT)
			continue;
		err_reset(err, ARMVM_E_IPA);
		err->highest_address = end - 1;
		err->needed_bits = layout_bits_for(end - 1);
		err->requested_bits = cfg->ipa_bits;
		return err_msg(err, "bank %u ends at 0x%" PRIx64 ", but a 32-bit "
			       "guest addresses at most 40 bits of physical "
			       "memory (LPAE): an aarch32 guest's banks must end "
			       "at or below 2^40 (1 TiB)", i, end - 1);
	}
	return 0;
}

int layout_place_banks(struct vm_config *cfg, struct layout_error *err)
{
	struct layout_error dummy;
	uint64_t top = LAYOUT_RAM_BASE;
	int r;

	if (!err)
		err = &dummy;
	memset(err, 0, sizeof(*err));
	if (cfg->arch != GUEST_AARCH64 && cfg->arch != GUEST_AARCH32) {
		err_reset(err, ARMVM_E_INVALID_PARAMS);
		return err_msg(err, "unknown guest architecture %d", (int)cfg->arch);
	}
	r = check_vcpus(cfg, err);
	if (r)
		return r;
	if (cfg->nbanks < 1 || cfg->nbanks > LAYOUT_MAX_BANKS) {
		err_reset(err, ARMVM_E_INVALID_PARAMS);
		return err_msg(err, "%u memory banks: 1 to %u are allowed",
			       cfg->nbanks, LAYOUT_MAX_BANKS);
	}
	for (unsigned i = 0; i < cfg->nbanks; i++) {
		const struct mem_bank *b = &cfg->banks[i];

		r = place_one(cfg, i, top, err);
		if (r)
			return r;
		if (b->base + b->size > top)
			top = b->base + b->size;
	}
	r = check_overlaps(cfg, err);
	if (r)
		return r;
	return check_kernel_bank(cfg, err);
}

/* ---- IPA ---- */

/* End (exclusive) of the device window: the highest device's last byte + 1 */
static uint64_t devices_end(void)
{
	static const uint64_t ends[] = {
		LAYOUT_GIC_DIST_BASE + LAYOUT_GIC_DIST_SIZE,
		LAYOUT_GIC_CPU_BASE + LAYOUT_GIC_CPU_SIZE,
		LAYOUT_GIC_REDIST_LIMIT,
		LAYOUT_UART_BASE + LAYOUT_UART_SIZE,
		LAYOUT_RTC_BASE + LAYOUT_RTC_SIZE,
		LAYOUT_GPIO_BASE + LAYOUT_GPIO_SIZE,
		LAYOUT_BOOTTIMER_BASE + LAYOUT_BOOTTIMER_SIZE,
		LAYOUT_VIRTIO_BASE + LAYOUT_VIRTIO_SLOTS * LAYOUT_VIRTIO_STRIDE,
	};
	uint64_t end = 0;

	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++)
		if (ends[i] > end)
			end = ends[i];
	return end;
}

uint64_t layout_highest_address(const struct vm_config *cfg)
{
	uint64_t highest = devices_end() - 1;

	for (unsigned i = 0; i < cfg->nbanks && i < LAYOUT_MAX_BANKS; i++) {
		const struct mem_bank *b = &cfg->banks[i];

		if (b->size && b->base + b->size - 1 > highest)
			highest = b->base + b->size - 1;
	}
	return highest;
}

int layout_bits_for(uint64_t highest)
{
	int bits = highest ? 64 - __builtin_clzll(highest) : 0;

	return bits < LAYOUT_MIN_IPA_BITS ? LAYOUT_MIN_IPA_BITS : bits;
}

static int ipa_fail(struct layout_error *err, int needed, int requested,
		    int limit, uint64_t highest)
{
	err_reset(err, ARMVM_E_IPA);
	err->needed_bits = needed;
	err->requested_bits = requested;
	err->host_limit_bits = limit;
	err->highest_address = highest;
	return -1;
}

int layout_choose_ipa(const struct vm_config *cfg,
		      const struct host_limits *host, struct ipa_plan *plan,
		      struct layout_error *err)
{
	struct layout_error dummy;
	uint64_t highest = layout_highest_address(cfg);
	int needed = layout_bits_for(highest);
	int req = cfg->ipa_bits;
	/* without the capability KVM_CREATE_VM takes type 0 only: 40 bits */
	int limit = host->ipa_cap ? host->ipa_limit_bits : LAYOUT_FIXED_IPA_BITS;
	const char *why_limit = host->ipa_cap ? "the host's KVM allows at most"
		: "KVM without KVM_CAP_ARM_VM_IPA_SIZE fixes the IPA size at";

	if (!err)
		err = &dummy;
	memset(err, 0, sizeof(*err));
	memset(plan, 0, sizeof(*plan));

	if (req != 0 && req < LAYOUT_MIN_IPA_BITS) {
		ipa_fail(err, needed, req, limit, highest);
		return err_msg(err, "requested IPA size of %d bits is below the "
			       "minimum of %d", req, LAYOUT_MIN_IPA_BITS);
	}
	if (req > limit) {
		ipa_fail(err, needed, req, limit, highest);
		return err_msg(err, "requested IPA size of %d bits: %s %d bits",
			       req, why_limit, limit);
	}
	if (needed > limit) {
		ipa_fail(err, needed, req, limit, highest);
		return err_msg(err, "the memory map reaches 0x%" PRIx64 " and "
			       "needs %d IPA bits: %s %d bits", highest, needed,
			       why_limit, limit);
	}
	if (req != 0 && req < needed) {
		ipa_fail(err, needed, req, limit, highest);
		return err_msg(err, "requested IPA size of %d bits cannot reach "
			       "0x%" PRIx64 ": the memory map needs %d bits",
			       req, highest, needed);
	}

	plan->needed_bits = needed;
	plan->highest_address = highest;
	if (!host->ipa_cap) {
		plan->bits = LAYOUT_FIXED_IPA_BITS;
		plan->vm_type = 0;
		if (req)
			snprintf(plan->reason, sizeof(plan->reason),
				 "requested %d bits; KVM without "
				 "KVM_CAP_ARM_VM_IPA_SIZE fixes 40", req);
		else
			snprintf(plan->reason, sizeof(plan->reason),
				 "KVM without KVM_CAP_ARM_VM_IPA_SIZE fixes 40 "
				 "(0x%" PRIx64 " needs %d)", highest, needed);
		return 0;
	}
	plan->bits = req ? req : needed;
	plan->vm_type = LAYOUT_VM_TYPE_IPA(plan->bits);
	if (req)
		snprintf(plan->reason, sizeof(plan->reason), "requested");
	else
		snprintf(plan->reason, sizeof(plan->reason),
			 "smallest size covering 0x%" PRIx64 " (minimum %d)",
			 highest, LAYOUT_MIN_IPA_BITS);
	return 0;
}

/* ---- payload ---- */

uint64_t layout_payload_region_size(enum guest_arch arch, uint64_t bank_size)
{
	uint64_t want = arch == GUEST_AARCH32 ? PAYLOAD_REGION_AARCH32
					      : PAYLOAD_REGION_AARCH64;

	return bank_size < want ? bank_size : want;
}

static int payload_fail(struct layout_error *err, const struct payload_plan *p,
			uint64_t kernel, const struct payload_input *in,
			uint64_t needed)
{
	err_reset(err, ARMVM_E_PAYLOAD);
	err->region_size = p->region_size;
	err->kernel_size = kernel;
	err->initrd_size = in->initrd_size;
	err->dtb_size = in->dtb_size;
	err->needed_size = needed;
	return -1;
}

int layout_place_payload(const struct vm_config *cfg,
			 const struct payload_input *in,
			 struct payload_plan *plan, struct layout_error *err)
{
	struct layout_error dummy;
	bool a32 = cfg->arch == GUEST_AARCH32;
	const char *arch = a32 ? "aarch32" : "aarch64";
	uint64_t kernel, region_end, initrd_floor, initrd_base, initrd_end;
	uint64_t needed;

	if (!err)
		err = &dummy;
	memset(err, 0, sizeof(*err));
	memset(plan, 0, sizeof(*plan));
	if (cfg->nbanks < 1 || !is_aligned(cfg->banks[0].base, SZ_2M)) {
		err_reset(err, ARMVM_E_INVALID_PARAMS);
		return err_msg(err, "no placed, 2 MiB aligned bank 0 for the payload");
	}

	plan->region_base = cfg->banks[0].base;
	plan->region_size = layout_payload_region_size(cfg->arch,
						       cfg->banks[0].size);
	region_end = plan->region_base + plan->region_size;
	/* reserve what the header asks for, and never less than the file */
	kernel = in->kernel_size > in->kernel_file_size ? in->kernel_size
							 : in->kernel_file_size;

	if (in->dtb_size > PAYLOAD_DTB_MAX) {
		payload_fail(err, plan, kernel, in, 0);
		return err_msg(err, "the device tree is %" PRIu64 " MiB; the "
			       "boot protocol allows at most 2 MiB",
			       mib_up(in->dtb_size));
	}

	/*
	 * arm64: the 2 MiB aligned base is the region base (the bank's
	 * start, so as close to DRAM's base as we can for kernels without
	 * flags bit 3), the Image goes text_offset above it and image_size
	 * bytes from there must be free.  aarch32: the zImage runs from
	 * RAM + 0x8000, passed in as text_offset as well.
	 */
	plan->kernel_load = sat_add(plan->region_base, in->text_offset);
	plan->kernel_entry = plan->kernel_load;
	plan->kernel_end = sat_add(plan->kernel_load, kernel);

	/*
	 * The DTB takes the region's last 2 MiB block: 8-byte aligned, no
	 * larger than 2 MiB and sharing its 2 MiB block with nothing else,
	 * as booting.rst asks.  Everything else must end below it.
	 */
	plan->dtb_base = region_end - SZ_2M;
	plan->dtb_size = in->dtb_size;

	/*
	 * The initrd follows the kernel's reserved end, 4 KiB aligned.  A
	 * zImage decompresses itself to RAM + 0x8000 and may relocate above
	 * that, so for aarch32 the initrd also stays above the 128 MiB mark
	 * the arm Booting document calls safe (half a smaller region).
	 */
	initrd_floor = plan->kernel_end;
	if (a32) {
		uint64_t safe = plan->region_size / 2;

		if (safe > PAYLOAD_AARCH32_INITRD_FLOOR)
			safe = PAYLOAD_AARCH32_INITRD_FLOOR;
		if (plan->region_base + safe > initrd_floor)
			initrd_floor = plan->region_base + safe;
	}
	if (!align_up(initrd_floor, SZ_4K, &initrd_base))
		initrd_base = UINT64_MAX;
	initrd_end = in->initrd_size ? sat_add(initrd_base, in->initrd_size)
				     : plan->kernel_end;

	/* everything up to the initrd's end, plus the DTB's 2 MiB block */
	needed = sat_add(initrd_end - plan->region_base, SZ_2M);
	if (plan->region_size < 2 * SZ_2M || initrd_end > plan->dtb_base) {
		char rs[32], ds[32], why[96] = "";

		payload_fail(err, plan, kernel, in, needed);
		fmt_size(plan->region_size, rs, sizeof(rs));
		fmt_size(in->dtb_size, ds, sizeof(ds));
		if (in->initrd_size && initrd_floor > plan->kernel_end)
			snprintf(why, sizeof(why), " (initrd at +%" PRIu64
				 " MiB, clear of the zImage decompressor)",
				 mib_up(initrd_floor - plan->region_base));
		return err_msg(err, "kernel (%" PRIu64 " MiB reserved), initrd "
			       "(%" PRIu64 " MiB) and device tree (%s, own 2 MiB "
			       "block) need %" PRIu64 " MiB%s; the %s payload "
			       "region at the start of bank 0 is %s",
			       mib_up(kernel), mib_up(in->initrd_size), ds,
			       mib_up(needed), why, arch, rs);
	}

	/* booting.rst: kernel and initrd inside one 32 GiB aligned window */
	if (!a32 && in->initrd_size &&
	    plan->kernel_load / LAYOUT_KERNEL_WINDOW !=
	    (initrd_end - 1) / LAYOUT_KERNEL_WINDOW) {
		payload_fail(err, plan, kernel, in, needed);
		return err_msg(err, "kernel at 0x%" PRIx64 " and initrd ending at "
			       "0x%" PRIx64 " straddle a 32 GiB boundary; the "
			       "arm64 boot protocol needs both in one 32 GiB "
			       "aligned window: move bank 0", plan->kernel_load,
			       initrd_end - 1);
	}

	if (in->initrd_size) {
		plan->initrd_base = initrd_base;
		plan->initrd_size = in->initrd_size;
	}
	return 0;
}
