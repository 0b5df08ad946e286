/* SPDX-License-Identifier: MIT */
/*
 * What this host offers arm64 guests: probed once from /dev/kvm, the
 * kernel log and uname.  Portable: on a host without arm64 KVM the probe
 * says so (kvm = false, reason) instead of failing.
 */
#ifndef ARMVMD_HOSTINFO_H
#define ARMVMD_HOSTINFO_H

#include <stdbool.h>
#include <jansson.h>

/* a host without KVM_CAP_ARM_VM_IPA_SIZE has the fixed 40-bit IPA space */
#define HOST_DEFAULT_IPA_BITS 40

struct host_info {
	char arch[65];
	char kernel[65];
	bool kvm;
	char reason[256];		/* why kvm is false */

	bool ipa_cap;			/* KVM_CAP_ARM_VM_IPA_SIZE present */
	int ipa_limit_bits;
	int pa_range_bits;		/* 0: unknown */
	const char *pa_range_source;
	/* the translation granules guests may use (HOSTINFO_GRANULE_*; 0
	 * unknown), LPA2 (52-bit PA and VA with 4K/16K pages) and the VA
	 * size of 64K pages (FEAT_LVA: 52), from the vCPU's ID registers */
	unsigned granules;
	bool lpa2;
	int va_range_bits;		/* 0: unknown */
	bool el1_32bit;
	bool gic_v2, gic_v3;
	const char *kvm_mode;		/* "vhe", "nvhe", "protected", "unknown" */
	const char *kvm_mode_source;
	int max_vcpus, recommended_vcpus;
	bool pmu, sve, mte, pvtime, ptrauth, psci_0_2, system_suspend;
};

/* KVM_CREATE_VM, again while a signal interrupts it (registering the mm
 * notifier gives up with EINTR on any pending signal, SIGCONT included).
 * The new VM's fd, or -1 with errno set. */
int kvm_create_vm(int kvm_fd, unsigned long type);

/* Probe now (fills hi; never fails: problems end up in kvm/reason). */
void hostinfo_probe(struct host_info *hi);

/* The probe of this process, done on first use. */
const struct host_info *hostinfo_get(void);

json_t *hostinfo_to_json(const struct host_info *hi);

#define HOSTINFO_GRANULE_4K	1u
#define HOSTINFO_GRANULE_16K	2u
#define HOSTINFO_GRANULE_64K	4u
/* The HOSTINFO_GRANULE_* bit of a page size in KiB (4, 16, 64), else 0. */
static inline unsigned hostinfo_granule_bit(unsigned page_kb)
{
	return page_kb == 4 ? HOSTINFO_GRANULE_4K : page_kb == 16 ? HOSTINFO_GRANULE_16K
	       : page_kb == 64 ? HOSTINFO_GRANULE_64K : 0;
}
/*
 * Decode ID_AA64MMFR0_EL1's TGran4 (31:28: 0 yes, 1 yes with 52-bit
 * addresses, 0xf no), TGran64 (27:24: 0 yes, 0xf no) and TGran16 (23:20:
 * 0 no, 1 yes, 2 yes with 52-bit) into HOSTINFO_GRANULE_* bits; *lpa2
 * (may be NULL) says whether 4K or 16K reach 52 bits.
 */
unsigned hostinfo_granules(unsigned long long mmfr0, bool *lpa2);

/* Decode ID_AA64MMFR0_EL1.PARange (bits 3:0) to bits; 0 if reserved. */
int hostinfo_parange_bits(unsigned long long mmfr0);

/* Find the KVM mode in kernel log text; NULL when it is not there. */
const char *hostinfo_mode_from_log(const char *log);

#endif
