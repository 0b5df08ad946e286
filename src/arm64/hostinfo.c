// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#if defined(__aarch64__)
#include <linux/kvm.h>
#endif

#include "arm64/hostinfo.h"
#include "util/log.h"

int kvm_create_vm(int kvm_fd, unsigned long type)
{
#if defined(__aarch64__)
	int fd;

	do
		fd = ioctl(kvm_fd, KVM_CREATE_VM, type);
	while (fd < 0 && errno == EINTR);
	return fd;
#else
	(void)kvm_fd;
	(void)type;
	errno = ENOSYS;		/* arm64 KVM only */
	return -1;
#endif
}

int hostinfo_parange_bits(unsigned long long mmfr0)
{
	static const int bits[] = { 32, 36, 40, 42, 44, 48, 52 };
	unsigned field = mmfr0 & 0xf;

	return field < sizeof(bits) / sizeof(bits[0]) ? bits[field] : 0;
}

unsigned hostinfo_granules(unsigned long long mmfr0, bool *lpa2)
{
	unsigned t4 = (mmfr0 >> 28) & 0xf, t64 = (mmfr0 >> 24) & 0xf;
	unsigned t16 = (mmfr0 >> 20) & 0xf, g = 0;

	/* signed fields (4K, 64K): 0xf (-1) is "not implemented" */
	if (t4 != 0xf)
		g |= HOSTINFO_GRANULE_4K;
	if (t64 != 0xf)
		g |= HOSTINFO_GRANULE_64K;
	if (t16 != 0)
		g |= HOSTINFO_GRANULE_16K;
	if (lpa2)
		*lpa2 = (t4 != 0xf && t4 >= 1) || t16 >= 2;
	return g;
}

/* A64 encodings of the few instructions the probe program uses */
#define A64_NOP			0xd503201fu
#define A64_MOVZ_X(rd, imm16, hw) (0xd2800000u | (unsigned)(hw) << 21 | \
				   (unsigned)(imm16) << 5 | (unsigned)(rd))
#define A64_ADR(rd, off)	(0x10000000u | ((unsigned)(off) & 3) << 29 | \
				 (((unsigned)(off) >> 2) & 0x7ffff) << 5 | (unsigned)(rd))
#define A64_STR_X(rt, rn)	(0xf9000000u | (unsigned)(rn) << 5 | (unsigned)(rt))
#define A64_B(from, to)		(0x14000000u | ((unsigned)((int)(to) - (int)(from)) >> 2 & 0x3ffffff))
/* SETP/SETM/SETE [x0]!, x2!, x1 */
#define A64_SETP		0x19c10440u
#define A64_SETM		0x19c14440u
#define A64_SETE		0x19c18440u

void hostinfo_mops_program(unsigned *w)
{
	const unsigned report = 7 * 4;		/* byte offset of the report */
	unsigned i = 0;

	for (unsigned k = 0; k < HOSTINFO_PROBE_WORDS; k++)
		w[k] = A64_NOP;
	w[i++] = A64_ADR(0, 0x1000);		/* x0: a buffer past the code (0 bytes set) */
	w[i++] = A64_MOVZ_X(1, 0, 0);		/* x1: the value */
	w[i++] = A64_MOVZ_X(2, 0, 0);		/* x2: the size, 0 */
	w[i++] = A64_SETP;
	w[i++] = A64_SETM;
	w[i++] = A64_SETE;
	w[i++] = A64_MOVZ_X(3, 1, 0);		/* x3 = 1: they ran */
	/* report: x4 = the MMIO address; str x3, [x4]; b . */
	w[i++] = A64_MOVZ_X(4, HOSTINFO_PROBE_MMIO >> 16, 1);
	w[i++] = A64_STR_X(3, 4);
	w[i] = A64_B(i * 4, i * 4);
	for (unsigned v = 0; v < 16; v++) {
		unsigned at = HOSTINFO_PROBE_VBAR + v * 0x80;

		w[at / 4] = A64_MOVZ_X(3, 0x10 + v, 0);
		w[at / 4 + 1] = A64_B(at + 4, report);
	}
}

enum hostinfo_probe_verdict hostinfo_mops_verdict(bool mmio, unsigned long long addr,
						   unsigned long long data,
						   unsigned long long esr,
						   char *why, size_t whylen)
{
	unsigned ec = (unsigned)(esr >> 26) & 0x3f;

	if (!mmio || addr != HOSTINFO_PROBE_MMIO) {
		snprintf(why, whylen, "the probe VM did not report (%s)",
			 mmio ? "MMIO at another address" : "no MMIO exit");
		return HOSTINFO_PROBE_INCONCLUSIVE;
	}
	if (data == 1) {
		snprintf(why, whylen, "SETP/SETM/SETE ran at guest EL1");
		return HOSTINFO_PROBE_WORKS;
	}
	if (data == 0x14 && ec == 0) {
		snprintf(why, whylen, "SETP at guest EL1 took an UNDEFINED-instruction "
			 "exception (ESR_EL1 0x%llx) although ID_AA64ISAR2_EL1.MOPS "
			 "advertises it", esr);
		return HOSTINFO_PROBE_UNDEFINED;
	}
	if (data >= 0x10 && data < 0x20)
		snprintf(why, whylen, "the probe took exception vector %llu, ESR_EL1 0x%llx",
			 data - 0x10, esr);
	else
		snprintf(why, whylen, "the probe reported 0x%llx", data);
	return HOSTINFO_PROBE_INCONCLUSIVE;
}

const char *hostinfo_verdict_name(enum hostinfo_probe_verdict v)
{
	switch (v) {
	case HOSTINFO_PROBE_WORKS: return "works";
	case HOSTINFO_PROBE_UNDEFINED: return "undefined";
	case HOSTINFO_PROBE_INCONCLUSIVE: return "inconclusive";
	default: return "not run";
	}
}

const char *hostinfo_mode_from_log(const char *log)
{
	/*
	 * the three lines arch/arm64/kvm/arm.c prints once KVM is up;
	 * protected mode says "Protected nVHE mode" or, since 6.7 on a VHE
	 * CPU, "Protected hVHE mode"
	 */
	if (strstr(log, "Protected nVHE mode initialized successfully") ||
	    strstr(log, "Protected hVHE mode initialized successfully"))
		return "protected";
	if (strstr(log, "] VHE mode initialized successfully") ||
	    strstr(log, ": VHE mode initialized successfully") ||
	    !strncmp(log, "VHE mode initialized successfully", 33))
		return "vhe";
	if (strstr(log, "Hyp mode initialized successfully"))
		return "nvhe";
	return NULL;
}

static void probe_kvm_mode(struct host_info *hi)
{
	int size = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	char *buf;
	const char *mode = NULL;

	hi->kvm_mode = "unknown";
	hi->kvm_mode_source = "none";
	if (size > 0 && (buf = malloc((size_t)size + 1))) {
		int n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, size);

		if (n > 0) {
			buf[n] = '\0';
			mode = hostinfo_mode_from_log(buf);
		}
		free(buf);
		if (mode) {
			hi->kvm_mode = mode;
			hi->kvm_mode_source = "kernel log";
			return;
		}
	}
	/* the log may have wrapped: the command line tells what was asked */
	FILE *f = fopen("/proc/cmdline", "r");
	char line[4096];

	if (!f)
		return;
	if (fgets(line, sizeof(line), f)) {
		if (strstr(line, "kvm-arm.mode=protected"))
			mode = "protected";
		else if (strstr(line, "kvm-arm.mode=nvhe"))
			mode = "nvhe";
	}
	fclose(f);
	if (mode) {
		hi->kvm_mode = mode;
		hi->kvm_mode_source = "kernel command line";
	}
}

#if defined(__aarch64__)

static int kvm_cap(int kvm, long cap)
{
	int r = ioctl(kvm, KVM_CHECK_EXTENSION, cap);

	return r < 0 ? 0 : r;
}

/*
 * GIC versions and PARange need a throw-away VM: KVM_CREATE_DEVICE with
 * KVM_CREATE_DEVICE_TEST creates nothing, and a vCPU's ID_AA64MMFR0_EL1
 * holds the PARange KVM shows guests (EL0 reads of it are masked).
 */
#define SYS_ID_AA64ISAR2_EL1	ARM64_SYS_REG(3, 0, 0, 6, 2)
#define SYS_VBAR_EL1		ARM64_SYS_REG(3, 0, 12, 0, 0)
#define SYS_ESR_EL1		ARM64_SYS_REG(3, 0, 5, 2, 0)
#define PROBE_RAM_IPA		0x100000ull
#define PC_REG	(KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | \
		 KVM_REG_ARM_CORE_REG(regs.pc))

static int one_reg(int vcpu, unsigned long req, unsigned long long id, unsigned long long *v)
{
	struct kvm_one_reg reg = { .id = id, .addr = (unsigned long)v };

	return ioctl(vcpu, req, &reg);
}

/*
 * FEAT_MOPS: when the vCPU's ID_AA64ISAR2_EL1.MOPS (bits 19:16) says the
 * guest has it, run hostinfo_mops_program once in the probe VM to see
 * whether it really does.
 */
static void probe_mops(struct host_info *hi, int kvm, int vm, int vcpu)
{
	unsigned long long isar2 = 0, esr = 0, pc = PROBE_RAM_IPA;
	unsigned long long vbar = PROBE_RAM_IPA + HOSTINFO_PROBE_VBAR;
	struct kvm_userspace_memory_region mr = { 0 };
	struct kvm_run *run = MAP_FAILED;
	long run_size;
	void *ram;
	int r;

	if (one_reg(vcpu, KVM_GET_ONE_REG, SYS_ID_AA64ISAR2_EL1, &isar2) < 0 ||
	    !(isar2 & HOSTINFO_ISAR2_MOPS))
		return;
	hi->mops_advertised = true;
	hi->mops_probe = HOSTINFO_PROBE_INCONCLUSIVE;
	ram = mmap(NULL, HOSTINFO_PROBE_RAM, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED) {
		snprintf(hi->mops_detail, sizeof(hi->mops_detail), "no memory: %s",
			 strerror(errno));
		return;
	}
	hostinfo_mops_program(ram);
	mr.guest_phys_addr = PROBE_RAM_IPA;
	mr.memory_size = HOSTINFO_PROBE_RAM;
	mr.userspace_addr = (unsigned long)ram;
	run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size > 0)
		run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED || ioctl(vm, KVM_SET_USER_MEMORY_REGION, &mr) < 0 ||
	    one_reg(vcpu, KVM_SET_ONE_REG, PC_REG, &pc) < 0 ||
	    one_reg(vcpu, KVM_SET_ONE_REG, SYS_VBAR_EL1, &vbar) < 0) {
		snprintf(hi->mops_detail, sizeof(hi->mops_detail), "setting up the probe VM: %s",
			 strerror(errno));
		goto out;
	}
	do
		r = ioctl(vcpu, KVM_RUN, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		snprintf(hi->mops_detail, sizeof(hi->mops_detail), "KVM_RUN: %s", strerror(errno));
		goto out;
	}
	unsigned long long data = 0;

	if (run->exit_reason == KVM_EXIT_MMIO)
		memcpy(&data, run->mmio.data, run->mmio.len <= 8 ? run->mmio.len : 8);
	one_reg(vcpu, KVM_GET_ONE_REG, SYS_ESR_EL1, &esr);
	hi->mops_probe = hostinfo_mops_verdict(run->exit_reason == KVM_EXIT_MMIO &&
					       run->mmio.is_write, run->mmio.phys_addr,
					       data, esr, hi->mops_detail,
					       sizeof(hi->mops_detail));
	if (hi->mops_probe == HOSTINFO_PROBE_UNDEFINED)
		log_warn("this host's KVM advertises FEAT_MOPS to guests but they cannot "
			 "execute it (%s): armvmd hides it from aarch64 guests", hi->mops_detail);
	else if (hi->mops_probe == HOSTINFO_PROBE_INCONCLUSIVE)
		log_warn("FEAT_MOPS probe: %s", hi->mops_detail);
out:
	if (run != MAP_FAILED)
		munmap(run, (size_t)run_size);
	munmap(ram, HOSTINFO_PROBE_RAM);
}

static void probe_vm(struct host_info *hi, int kvm)
{
	unsigned long type = hi->ipa_cap ? KVM_VM_TYPE_ARM_IPA_SIZE(hi->ipa_limit_bits) : 0;
	struct kvm_create_device dev = { .flags = KVM_CREATE_DEVICE_TEST };
	struct kvm_vcpu_init init;
	unsigned long long mmfr0 = 0, mmfr2 = 0;
	struct kvm_one_reg reg = {
		.id = ARM64_SYS_REG(3, 0, 0, 7, 0),
		.addr = (unsigned long)&mmfr0,
	};
	struct kvm_one_reg reg2 = {
		.id = ARM64_SYS_REG(3, 0, 0, 7, 2),
		.addr = (unsigned long)&mmfr2,
	};
	int vm, vcpu;

	vm = kvm_create_vm(kvm, type);
	if (vm < 0) {
		log_warn("probe VM (IPA %d bits): %s", hi->ipa_limit_bits,
			 strerror(errno));
		return;
	}
	dev.type = KVM_DEV_TYPE_ARM_VGIC_V3;
	hi->gic_v3 = ioctl(vm, KVM_CREATE_DEVICE, &dev) == 0;
	dev.type = KVM_DEV_TYPE_ARM_VGIC_V2;
	hi->gic_v2 = ioctl(vm, KVM_CREATE_DEVICE, &dev) == 0;

	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu >= 0) {
		memset(&init, 0, sizeof(init));
		if (ioctl(vm, KVM_ARM_PREFERRED_TARGET, &init) == 0 &&
		    ioctl(vcpu, KVM_ARM_VCPU_INIT, &init) == 0 &&
		    ioctl(vcpu, KVM_GET_ONE_REG, &reg) == 0) {
			hi->pa_range_bits = hostinfo_parange_bits(mmfr0);
			hi->pa_range_source = "ID_AA64MMFR0_EL1 via KVM_GET_ONE_REG";
			hi->granules = hostinfo_granules(mmfr0, &hi->lpa2);
			/* ID_AA64MMFR2_EL1.VARange (19:16): 1 is 52-bit VA for 64K */
			if (ioctl(vcpu, KVM_GET_ONE_REG, &reg2) == 0)
				hi->va_range_bits = ((mmfr2 >> 16) & 0xf) == 1 ? 52 : 48;
			probe_mops(hi, kvm, vm, vcpu);
		}
		close(vcpu);
	}
	close(vm);
}

static void probe_kvm(struct host_info *hi)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int r;

	if (kvm < 0) {
		snprintf(hi->reason, sizeof(hi->reason),
			 "cannot open /dev/kvm: %s", strerror(errno));
		return;
	}
	r = ioctl(kvm, KVM_GET_API_VERSION, 0);
	if (r != KVM_API_VERSION) {
		snprintf(hi->reason, sizeof(hi->reason),
			 "unexpected KVM API version %d", r);
		close(kvm);
		return;
	}
	hi->kvm = true;
	r = kvm_cap(kvm, KVM_CAP_ARM_VM_IPA_SIZE);
	hi->ipa_cap = r > 0;
	hi->ipa_limit_bits = r > 0 ? r : HOST_DEFAULT_IPA_BITS;
	hi->el1_32bit = kvm_cap(kvm, KVM_CAP_ARM_EL1_32BIT);
	hi->max_vcpus = kvm_cap(kvm, KVM_CAP_MAX_VCPUS);
	hi->recommended_vcpus = kvm_cap(kvm, KVM_CAP_NR_VCPUS);
	hi->pmu = kvm_cap(kvm, KVM_CAP_ARM_PMU_V3);
	hi->sve = kvm_cap(kvm, KVM_CAP_ARM_SVE);
	hi->mte = kvm_cap(kvm, KVM_CAP_ARM_MTE);
	hi->pvtime = kvm_cap(kvm, KVM_CAP_STEAL_TIME);
	hi->ptrauth = kvm_cap(kvm, KVM_CAP_ARM_PTRAUTH_ADDRESS) &&
		      kvm_cap(kvm, KVM_CAP_ARM_PTRAUTH_GENERIC);
	hi->psci_0_2 = kvm_cap(kvm, KVM_CAP_ARM_PSCI_0_2);
	hi->system_suspend = kvm_cap(kvm, KVM_CAP_ARM_SYSTEM_SUSPEND);
	probe_vm(hi, kvm);
	close(kvm);
}

#else

static void probe_kvm(struct host_info *hi)
{
	snprintf(hi->reason, sizeof(hi->reason),
		 "this is a %s host: armvmd runs arm64 guests on an arm64 "
		 "(aarch64) Linux host with KVM", hi->arch);
}

#endif

void hostinfo_probe(struct host_info *hi)
{
	struct utsname u;

	memset(hi, 0, sizeof(*hi));
	hi->kvm_mode = "unknown";
	hi->kvm_mode_source = "none";
	hi->pa_range_source = "unavailable";
	if (uname(&u) == 0) {
		snprintf(hi->arch, sizeof(hi->arch), "%s", u.machine);
		snprintf(hi->kernel, sizeof(hi->kernel), "%s", u.release);
	}
	probe_kvm(hi);
	if (hi->kvm)
		probe_kvm_mode(hi);
}

const struct host_info *hostinfo_get(void)
{
	static struct host_info cached;
	static bool probed;

	if (!probed) {
		hostinfo_probe(&cached);
		probed = true;
	}
	return &cached;
}

json_t *hostinfo_to_json(const struct host_info *hi)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:b}",
			      "version", ARMVMD_VERSION, "arch", hi->arch,
			      "kernel", hi->kernel, "kvm", hi->kvm);

	if (!o)
		return NULL;
	if (!hi->kvm) {
		json_object_set_new(o, "reason", json_string(hi->reason));
		return o;
	}
	json_object_set_new(o, "ipa_limit_bits", json_integer(hi->ipa_limit_bits));
	json_object_set_new(o, "ipa_limit_source", json_string(hi->ipa_cap
		? "KVM_CAP_ARM_VM_IPA_SIZE"
		: "default: KVM_CAP_ARM_VM_IPA_SIZE absent"));
	json_object_set_new(o, "pa_range_bits", hi->pa_range_bits
		? json_integer(hi->pa_range_bits) : json_null());
	json_object_set_new(o, "pa_range_source", json_string(hi->pa_range_source));
	json_object_set_new(o, "el1_32bit", json_boolean(hi->el1_32bit));
	if (hi->granules) {
		json_t *g = json_array();

		if (hi->granules & HOSTINFO_GRANULE_4K)
			json_array_append_new(g, json_string("4K"));
		if (hi->granules & HOSTINFO_GRANULE_16K)
			json_array_append_new(g, json_string("16K"));
		if (hi->granules & HOSTINFO_GRANULE_64K)
			json_array_append_new(g, json_string("64K"));
		json_object_set_new(o, "guest_granules", g);
		json_object_set_new(o, "lpa2", json_boolean(hi->lpa2));
	} else {
		json_object_set_new(o, "guest_granules", json_null());
		json_object_set_new(o, "lpa2", json_null());
	}
	json_object_set_new(o, "va_range_bits", hi->va_range_bits
		? json_integer(hi->va_range_bits) : json_null());

	json_t *gic = json_array();
	if (hi->gic_v2)
		json_array_append_new(gic, json_string("v2"));
	if (hi->gic_v3)
		json_array_append_new(gic, json_string("v3"));
	json_object_set_new(o, "gic", gic);
	json_object_set_new(o, "kvm_mode", json_string(hi->kvm_mode));
	json_object_set_new(o, "kvm_mode_source", json_string(hi->kvm_mode_source));
	json_object_set_new(o, "max_vcpus", json_integer(hi->max_vcpus));
	json_object_set_new(o, "recommended_vcpus", json_integer(hi->recommended_vcpus));
	json_object_set_new(o, "features", json_pack(
		"{s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:b}",
		"pmu", hi->pmu, "sve", hi->sve, "mte", hi->mte,
		"pvtime", hi->pvtime, "ptrauth", hi->ptrauth,
		"psci_0_2", hi->psci_0_2, "system_suspend", hi->system_suspend,
		/* upstream KVM has no protected-guest VM type; pKVM protects
		 * the host from guests, shown by kvm_mode "protected" */
		"protected_vm", 0));
	json_object_set_new(o, "mops", json_pack("{s:b, s:s, s:s, s:b}",
		"advertised", hi->mops_advertised,
		"probe", hostinfo_verdict_name(hi->mops_probe),
		"detail", hi->mops_detail[0] ? hi->mops_detail : "not probed: not advertised",
		"hidden_from_guests", hi->mops_probe == HOSTINFO_PROBE_UNDEFINED));
	return o;
}
