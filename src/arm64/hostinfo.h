/* SPDX-License-Identifier: MIT */
/*
 * What this host offers arm64 guests: probed once from /dev/kvm, the
 * kernel log and uname.  Portable: on a host without arm64 KVM the probe
 * says so (kvm = false, reason) instead of failing.
 */
#ifndef ARMVMD_HOSTINFO_H
#define ARMVMD_HOSTINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

/* a host without KVM_CAP_ARM_VM_IPA_SIZE has the fixed 40-bit IPA space */
#define HOST_DEFAULT_IPA_BITS 40

/* what a probe VM saw when it ran a feature's instructions */
enum hostinfo_probe_verdict {
	HOSTINFO_PROBE_NOT_RUN,		/* not advertised, or no arm64 KVM */
	HOSTINFO_PROBE_WORKS,
	HOSTINFO_PROBE_UNDEFINED,	/* advertised, but an UNDEF exception */
	HOSTINFO_PROBE_INCONCLUSIVE,	/* anything else: the feature is left alone */
};

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
	/* FEAT_MOPS (CPY*, SET*): advertised to guests in their
	 * ID_AA64ISAR2_EL1, and whether a guest can execute it (a probe VM
	 * runs SETP/SETM/SETE at EL1).  Some KVMs advertise it and leave it
	 * UNDEFINED (seen: Debian's 6.12 in protected mode): then every
	 * guest's C library dies of SIGILL, and armvmd hides the feature. */
	bool mops_advertised;
	enum hostinfo_probe_verdict mops_probe;
	char mops_detail[160];
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

/*
 * The MOPS probe's guest program, for a probe VM whose RAM is at ram_ipa
 * (at least HOSTINFO_PROBE_RAM bytes, code at its start, executed from
 * there with the MMU off): it runs SETP/SETM/SETE of 0 bytes and writes 1
 * to HOSTINFO_PROBE_MMIO; any exception (vectors at ram_ipa + 0x800) writes
 * 0x10 + the vector's index there instead.  Fills words (HOSTINFO_PROBE_WORDS
 * of them, little-endian A64 instructions; gaps are NOPs).
 */
#define HOSTINFO_PROBE_RAM	0x10000ull
/* ID_AA64ISAR2_EL1.MOPS, bits 19:16 (the probe reads it, vCPUs clear it) */
#define HOSTINFO_ISAR2_MOPS	(0xfull << 16)
#define HOSTINFO_PROBE_MMIO	0x200000ull
#define HOSTINFO_PROBE_WORDS	(0x1000 / 4)
#define HOSTINFO_PROBE_VBAR	0x800u
void hostinfo_mops_program(unsigned *words);

/*
 * The verdict from what KVM_RUN returned: exited with KVM_EXIT_MMIO (mmio)
 * at address addr writing data, and the vCPU's ESR_EL1 afterwards.  An
 * exception through vector 4 (current EL, SP_ELx, synchronous) with ESR
 * class 0 ("unknown reason": an UNDEFINED instruction) is UNDEFINED.
 * why gets a line for host.info.
 */
enum hostinfo_probe_verdict hostinfo_mops_verdict(bool mmio, unsigned long long addr,
						   unsigned long long data,
						   unsigned long long esr,
						   char *why, size_t whylen);
const char *hostinfo_verdict_name(enum hostinfo_probe_verdict v);

/* Find the KVM mode in kernel log text; NULL when it is not there. */
const char *hostinfo_mode_from_log(const char *log);

#endif
