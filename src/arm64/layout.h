/* SPDX-License-Identifier: MIT */
/*
 * The guest memory map: every fixed guest-physical address lives here, and
 * the pure functions that turn a VM configuration into an address plan
 * (RAM banks, IPA size, payload placement).  The supervisor and the worker
 * call the same functions, so a plan that passes vm.create is the plan the
 * worker loads.
 *
 *   0x0000_0000 - 0x07ff_ffff  unused (no flash, no boot ROM)
 *   0x0800_0000               GIC distributor (64 KiB)
 *   0x0801_0000               GICv2 CPU interface (8 KiB)
 *   0x080a_0000 - 0x08ff_ffff GICv3 redistributors, 128 KiB per vCPU
 *   0x0900_0000               8250 UART (4 KiB)
 *   0x0901_0000               PL031 RTC (4 KiB)
 *   0x0903_0000               PL061 GPIO (power key)
 *   0x0904_0000               boot timer (benchmarks)
 *   0x0a00_0000               virtio-mmio slots, 512 bytes apart
 *   0x8000_0000 (2 GiB)       RAM by default; any bank base >= 2 GiB on request
 */
#ifndef ARMVMD_LAYOUT_H
#define ARMVMD_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SZ_4K	0x1000ULL
#define SZ_64K	0x10000ULL
#define SZ_2M	0x200000ULL
#define SZ_1G	0x40000000ULL

#define LAYOUT_GIC_DIST_BASE	0x08000000ULL
#define LAYOUT_GIC_DIST_SIZE	0x10000ULL
#define LAYOUT_GIC_CPU_BASE	0x08010000ULL
#define LAYOUT_GIC_CPU_SIZE	0x2000ULL
#define LAYOUT_GIC_REDIST_BASE	0x080a0000ULL
#define LAYOUT_GIC_REDIST_STRIDE 0x20000ULL	/* RD + SGI frame per vCPU */
#define LAYOUT_GIC_REDIST_LIMIT	0x09000000ULL
#define LAYOUT_UART_BASE	0x09000000ULL
#define LAYOUT_UART_SIZE	0x1000ULL
#define LAYOUT_RTC_BASE		0x09010000ULL
#define LAYOUT_RTC_SIZE		0x1000ULL
#define LAYOUT_GPIO_BASE	0x09030000ULL
#define LAYOUT_GPIO_SIZE	0x1000ULL
#define LAYOUT_BOOTTIMER_BASE	0x09040000ULL
#define LAYOUT_BOOTTIMER_SIZE	0x1000ULL
#define LAYOUT_VIRTIO_BASE	0x0a000000ULL
#define LAYOUT_VIRTIO_STRIDE	0x200ULL
#define LAYOUT_VIRTIO_SLOTS	32
#define LAYOUT_DEVICES_END	0x80000000ULL	/* devices stay below this */
#define LAYOUT_RAM_BASE		0x80000000ULL	/* default first bank */

/* GIC interrupt numbers (SPI numbers, i.e. INTID - 32) */
#define LAYOUT_IRQ_UART		1
#define LAYOUT_IRQ_RTC		2
#define LAYOUT_IRQ_GPIO		7
#define LAYOUT_GPIO_POWER_LINE	3	/* PL061 line of the power key */
#define LAYOUT_IRQ_VIRTIO	16	/* + slot */
/* PPIs of the architected timer (INTID - 16) */
#define LAYOUT_PPI_TIMER_SEC	13
#define LAYOUT_PPI_TIMER_PHYS	14
#define LAYOUT_PPI_TIMER_VIRT	11
#define LAYOUT_PPI_TIMER_HYP	10

/* GICv3 redistributor space fits this many vCPUs; GICv2 handles 8 */
#define LAYOUT_MAX_VCPUS_GICV3 \
	((LAYOUT_GIC_REDIST_LIMIT - LAYOUT_GIC_REDIST_BASE) / LAYOUT_GIC_REDIST_STRIDE)
#define LAYOUT_MAX_VCPUS_GICV2	8

#define LAYOUT_MAX_BANKS	8
#define LAYOUT_MIN_IPA_BITS	32
/*
 * arm64 booting.rst: the kernel image must be in 48-bit addressable
 * memory.  The rule comes from the initial ID map of 4K and 16K kernels
 * (with LPA2 it covers 48 bits only); a 64K kernel's ID map reaches 52
 * bits, so a 64K kernel may be placed higher (layout_check_kernel_bank).
 */
#define LAYOUT_KERNEL_LIMIT	(1ULL << 48)
/* vm_config.kernel_page_kb before the kernel's header has been read */
#define LAYOUT_PAGE_UNREAD	(~0u)

/* payload region: kernel, initrd and DTB, at the start of the kernel's bank */
#define PAYLOAD_REGION_AARCH64	(512ULL << 20)
#define PAYLOAD_REGION_AARCH32	(256ULL << 20)
#define PAYLOAD_DTB_MAX		SZ_2M

/* banks[0] holds the payload: smaller than this is refused */
#define LAYOUT_MIN_KERNEL_BANK	(16ULL << 20)
/* arm64 booting.rst: kernel and initrd within one 32 GiB aligned window */
#define LAYOUT_KERNEL_WINDOW	(1ULL << 35)
/* a 32-bit guest kernel (no LPAE at boot) must sit below 4 GiB */
#define LAYOUT_AARCH32_LIMIT	(1ULL << 32)
/* an LPAE (ARMv7 long-descriptor) guest has 40-bit physical addresses */
#define LAYOUT_AARCH32_LPAE_LIMIT	(1ULL << 40)
/*
 * arm Booting: the zImage decompresses to RAM + 0x8000 and may move
 * itself above that, so the initrd goes "just above the 128 MiB boundary
 * from start of RAM" (half the region when the region is smaller).
 */
#define PAYLOAD_AARCH32_INITRD_FLOOR	(128ULL << 20)

/* KVM without KVM_CAP_ARM_VM_IPA_SIZE gives every VM this IPA size */
#define LAYOUT_FIXED_IPA_BITS	40
/* KVM_VM_TYPE_ARM_IPA_SIZE() of linux/kvm.h, kept out of this pure file */
#define LAYOUT_VM_TYPE_IPA(bits)	((unsigned long)(bits) & 0xffUL)

enum guest_arch { GUEST_AARCH64, GUEST_AARCH32 };
enum gic_version { GIC_AUTO = 0, GIC_V2 = 2, GIC_V3 = 3 };

struct mem_bank {
	uint64_t base;
	uint64_t size;
	bool base_given;		/* "SIZE@BASE" rather than placed */
};

/* A validated VM configuration: what vm.create accepted. */
struct vm_config {
	enum guest_arch arch;
	unsigned vcpus;
	unsigned nbanks;
	struct mem_bank banks[LAYOUT_MAX_BANKS];	/* banks[0] holds the kernel */
	int ipa_bits;			/* requested; 0: choose */
	enum gic_version gic;
	/* the aarch64 kernel's page size from its Image header: 4, 16, 64,
	 * 0 unspecified, LAYOUT_PAGE_UNREAD not read yet (the placement rule
	 * for its bank waits for it: layout_check_kernel_bank) */
	unsigned kernel_page_kb;
};

/* A limit of the host that the plan must respect. */
struct host_limits {
	int ipa_limit_bits;
	bool ipa_cap;			/* KVM_CAP_ARM_VM_IPA_SIZE present */
};

/* Why a plan failed: code is an ARMVM_E_* value, message is for people,
 * the numbers go into the JSON-RPC error data (0 = not relevant). */
struct layout_error {
	int code;
	char message[384];
	int needed_bits, requested_bits, host_limit_bits;
	uint64_t highest_address;
	uint64_t region_size, kernel_size, initrd_size, dtb_size, needed_size;
};

struct ipa_plan {
	int bits;			/* for KVM_VM_TYPE_ARM_IPA_SIZE */
	int needed_bits;
	uint64_t highest_address;	/* last byte of RAM or device space */
	unsigned long vm_type;		/* argument of KVM_CREATE_VM */
	char reason[160];
};

/*
 * Parse "SIZE" or "SIZE@BASE": SIZE with K, M, G or T (binary) or bytes,
 * BASE in decimal or 0x hex.  Returns 0 or -EINVAL with msg filled.
 */
int layout_parse_bank(const char *text, struct mem_bank *bank,
		      char *msg, size_t msglen);
/*
 * Parse a size like "512M" or "1G" (bytes when there is no suffix).
 * Suffixes K, M, G, T in either case, optionally followed by "iB" (binary
 * multiples either way).  Returns 0, -EINVAL (empty, sign, junk) or
 * -ERANGE (does not fit 64 bits).
 */
int layout_parse_size(const char *text, uint64_t *size);

/*
 * Place banks without a base (after 2 GiB or the previous bank, 2 MiB
 * aligned) and check them: sizes and bases 2 MiB aligned, not below
 * LAYOUT_DEVICES_END, no overlaps, the kernel's bank below 2^48 (and below
 * 4 GiB for aarch32).  Returns 0 or -1 with err filled.
 *
 * This is also where the rest of the configuration is checked, so that
 * vm.create needs one call: arch, 1..LAYOUT_MAX_BANKS banks, banks[0] at
 * least LAYOUT_MIN_KERNEL_BANK, vcpus 1..LAYOUT_MAX_VCPUS_GICV3 (at most
 * LAYOUT_MAX_VCPUS_GICV2 with GIC_V2).  Malformed input fails with
 * ARMVM_E_INVALID_PARAMS; a kernel bank beyond what the boot protocol can
 * address (2^48, or 4 GiB for aarch32), or an aarch32 bank beyond LPAE's
 * 40 bits, with ARMVM_E_IPA and highest_address/needed_bits set.
 */
int layout_place_banks(struct vm_config *cfg, struct layout_error *err);

/*
 * The aarch64 kernel's bank against the boot protocol, once the kernel's
 * page size is known (cfg->kernel_page_kb): a bank ending above 2^48 is
 * refused (ARMVM_E_IPA, citing the rule) for a 4K, 16K or unspecified
 * kernel, and accepted for a 64K one.  Returns 0, 1 when it accepted a
 * 64K kernel above 2^48 (note says why it may, warning what the boot
 * protocol promises), or -1 with err filled.  No-op (0) for aarch32 and
 * while the page size is LAYOUT_PAGE_UNREAD; layout_place_banks calls it.
 */
int layout_check_kernel_bank(const struct vm_config *cfg,
			     struct layout_error *err,
			     char *note, size_t notelen,
			     char *warning, size_t warninglen);

/* Highest guest-physical address in use (RAM and devices). */
uint64_t layout_highest_address(const struct vm_config *cfg);

/* Bits needed to address `highest`, never below LAYOUT_MIN_IPA_BITS. */
int layout_bits_for(uint64_t highest);

/*
 * Choose the IPA size: the request when 32 <= bits <= host limit and it
 * covers the map, else the smallest size covering the map.  Returns 0 or
 * -1 with err (code ARMVM_E_IPA and all four numbers) filled.
 */
int layout_choose_ipa(const struct vm_config *cfg,
		      const struct host_limits *host, struct ipa_plan *plan,
		      struct layout_error *err);

/* What the payload planner needs to know of the images. */
struct payload_input {
	uint64_t kernel_size;		/* bytes to reserve (image_size) */
	uint64_t kernel_file_size;	/* bytes to copy */
	uint64_t text_offset;		/* aarch64 Image; 0x8000 for a zImage */
	uint64_t initrd_size;		/* 0: none */
	uint64_t dtb_size;		/* generated or user DTB */
};

struct payload_plan {
	uint64_t region_base, region_size;
	uint64_t kernel_load;		/* where the image's first byte goes */
	uint64_t kernel_entry;		/* PC at boot */
	uint64_t kernel_end;		/* kernel_load + reserved size */
	uint64_t initrd_base, initrd_size;
	uint64_t dtb_base, dtb_size;
};

/* Size of the payload region for an architecture, clipped to the bank. */
uint64_t layout_payload_region_size(enum guest_arch arch, uint64_t bank_size);

/*
 * Place kernel, initrd and DTB in the payload region of banks[0]:
 * aarch64 per booting.rst (kernel at a 2 MiB aligned base + text_offset,
 * image_size reserved; initrd after it, 4 KiB aligned; DTB 8-byte aligned
 * in the region's last 2 MiB; kernel and initrd in one 32 GiB window);
 * aarch32 zImage at RAM + text_offset (0x8000), its initrd no lower than
 * PAYLOAD_AARCH32_INITRD_FLOOR (half the region if smaller) above RAM so
 * the decompressor cannot overwrite it.  The reserve is the larger of
 * kernel_size and kernel_file_size.  Returns 0 or -1 with err
 * (ARMVM_E_PAYLOAD and the sizes) filled; no initrd: initrd_base 0.
 */
int layout_place_payload(const struct vm_config *cfg,
			 const struct payload_input *in,
			 struct payload_plan *plan, struct layout_error *err);

#endif
