/* SPDX-License-Identifier: MIT */
/*
 * The guest device tree, built with libfdt from the memory map in
 * layout.h.  Each device writes its own node through a small helper; every
 * libfdt return is checked.
 */
#ifndef ARMVMD_FDT_H
#define ARMVMD_FDT_H

#include <stddef.h>
#include <stdint.h>

#include "arm64/layout.h"

#define FDT_MAX_SIZE	0x10000	/* generous for what we describe */

struct fdt_params {
	const struct vm_config *cfg;	/* arch, vcpus, banks */
	enum gic_version gic;		/* resolved: GIC_V2 or GIC_V3 */
	const uint64_t *mpidr;		/* cfg->vcpus values, from KVM */
	const char *cmdline;		/* "" for none */
	uint64_t initrd_base, initrd_size;	/* size 0: no initrd */
	const uint8_t *rng_seed;	/* 64 bytes, or NULL */
	uint64_t kaslr_seed;		/* 0: none */
	bool gpio_power_key;		/* PL061 with gpio-keys KEY_POWER */
	unsigned nvirtio;		/* virtio-mmio slots to describe */
};

/*
 * Build the tree into buf (size bytes, at most FDT_MAX_SIZE is enough).
 * Returns 0 or a negative libfdt error (FDT_ERR_*, negated) after writing
 * the failing step into msg.
 */
int fdt_build(const struct fdt_params *p, void *buf, size_t size,
	      char *msg, size_t msglen);

/*
 * A user-supplied device tree (len bytes at user, checked in full here)
 * opened into buf (size bytes) with /chosen made when missing and given
 * bootargs (unless cmdline is empty) and linux,initrd-start/-end (when
 * initrd_size is not 0), then packed.  The rest of the tree, /memory
 * included, is the user's.  Returns 0 or a negative libfdt error after
 * writing what failed into msg.
 */
int fdt_patch_user(const void *user, size_t len, void *buf, size_t size,
		   const char *cmdline, uint64_t initrd_base, uint64_t initrd_size,
		   char *msg, size_t msglen);

#endif
