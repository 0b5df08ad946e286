// SPDX-License-Identifier: MIT
/*
 * The planner: vm.create / vm.layout parameters through plan_build() on a
 * made-up host, and the plan or the error out as JSON.
 *
 * Input: the host (2 bytes: IPA limit and capability, GIC versions and
 * 32-bit EL1), then the parameters as JSON text.  A string that starts
 * with '@' and a letter names one of the files made at start-up, the rest
 * of the string kept ("@b,ro" is the disk image, read-only):
 *   @i arm64 Image   @z zImage   @g gzip'd Image   @d device tree
 *   @r initrd        @b disk image   @e empty file   @D a directory
 *   @n a path that does not exist
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include <libfdt.h>

#include "arm64/plan.h"
#include "libarmvm.h"
#include "fuzz.h"

struct file {
	char key;
	char path[PATH_MAX];
};

static struct file files[] = {
	{ 'i' }, { 'z' }, { 'g' }, { 'd' }, { 'r' }, { 'b' }, { 'e' }, { 'D' }, { 'n' },
};
#define NFILES (sizeof(files) / sizeof(files[0]))

static const char *file_path(char key)
{
	for (size_t i = 0; i < NFILES; i++)
		if (files[i].key == key)
			return files[i].path;
	return NULL;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

/* an arm64 Image: 64 KiB of file, 6 MiB to reserve, 4K pages, anywhere */
static void make_image(uint8_t *img, size_t len)
{
	memset(img, 0, len);
	put_le64(img + 8, 0);			/* text_offset */
	put_le64(img + 16, 6u << 20);		/* image_size */
	put_le64(img + 24, 1u << 1 | 1u << 3);	/* flags */
	put_le32(img + 56, ARM64_IMAGE_MAGIC);
}

static void make_files(void)
{
	static uint8_t img[65536], gz[4096];
	uint8_t zimg[4096] = { 0 };
	char dtb[1024];
	z_stream zs = { 0 };
	int r = 0;

	for (size_t i = 0; i < NFILES; i++) {
		char name[8] = { 'f', '-', files[i].key };

		fuzz_path(files[i].path, name);
	}
	make_image(img, sizeof(img));
	fuzz_write_file(file_path('i'), img, sizeof(img));

	/* the gzip of the same Image */
	if (deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		fuzz_fail("deflateInit2");
	zs.next_in = img;
	zs.avail_in = sizeof(img);
	zs.next_out = gz;
	zs.avail_out = sizeof(gz);
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
		fuzz_fail("deflate");
	fuzz_write_file(file_path('g'), gz, sizeof(gz) - zs.avail_out);
	deflateEnd(&zs);

	/* a zImage: magic, start 0, end 4096, little-endian */
	put_le32(zimg + 0x24, ZIMAGE_MAGIC);
	put_le32(zimg + 0x28, 0);
	put_le32(zimg + 0x2c, sizeof(zimg));
	put_le32(zimg + 0x30, ZIMAGE_ENDIAN_LE);
	fuzz_write_file(file_path('z'), zimg, sizeof(zimg));

	/* a device tree with a memory node and an empty /chosen */
	r |= fdt_create(dtb, sizeof(dtb));
	r |= fdt_finish_reservemap(dtb);
	r |= fdt_begin_node(dtb, "");
	r |= fdt_property_u32(dtb, "#address-cells", 2);
	r |= fdt_property_u32(dtb, "#size-cells", 2);
	r |= fdt_begin_node(dtb, "memory@80000000");
	r |= fdt_property_string(dtb, "device_type", "memory");
	r |= fdt_property_u64(dtb, "reg", 0x80000000ULL);
	r |= fdt_end_node(dtb);
	r |= fdt_begin_node(dtb, "chosen");
	r |= fdt_end_node(dtb);
	r |= fdt_end_node(dtb);
	r |= fdt_finish(dtb);
	if (r)
		fuzz_fail("building the device tree");
	fuzz_write_file(file_path('d'), dtb, fdt_totalsize(dtb));

	fuzz_write_file(file_path('r'), "initrd", 6);
	fuzz_write_file(file_path('b'), img, 8192);
	fuzz_write_file(file_path('e'), "", 0);
	if (mkdir(file_path('D'), 0755) < 0)
		fuzz_fail("mkdir %s", file_path('D'));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	make_files();
	return 0;
}

/* "@x..." strings, anywhere in the parameters, become file names */
static void resolve(json_t *v)
{
	const char *s, *path;
	size_t i;
	json_t *e;
	const char *key;
	void *tmp;

	if (json_is_object(v)) {
		json_object_foreach_safe(v, tmp, key, e)
			resolve(e);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, e)
			resolve(e);
	} else if (json_is_string(v)) {
		char buf[PATH_MAX + 256];

		s = json_string_value(v);
		if (s[0] != '@' || !(path = file_path(s[1])))
			return;
		if (snprintf(buf, sizeof(buf), "%s%s", path, s + 2) < (int)sizeof(buf))
			json_string_set(v, buf);
	}
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return alen && blen && a < b + blen && b < a + alen;
}

/* What vm.create promises the worker of a plan it accepted. */
static void check_plan(const struct vm_plan *p, const struct plan_host *host)
{
	const struct vm_config *cfg = &p->cfg;
	const struct payload_plan *pp = &p->payload;
	const struct mem_bank *b0 = &cfg->banks[0];

	if (cfg->nbanks < 1 || cfg->nbanks > LAYOUT_MAX_BANKS)
		fuzz_fail("%u banks", cfg->nbanks);
	if (cfg->vcpus < 1 || cfg->vcpus > (p->gic == GIC_V2 ? LAYOUT_MAX_VCPUS_GICV2
					    : LAYOUT_MAX_VCPUS_GICV3))
		fuzz_fail("%u vCPUs on GICv%d", cfg->vcpus, (int)p->gic);
	if ((p->gic == GIC_V3 && !host->gic_v3) || (p->gic == GIC_V2 && !host->gic_v2))
		fuzz_fail("GICv%d that the host does not offer", (int)p->gic);
	if (cfg->arch == GUEST_AARCH32 && !host->el1_32bit)
		fuzz_fail("an aarch32 guest on a host without 32-bit EL1");
	for (unsigned i = 0; i < cfg->nbanks; i++) {
		const struct mem_bank *b = &cfg->banks[i];

		if (!b->size || b->base % SZ_2M || b->size % SZ_2M ||
		    b->base < LAYOUT_DEVICES_END || b->base + b->size < b->base)
			fuzz_fail("bank %u: 0x%llx+0x%llx", i, (unsigned long long)b->base,
				  (unsigned long long)b->size);
		if (b->base + b->size - 1 > p->ipa.highest_address)
			fuzz_fail("bank %u ends above the highest address", i);
		for (unsigned j = 0; j < i; j++)
			if (overlaps(b->base, b->size, cfg->banks[j].base, cfg->banks[j].size))
				fuzz_fail("banks %u and %u overlap", j, i);
	}
	if (p->ipa.bits < p->ipa.needed_bits || p->ipa.bits < LAYOUT_MIN_IPA_BITS ||
	    (p->ipa.bits < 64 && p->ipa.highest_address >> p->ipa.bits))
		fuzz_fail("IPA %d bits for 0x%llx (needed %d)", p->ipa.bits,
			  (unsigned long long)p->ipa.highest_address, p->ipa.needed_bits);
	if (host->limits.ipa_cap && p->ipa.bits > host->limits.ipa_limit_bits)
		fuzz_fail("IPA %d bits above the host's %d", p->ipa.bits,
			  host->limits.ipa_limit_bits);
	/* the payload lies in its region, inside bank 0, without overlaps */
	if (pp->region_base < b0->base || pp->region_size > b0->size ||
	    pp->region_base - b0->base > b0->size - pp->region_size)
		fuzz_fail("payload region outside bank 0");
#define IN_REGION(base, len) \
	((base) >= pp->region_base && (len) <= pp->region_size && \
	 (base) - pp->region_base <= pp->region_size - (len))
	if (!IN_REGION(pp->kernel_load, pp->kernel_end - pp->kernel_load) ||
	    pp->kernel_end < pp->kernel_load ||
	    pp->kernel_end - pp->kernel_load < p->in.kernel_file_size)
		fuzz_fail("kernel 0x%llx-0x%llx outside the region",
			  (unsigned long long)pp->kernel_load,
			  (unsigned long long)pp->kernel_end);
	if (pp->initrd_size && !IN_REGION(pp->initrd_base, pp->initrd_size))
		fuzz_fail("initrd outside the region");
	if (!IN_REGION(pp->dtb_base, pp->dtb_size) || pp->dtb_size < p->in.dtb_size ||
	    pp->dtb_base % 8)
		fuzz_fail("DTB 0x%llx+0x%llx outside the region or misaligned",
			  (unsigned long long)pp->dtb_base, (unsigned long long)pp->dtb_size);
#undef IN_REGION
	if (overlaps(pp->kernel_load, pp->kernel_end - pp->kernel_load,
		     pp->initrd_base, pp->initrd_size) ||
	    overlaps(pp->kernel_load, pp->kernel_end - pp->kernel_load,
		     pp->dtb_base, pp->dtb_size) ||
	    overlaps(pp->initrd_base, pp->initrd_size, pp->dtb_base, pp->dtb_size))
		fuzz_fail("kernel, initrd and DTB overlap");
	if (p->nvirtio != p->ndisks + p->nnets + p->hvc + p->rng ||
	    p->nvirtio > LAYOUT_VIRTIO_SLOTS)
		fuzz_fail("%u virtio slots", p->nvirtio);
	if (strlen(p->cmdline) >= sizeof(p->cmdline))
		fuzz_fail("cmdline");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint8_t h0 = fuzz_u8(&in), h1 = fuzz_u8(&in);
	struct plan_host host = {
		.limits = {
			.ipa_limit_bits = h0 & 0x80 ? 32 + (h0 & 0x7f) % 21
						    : LAYOUT_FIXED_IPA_BITS,
			.ipa_cap = h0 & 0x80,
		},
		.gic_v2 = h1 & 1,
		.gic_v3 = h1 & 2,
		.el1_32bit = h1 & 4,
	};
	static struct vm_plan plan;
	struct layout_error err;
	json_t *spec, *j;

	spec = json_loadb((const char *)in.p, in.len,
			  JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
	if (!spec)
		return 0;
	resolve(spec);
	if (plan_build(spec, &host, NULL, &plan, &err) == 0) {
		check_plan(&plan, &host);
		j = plan_to_json(&plan);
		if (!j)
			fuzz_fail("plan_to_json of an accepted plan");
	} else {
		if (!err.code || !err.message[0] ||
		    !memchr(err.message, '\0', sizeof(err.message)))
			fuzz_fail("a refusal without code or message");
		j = plan_error_data(&err);
	}
	json_decref(j);
	json_decref(spec);
	return 0;
}
