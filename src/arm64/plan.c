// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arm64/fdt.h"
#include "arm64/hostinfo.h"
#include "arm64/plan.h"
#include "libarmvm.h"

bool plan_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > PLAN_NAME_MAX || name[0] == '.' || name[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

static int plan_fail(struct layout_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int plan_fail(struct layout_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	memset(err, 0, sizeof(*err));
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -1;
}

static int parse_banks(json_t *memory, struct vm_config *cfg,
		       struct layout_error *err)
{
	json_t *list = memory;
	size_t i;
	json_t *v;
	char msg[200];

	if (!memory || json_is_string(memory)) {
		list = json_array();
		json_array_append_new(list, json_string(memory
			? json_string_value(memory) : PLAN_DEFAULT_MEMORY));
	} else {
		json_incref(list);
	}
	if (!json_is_array(list) || json_array_size(list) == 0 ||
	    json_array_size(list) > LAYOUT_MAX_BANKS) {
		json_decref(list);
		return plan_fail(err, ARMVM_E_INVALID_PARAMS,
			"memory must be a size (\"1G\", \"256M@0x800000000000\") "
			"or a list of 1 to %d of them", LAYOUT_MAX_BANKS);
	}
	cfg->nbanks = 0;
	json_array_foreach(list, i, v) {
		if (!json_is_string(v) ||
		    layout_parse_bank(json_string_value(v), &cfg->banks[i],
				      msg, sizeof(msg)) < 0) {
			/* list may hold the only reference to v: no v below */
			if (!json_is_string(v))
				snprintf(msg, sizeof(msg), "not a string");
			json_decref(list);
			return plan_fail(err, ARMVM_E_INVALID_PARAMS,
					 "memory bank %zu: %s", i, msg);
		}
		cfg->nbanks++;
	}
	json_decref(list);
	return 0;
}

static int resolve_gic(const char *want, const struct plan_host *host,
		       struct vm_plan *plan, struct layout_error *err)
{
	if (!want || !strcmp(want, "auto")) {
		if (host->gic_v3) {
			plan->gic = GIC_V3;
			plan->gic_reason = "auto: the host's KVM offers GICv3";
		} else if (host->gic_v2) {
			plan->gic = GIC_V2;
			plan->gic_reason = "auto: the host's KVM offers only GICv2";
		} else {
			return plan_fail(err, ARMVM_E_NO_KVM,
					 "the host's KVM offers no GIC");
		}
		return 0;
	}
	if (!strcmp(want, "v3") || !strcmp(want, "3")) {
		plan->gic = GIC_V3;
		if (!host->gic_v3)
			return plan_fail(err, ARMVM_E_INVALID_PARAMS,
					 "gic v3 requested: the host's KVM cannot emulate GICv3");
	} else if (!strcmp(want, "v2") || !strcmp(want, "2")) {
		plan->gic = GIC_V2;
		if (!host->gic_v2)
			return plan_fail(err, ARMVM_E_INVALID_PARAMS,
					 "gic v2 requested: the host's KVM cannot emulate GICv2 "
					 "(a GICv3 host needs GICv2 compatibility)");
	} else {
		return plan_fail(err, ARMVM_E_INVALID_PARAMS,
				 "gic must be \"auto\", \"v2\" or \"v3\"");
	}
	plan->gic_reason = "requested";
	return 0;
}

static int build(json_t *spec, const struct plan_host *host,
		 struct vm_plan *plan, struct layout_error *err);

int plan_build(json_t *spec, const struct plan_host *host,
	       const struct plan_files *files, struct vm_plan *plan,
	       struct layout_error *err)
{
	struct plan_files given;
	int r;

	if (files)
		given = *files;
	else
		plan_files_init(&given);
	memset(plan, 0, sizeof(*plan));
	plan->files = given;
	plan->open_paths = !files;
	r = build(spec, host, plan, err);
	if (!files) {
		/* what the build opened goes with it */
		plan_files_close(&plan->files);
		plan->open_paths = false;
	}
	return r;
}

static int build(json_t *spec, const struct plan_host *host,
		 struct vm_plan *plan, struct layout_error *err)
{
	const char *arch = json_string_value(json_object_get(spec, "arch"));
	json_t *vcpus = json_object_get(spec, "vcpus");
	json_t *ipa = json_object_get(spec, "ipa");
	const char *cmdline = json_string_value(json_object_get(spec, "cmdline"));
	char msg[256], why[128];
	struct stat st;
	int idx, fd;

	memset(err, 0, sizeof(*err));
	snprintf(plan->name, sizeof(plan->name), "%s",
		 json_string_value(json_object_get(spec, "name")) ?: "");

	if (!arch || !strcmp(arch, "aarch64")) {
		plan->cfg.arch = GUEST_AARCH64;
		plan->hide_mops = host->hide_mops;
	} else if (!strcmp(arch, "aarch32")) {
		plan->cfg.arch = GUEST_AARCH32;
		if (!host->el1_32bit)
			return plan_fail(err, ARMVM_E_INVALID_PARAMS,
				"aarch32 guest: this host's KVM cannot run 32-bit EL1 "
				"(KVM_CAP_ARM_EL1_32BIT is absent)");
	} else {
		return plan_fail(err, ARMVM_E_INVALID_PARAMS,
				 "arch must be \"aarch64\" or \"aarch32\"");
	}

	plan->cfg.vcpus = vcpus ? (unsigned)json_integer_value(vcpus) : 1;
	if (vcpus && (json_integer_value(vcpus) < 1 || json_integer_value(vcpus) > 512))
		return plan_fail(err, ARMVM_E_INVALID_PARAMS,
				 "vcpus must be between 1 and %u",
				 (unsigned)LAYOUT_MAX_VCPUS_GICV3);
	if (ipa) {
		json_int_t bits = json_integer_value(ipa);

		/* out-of-range requests reach layout_choose_ipa, which says
		 * why with the structured error */
		plan->cfg.ipa_bits = bits < 1 ? 1 : bits > 1000 ? 1000 : (int)bits;
	}

	if (resolve_gic(json_string_value(json_object_get(spec, "gic")), host,
			plan, err) < 0)
		return -1;
	plan->cfg.gic = plan->gic;
	if (plan->gic == GIC_V2 && plan->cfg.vcpus > LAYOUT_MAX_VCPUS_GICV2)
		return plan_fail(err, ARMVM_E_INVALID_PARAMS,
				 "GICv2 handles at most %d vCPUs", LAYOUT_MAX_VCPUS_GICV2);
	if (plan->cfg.vcpus > LAYOUT_MAX_VCPUS_GICV3)
		return plan_fail(err, ARMVM_E_INVALID_PARAMS,
				 "at most %u vCPUs fit the GICv3 redistributor window",
				 (unsigned)LAYOUT_MAX_VCPUS_GICV3);

	if (parse_banks(json_object_get(spec, "memory"), &plan->cfg, err) < 0)
		return -1;
	plan->cfg.kernel_page_kb = LAYOUT_PAGE_UNREAD;	/* until its header is read */
	if (layout_place_banks(&plan->cfg, err) < 0) {
		if (err->code == ARMVM_E_IPA)
			err->host_limit_bits = host->limits.ipa_limit_bits;
		return -1;
	}
	if (layout_choose_ipa(&plan->cfg, &host->limits, &plan->ipa, err) < 0)
		return -1;

	if (plan_file_param(json_object_get(spec, "kernel"), plan->kernel,
			    sizeof(plan->kernel), &idx, why, sizeof(why)) < 0)
		return plan_fail(err, ARMVM_E_INVALID_PARAMS, "kernel: %s", why);
	if (plan_file_param(json_object_get(spec, "initrd"), plan->initrd,
			    sizeof(plan->initrd), &idx, why, sizeof(why)) < 0)
		return plan_fail(err, ARMVM_E_INVALID_PARAMS, "initrd: %s", why);
	if (plan_file_param(json_object_get(spec, "dtb"), plan->dtb,
			    sizeof(plan->dtb), &idx, why, sizeof(why)) < 0)
		return plan_fail(err, ARMVM_E_INVALID_PARAMS, "dtb: %s", why);
	if (!plan->kernel[0])
		return plan_fail(err, ARMVM_E_INVALID_PARAMS, "a kernel is required");
	if (cmdline && strlen(cmdline) >= sizeof(plan->cmdline))
		return plan_fail(err, ARMVM_E_INVALID_PARAMS,
				 "cmdline is longer than %d bytes", PLAN_CMDLINE_MAX - 1);
	snprintf(plan->cmdline, sizeof(plan->cmdline), "%s",
		 cmdline ? cmdline : PLAN_DEFAULT_CMDLINE);
	if (plan_virtio(spec, plan, err) < 0)
		return -1;

	/* the images: headers and sizes only, nothing is loaded yet */
	fd = plan_fd(plan, &plan->files.kernel, plan->kernel, O_RDONLY, err, "kernel");
	if (fd < 0)
		return -1;
	if (image_load_kernel_fd(fd, plan->kernel, plan->cfg.arch == GUEST_AARCH32,
				 &plan->kimg, NULL, msg, sizeof(msg)) < 0)
		return plan_fail(err, ARMVM_E_IMAGE, "kernel: %s", msg);
	if (plan->cfg.arch == GUEST_AARCH64) {
		unsigned g = hostinfo_granule_bit(plan->kimg.page_size_kb);

		if (host->granules && g && !(host->granules & g))
			return plan_fail(err, ARMVM_E_IMAGE, "kernel %s: a %uK-page kernel, "
				"but this host's CPU offers guests no %uK translation granule "
				"(ID_AA64MMFR0_EL1.TGran%u): it could not start", plan->kernel,
				plan->kimg.page_size_kb, plan->kimg.page_size_kb,
				plan->kimg.page_size_kb);
		plan->cfg.kernel_page_kb = plan->kimg.page_size_kb;
		if (layout_check_kernel_bank(&plan->cfg, err, plan->kernel_note,
					     sizeof(plan->kernel_note), plan->warning,
					     sizeof(plan->warning)) < 0) {
			err->host_limit_bits = host->limits.ipa_limit_bits;
			return -1;
		}
	}
	plan->in.kernel_size = plan->kimg.image_size;
	plan->in.kernel_file_size = plan->kimg.file_size;
	plan->in.text_offset = plan->kimg.text_offset;
	if (plan->initrd[0]) {
		fd = plan_fd(plan, &plan->files.initrd, plan->initrd, O_RDONLY, err, "initrd");
		if (fd < 0)
			return -1;
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
			return plan_fail(err, ARMVM_E_IMAGE, "initrd %s: %s",
					 plan->initrd, fstat(fd, &st) < 0
					 ? strerror(errno) : "not a regular file");
		plan->in.initrd_size = (uint64_t)st.st_size;
	}
	if (plan->dtb[0]) {
		void *dtb;
		size_t len;

		fd = plan_fd(plan, &plan->files.dtb, plan->dtb, O_RDONLY, err, "dtb");
		if (fd < 0)
			return -1;
		if (image_read_fd(fd, plan->dtb, PAYLOAD_DTB_MAX, &dtb, &len,
				  msg, sizeof(msg)) < 0)
			return plan_fail(err, ARMVM_E_IMAGE, "dtb %s: %s",
					 plan->dtb, msg);
		int r = image_check_dtb(dtb, len, msg, sizeof(msg));
		free(dtb);
		if (r < 0)
			return plan_fail(err, ARMVM_E_IMAGE, "dtb %s: %s",
					 plan->dtb, msg);
		/* room for the /chosen properties armvmd adds */
		plan->in.dtb_size = len + 4096;
	} else {
		plan->in.dtb_size = FDT_MAX_SIZE;
	}
	return layout_place_payload(&plan->cfg, &plan->in, &plan->payload, err);
}

uint64_t plan_guest_memory(const struct vm_plan *plan)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < plan->cfg.nbanks; i++)
		sum += plan->cfg.banks[i].size;
	return sum;
}

static json_t *hex(uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)v);
	return json_string(buf);
}

static json_t *range(const char *name, uint64_t base, uint64_t size)
{
	return json_pack("{s:s, s:o, s:I, s:o}", "name", name, "base", hex(base),
			 "size", (json_int_t)size, "end", hex(base + size - 1));
}

json_t *plan_to_json(const struct vm_plan *p)
{
	const struct payload_plan *pp = &p->payload;
	json_t *banks = json_array(), *devices = json_array();

	for (unsigned i = 0; i < p->cfg.nbanks; i++) {
		json_t *b = range(i == 0 ? "ram0 (kernel)" : "ram", p->cfg.banks[i].base,
				  p->cfg.banks[i].size);
		json_object_set_new(b, "placed", json_string(
			p->cfg.banks[i].base_given ? "requested" : "auto"));
		json_array_append_new(banks, b);
	}
	json_array_append_new(devices, range("gic-distributor",
		LAYOUT_GIC_DIST_BASE, LAYOUT_GIC_DIST_SIZE));
	if (p->gic == GIC_V3)
		json_array_append_new(devices, range("gic-redistributors",
			LAYOUT_GIC_REDIST_BASE, p->cfg.vcpus * LAYOUT_GIC_REDIST_STRIDE));
	else
		json_array_append_new(devices, range("gic-cpu-interface",
			LAYOUT_GIC_CPU_BASE, LAYOUT_GIC_CPU_SIZE));
	json_array_append_new(devices, range("uart-8250", LAYOUT_UART_BASE, LAYOUT_UART_SIZE));
	json_array_append_new(devices, range("rtc-pl031", LAYOUT_RTC_BASE, LAYOUT_RTC_SIZE));
	for (unsigned i = 0; i < p->nvirtio; i++)
		json_array_append_new(devices, plan_virtio_json(p, i));

	json_t *payload = json_pack("{s:s, s:o, s:I, s:o}",
		"arch", p->cfg.arch == GUEST_AARCH32 ? "aarch32" : "aarch64",
		"region_base", hex(pp->region_base),
		"region_size", (json_int_t)pp->region_size,
		"region_end", hex(pp->region_base + pp->region_size - 1));
	json_object_set_new(payload, "kernel", json_pack(
		"{s:s, s:o, s:o, s:I, s:I, s:o, s:b, s:s}",
		"path", p->kernel, "load", hex(pp->kernel_load),
		"entry", hex(pp->kernel_entry),
		"file_size", (json_int_t)p->kimg.file_size,
		"reserved_size", (json_int_t)(pp->kernel_end - pp->kernel_load),
		"text_offset", hex(p->kimg.text_offset),
		"compressed", p->kimg.compressed,
		"format", p->kimg.kind == IMAGE_ZIMAGE ? "zImage" : "arm64 Image"));
	if (p->kimg.kind != IMAGE_ZIMAGE) {
		json_t *k = json_object_get(payload, "kernel");
		char ps[16] = "unspecified";

		if (p->kimg.page_size_kb)
			snprintf(ps, sizeof(ps), "%uK", p->kimg.page_size_kb);
		json_object_set_new(k, "page_size", json_string(ps));
		if (p->kernel_note[0])
			json_object_set_new(k, "placement", json_string(p->kernel_note));
	}
	if (pp->initrd_size)
		json_object_set_new(payload, "initrd", json_pack("{s:s, s:o, s:I, s:o}",
			"path", p->initrd, "base", hex(pp->initrd_base),
			"size", (json_int_t)pp->initrd_size,
			"end", hex(pp->initrd_base + pp->initrd_size - 1)));
	json_object_set_new(payload, "dtb", json_pack("{s:s, s:o, s:I}",
		"source", p->dtb[0] ? p->dtb : "generated",
		"base", hex(pp->dtb_base), "reserved_size", (json_int_t)pp->dtb_size));

	json_t *warnings = json_array();

	if (p->warning[0])
		json_array_append_new(warnings, json_string(p->warning));
	json_t *hidden = json_array();

	if (p->hide_mops)
		json_array_append_new(hidden, json_pack("{s:s, s:s}", "feature", "FEAT_MOPS",
			"why", "this host's KVM advertises it (ID_AA64ISAR2_EL1.MOPS) but its "
			"guests cannot execute it: a probe VM's SETP was UNDEFINED (host.info mops)"));
	json_t *o = json_pack("{s:s, s:s, s:i, s:s, s:o, s:o, s:o, s:{s:i, s:i, s:o, s:s}, s:o, s:o}",
		"name", p->name,
		"arch", p->cfg.arch == GUEST_AARCH32 ? "aarch32" : "aarch64",
		"vcpus", (int)p->cfg.vcpus,
		"gic", p->gic == GIC_V3 ? "v3" : "v2",
		"gic_reason", json_string(p->gic_reason),
		"banks", banks, "devices", devices,
		"ipa", "bits", p->ipa.bits, "needed_bits", p->ipa.needed_bits,
		"highest_address", hex(p->ipa.highest_address),
		"reason", p->ipa.reason,
		"payload", payload, "warnings", warnings);

	if (o)
		json_object_set_new(o, "cpu", json_pack("{s:o}", "hidden_features", hidden));
	else
		json_decref(hidden);
	return o;
}

json_t *plan_error_data(const struct layout_error *e)
{
	json_t *d = json_object();

	if (e->code == ARMVM_E_IPA || e->needed_bits || e->host_limit_bits) {
		json_object_set_new(d, "needed_bits", json_integer(e->needed_bits));
		json_object_set_new(d, "requested_bits", e->requested_bits
			? json_integer(e->requested_bits) : json_null());
		json_object_set_new(d, "host_limit_bits", json_integer(e->host_limit_bits));
		json_object_set_new(d, "highest_address", hex(e->highest_address));
	}
	if (e->code == ARMVM_E_PAYLOAD || e->region_size) {
		json_object_set_new(d, "region_size", json_integer((json_int_t)e->region_size));
		json_object_set_new(d, "kernel_size", json_integer((json_int_t)e->kernel_size));
		json_object_set_new(d, "initrd_size", json_integer((json_int_t)e->initrd_size));
		json_object_set_new(d, "dtb_size", json_integer((json_int_t)e->dtb_size));
		json_object_set_new(d, "needed_size", json_integer((json_int_t)e->needed_size));
	}
	return d;
}
