// SPDX-License-Identifier: MIT
/*
 * The guest device tree, written with libfdt's sequential-write API: the
 * root's properties, then one small helper per node, in the order the nodes
 * appear in the blob.  Every address comes from layout.h; every libfdt call
 * is checked and the first failure is reported with the step that failed.
 *
 * Bindings followed are those of Documentation/devicetree/bindings in Linux
 * (named at each helper); the tree is what QEMU's "virt" machine describes
 * for the same devices, so stock arm64 and LPAE arm32 kernels boot on it.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libfdt.h>

#include "arm64/fdt.h"
#include "arm64/image.h"

/* include/dt-bindings/interrupt-controller/{arm-gic,irq}.h */
#define GIC_SPI			0
#define GIC_PPI			1
#define IRQ_TYPE_EDGE_RISING	1
#define IRQ_TYPE_LEVEL_HIGH	4
#define IRQ_TYPE_LEVEL_LOW	8
#define GIC_PPI_CPU_SHIFT	8	/* GICv2 only: PPI target mask, bits 15:8 */

/* include/uapi/linux/input-event-codes.h */
#define KEY_POWER		116

/*
 * The PL061 line the power button drives.  It belongs in layout.h next to
 * LAYOUT_GPIO_BASE (the PL061 model must pulse the same line); until it is
 * there, this is the value.
 */
#ifndef LAYOUT_GPIO_POWER_LINE
#define LAYOUT_GPIO_POWER_LINE	3
#endif

/* MPIDR_EL1 affinity fields Aff3 (39:32) and Aff2..Aff0 (23:0) */
#define MPIDR_HWID_MASK		0xff00ffffffULL
#define MPIDR_AFF3_MASK		0xff00000000ULL

#define RNG_SEED_SIZE		64		/* fdt.h: p->rng_seed */
#define UART_CLOCK_HZ		1843200		/* the classic 16550 crystal */
#define APB_PCLK_HZ		24000000

/* phandles, fixed: the tree is small and built in one pass */
enum {
	PHANDLE_GIC = 1,
	PHANDLE_APB_PCLK,
	PHANDLE_GPIO,
};

/*
 * Everything that differs between an aarch64 and an aarch32 guest.  The
 * rest of the tree (memory map, GIC, devices, #address-cells 2 at the root,
 * which LPAE kernels read) is the same for both.
 */
struct guest_flavour {
	const char *cpu_compatible;
	const char *timer_compatible;
	/*
	 * bindings/arm/cpus.yaml: an ARMv8 64-bit /cpus may use two address
	 * cells to carry Aff3; 32-bit kernels know only one cell.
	 */
	bool mpidr_aff3;
};

static const struct guest_flavour flavours[] = {
	[GUEST_AARCH64] = {
		.cpu_compatible = "arm,arm-v8",
		.timer_compatible = "arm,armv8-timer",
		.mpidr_aff3 = true,
	},
	[GUEST_AARCH32] = {
		.cpu_compatible = "arm,cortex-a15",
		.timer_compatible = "arm,armv7-timer",
		.mpidr_aff3 = false,
	},
};

struct fdt_ctx {
	void *fdt;
	const struct fdt_params *p;
	const struct vm_config *cfg;
	const struct guest_flavour *flavour;
	char *msg;
	size_t msglen;
};

static void set_msg(struct fdt_ctx *c, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void set_msg(struct fdt_ctx *c, const char *fmt, va_list ap)
{
	if (c->msg && c->msglen)
		vsnprintf(c->msg, c->msglen, fmt, ap);
}

/* A libfdt call failed: record "step: FDT_ERR_x" and pass err on. */
static int fdt_fail(struct fdt_ctx *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fdt_fail(struct fdt_ctx *c, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_msg(c, fmt, ap);
	va_end(ap);
	if (c->msg && c->msglen) {
		size_t n = strlen(c->msg);

		snprintf(c->msg + n, c->msglen - n, ": %s", fdt_strerror(err));
	}
	return err;
}

/* The parameters describe no valid machine. */
static int bad_param(struct fdt_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int bad_param(struct fdt_ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_msg(c, fmt, ap);
	va_end(ap);
	return -FDT_ERR_BADVALUE;
}

/* Run a libfdt call; on a negative result, report the step and return. */
#define TRY(c, call, ...)						\
	do {								\
		int err_ = (call);					\
		if (err_ < 0)						\
			return fdt_fail((c), err_, __VA_ARGS__);	\
	} while (0)

/* Run a helper of ours that has already filled msg. */
#define RUN(call)							\
	do {								\
		int err_ = (call);					\
		if (err_ < 0)						\
			return err_;					\
	} while (0)

/* ---- property helpers ---- */

static int begin_node(struct fdt_ctx *c, const char *name)
{
	TRY(c, fdt_begin_node(c->fdt, name), "node %s", name);
	return 0;
}

static int end_node(struct fdt_ctx *c, const char *name)
{
	TRY(c, fdt_end_node(c->fdt), "end of node %s", name);
	return 0;
}

static int prop_empty(struct fdt_ctx *c, const char *name)
{
	TRY(c, fdt_property(c->fdt, name, NULL, 0), "property %s", name);
	return 0;
}

static int prop_string(struct fdt_ctx *c, const char *name, const char *s)
{
	TRY(c, fdt_property_string(c->fdt, name, s), "property %s", name);
	return 0;
}

/* A string list written as one literal: "a\0b" (sizeof keeps the last NUL). */
#define prop_strings(c, name, lit)	prop_bytes((c), (name), (lit), sizeof(lit))

static int prop_bytes(struct fdt_ctx *c, const char *name, const void *v,
		      size_t len)
{
	TRY(c, fdt_property(c->fdt, name, v, (int)len), "property %s", name);
	return 0;
}

static int prop_u32(struct fdt_ctx *c, const char *name, uint32_t v)
{
	TRY(c, fdt_property_u32(c->fdt, name, v), "property %s", name);
	return 0;
}

static int prop_u64(struct fdt_ctx *c, const char *name, uint64_t v)
{
	TRY(c, fdt_property_u64(c->fdt, name, v), "property %s", name);
	return 0;
}

/* n 32-bit cells (interrupts, gpios, ...) */
static int prop_cells(struct fdt_ctx *c, const char *name, const uint32_t *v,
		      unsigned n)
{
	void *val;

	TRY(c, fdt_property_placeholder(c->fdt, name, (int)(n * 4), &val),
	    "property %s", name);
	for (unsigned i = 0; i < n; i++)
		fdt32_st((char *)val + 4 * i, v[i]);
	return 0;
}

/* n 64-bit values, i.e. 2n cells: reg under #address-cells = #size-cells = 2 */
static int prop_u64s(struct fdt_ctx *c, const char *name, const uint64_t *v,
		     unsigned n)
{
	void *val;

	TRY(c, fdt_property_placeholder(c->fdt, name, (int)(n * 8), &val),
	    "property %s", name);
	for (unsigned i = 0; i < n; i++)
		fdt64_st((char *)val + 8 * i, v[i]);
	return 0;
}

static int prop_reg(struct fdt_ctx *c, uint64_t base, uint64_t size)
{
	const uint64_t reg[] = { base, size };

	return prop_u64s(c, "reg", reg, 2);
}

/* interrupts = <GIC_SPI spi type>, for a device on the GIC */
static int prop_spi(struct fdt_ctx *c, uint32_t spi, uint32_t type)
{
	const uint32_t irq[] = { GIC_SPI, spi, type };

	return prop_cells(c, "interrupts", irq, 3);
}

/* clocks and clock-names of an AMBA PrimeCell (bindings/arm/primecell.yaml) */
static int prop_apb_pclk(struct fdt_ctx *c)
{
	RUN(prop_u32(c, "clocks", PHANDLE_APB_PCLK));
	return prop_string(c, "clock-names", "apb_pclk");
}

/* ---- nodes ---- */

/* bindings/arm/cpus.yaml; the boot CPU is the first, vCPU 0 */
static int fdt_add_cpus(struct fdt_ctx *c)
{
	const uint64_t *mpidr = c->p->mpidr;
	unsigned i, cells = 1;
	char name[32];

	for (i = 0; i < c->cfg->vcpus; i++)
		if (mpidr[i] & MPIDR_AFF3_MASK)
			cells = 2;
	if (cells == 2 && !c->flavour->mpidr_aff3)
		return bad_param(c, "MPIDR with Aff3 set cannot be described to an aarch32 guest");

	RUN(begin_node(c, "cpus"));
	RUN(prop_u32(c, "#address-cells", cells));
	RUN(prop_u32(c, "#size-cells", 0));
	for (i = 0; i < c->cfg->vcpus; i++) {
		uint64_t hwid = mpidr[i] & MPIDR_HWID_MASK;

		snprintf(name, sizeof(name), "cpu@%" PRIx64, hwid);
		RUN(begin_node(c, name));
		RUN(prop_string(c, "device_type", "cpu"));
		RUN(prop_string(c, "compatible", c->flavour->cpu_compatible));
		RUN(prop_string(c, "enable-method", "psci"));
		if (cells == 2)
			RUN(prop_u64(c, "reg", hwid));
		else
			RUN(prop_u32(c, "reg", (uint32_t)hwid));
		RUN(end_node(c, name));
	}
	return end_node(c, "cpus");
}

/*
 * bindings/arm/psci.yaml.  KVM gives vCPUs with KVM_ARM_VCPU_PSCI_0_2 PSCI
 * 1.0 or later; 0.2+ fixes the function IDs, so no cpu_on & co. properties.
 */
static int fdt_add_psci(struct fdt_ctx *c)
{
	RUN(begin_node(c, "psci"));
	RUN(prop_strings(c, "compatible", "arm,psci-1.0\0arm,psci-0.2"));
	RUN(prop_string(c, "method", "hvc"));
	return end_node(c, "psci");
}

/* One memory node per bank (devicetree spec 3.4). */
static int fdt_add_memory(struct fdt_ctx *c)
{
	char name[32];

	for (unsigned i = 0; i < c->cfg->nbanks; i++) {
		const struct mem_bank *b = &c->cfg->banks[i];

		snprintf(name, sizeof(name), "memory@%" PRIx64, b->base);
		RUN(begin_node(c, name));
		RUN(prop_string(c, "device_type", "memory"));
		RUN(prop_reg(c, b->base, b->size));
		RUN(end_node(c, name));
	}
	return 0;
}

/*
 * bindings/interrupt-controller/arm,gic-v3.yaml and arm,gic.yaml.  One
 * redistributor region, a frame pair per vCPU.  #address-cells 0: the GIC
 * has no children and interrupt-map users need not carry unit addresses.
 */
static int fdt_add_gic(struct fdt_ctx *c)
{
	char name[32];

	snprintf(name, sizeof(name), "intc@%" PRIx64, (uint64_t)LAYOUT_GIC_DIST_BASE);
	RUN(begin_node(c, name));
	if (c->p->gic == GIC_V3) {
		const uint64_t reg[] = {
			LAYOUT_GIC_DIST_BASE, LAYOUT_GIC_DIST_SIZE,
			LAYOUT_GIC_REDIST_BASE,
			c->cfg->vcpus * LAYOUT_GIC_REDIST_STRIDE,
		};

		RUN(prop_string(c, "compatible", "arm,gic-v3"));
		RUN(prop_u64s(c, "reg", reg, 4));
		RUN(prop_u32(c, "#redistributor-regions", 1));
	} else {
		const uint64_t reg[] = {
			LAYOUT_GIC_DIST_BASE, LAYOUT_GIC_DIST_SIZE,
			LAYOUT_GIC_CPU_BASE, LAYOUT_GIC_CPU_SIZE,
		};

		RUN(prop_string(c, "compatible", "arm,cortex-a15-gic"));
		RUN(prop_u64s(c, "reg", reg, 4));
	}
	RUN(prop_u32(c, "#interrupt-cells", 3));
	RUN(prop_u32(c, "#address-cells", 0));
	RUN(prop_empty(c, "interrupt-controller"));
	RUN(prop_u32(c, "phandle", PHANDLE_GIC));
	return end_node(c, name);
}

/*
 * bindings/timer/arm,arch_timer.yaml: secure, non-secure physical, virtual
 * and hypervisor PPIs in that order, active low.  A GICv2 PPI specifier
 * also names the CPUs the PPI is wired to.
 */
static int fdt_add_timer(struct fdt_ctx *c)
{
	static const uint32_t ppis[] = {
		LAYOUT_PPI_TIMER_SEC, LAYOUT_PPI_TIMER_PHYS,
		LAYOUT_PPI_TIMER_VIRT, LAYOUT_PPI_TIMER_HYP,
	};
	uint32_t irqs[3 * 4], flags = IRQ_TYPE_LEVEL_LOW;

	if (c->p->gic == GIC_V2)
		flags |= ((1u << c->cfg->vcpus) - 1) << GIC_PPI_CPU_SHIFT;
	for (unsigned i = 0; i < 4; i++) {
		irqs[3 * i] = GIC_PPI;
		irqs[3 * i + 1] = ppis[i];
		irqs[3 * i + 2] = flags;
	}
	RUN(begin_node(c, "timer"));
	RUN(prop_string(c, "compatible", c->flavour->timer_compatible));
	RUN(prop_cells(c, "interrupts", irqs, 3 * 4));
	/*
	 * The timer never loses state in idle (it is KVM's), so the guest
	 * needs no broadcast timer for its idle states.
	 */
	RUN(prop_empty(c, "always-on"));
	return end_node(c, "timer");
}

/* bindings/clock/fixed-clock.yaml: the APB clock the PrimeCells ask for */
static int fdt_add_clock(struct fdt_ctx *c)
{
	RUN(begin_node(c, "apb-pclk"));
	RUN(prop_string(c, "compatible", "fixed-clock"));
	RUN(prop_u32(c, "#clock-cells", 0));
	RUN(prop_u32(c, "clock-frequency", APB_PCLK_HZ));
	RUN(prop_string(c, "clock-output-names", "clk24mhz"));
	RUN(prop_u32(c, "phandle", PHANDLE_APB_PCLK));
	return end_node(c, "apb-pclk");
}

/* The UART's node name; /chosen's stdout-path must name the same node. */
static void uart_name(char *buf, size_t len)
{
	snprintf(buf, len, "serial@%" PRIx64, (uint64_t)LAYOUT_UART_BASE);
}

/*
 * bindings/serial/8250.yaml (of_serial): byte registers, one byte apart;
 * reg-shift and reg-io-width are the defaults, written out for readers.
 */
static int fdt_add_uart(struct fdt_ctx *c)
{
	char name[32];

	uart_name(name, sizeof(name));
	RUN(begin_node(c, name));
	RUN(prop_string(c, "compatible", "ns16550a"));
	RUN(prop_reg(c, LAYOUT_UART_BASE, LAYOUT_UART_SIZE));
	RUN(prop_u32(c, "clock-frequency", UART_CLOCK_HZ));
	RUN(prop_u32(c, "reg-shift", 0));
	RUN(prop_u32(c, "reg-io-width", 1));
	RUN(prop_spi(c, LAYOUT_IRQ_UART, IRQ_TYPE_LEVEL_HIGH));
	return end_node(c, name);
}

/* bindings/rtc/arm,pl031.yaml */
static int fdt_add_rtc(struct fdt_ctx *c)
{
	char name[32];

	snprintf(name, sizeof(name), "pl031@%" PRIx64, (uint64_t)LAYOUT_RTC_BASE);
	RUN(begin_node(c, name));
	RUN(prop_strings(c, "compatible", "arm,pl031\0arm,primecell"));
	RUN(prop_reg(c, LAYOUT_RTC_BASE, LAYOUT_RTC_SIZE));
	RUN(prop_spi(c, LAYOUT_IRQ_RTC, IRQ_TYPE_LEVEL_HIGH));
	RUN(prop_apb_pclk(c));
	return end_node(c, name);
}

/*
 * bindings/gpio/pl061-gpio.yaml and bindings/input/gpio-keys.yaml: the
 * power button as a PL061 line, so a shutdown asked for by the host
 * reaches the guest (systemd-logind, acpid) as KEY_POWER.
 */
static int fdt_add_gpio_keys(struct fdt_ctx *c)
{
	const uint32_t gpios[] = { PHANDLE_GPIO, LAYOUT_GPIO_POWER_LINE, 0 };
	char name[32];

	if (!c->p->gpio_power_key)
		return 0;

	snprintf(name, sizeof(name), "pl061@%" PRIx64, (uint64_t)LAYOUT_GPIO_BASE);
	RUN(begin_node(c, name));
	RUN(prop_strings(c, "compatible", "arm,pl061\0arm,primecell"));
	RUN(prop_reg(c, LAYOUT_GPIO_BASE, LAYOUT_GPIO_SIZE));
	RUN(prop_spi(c, LAYOUT_IRQ_GPIO, IRQ_TYPE_LEVEL_HIGH));
	RUN(prop_empty(c, "gpio-controller"));
	RUN(prop_u32(c, "#gpio-cells", 2));
	RUN(prop_apb_pclk(c));
	RUN(prop_u32(c, "phandle", PHANDLE_GPIO));
	RUN(end_node(c, name));

	RUN(begin_node(c, "gpio-keys"));
	RUN(prop_string(c, "compatible", "gpio-keys"));
	RUN(begin_node(c, "poweroff"));
	RUN(prop_string(c, "label", "GPIO Key Poweroff"));
	RUN(prop_u32(c, "linux,code", KEY_POWER));
	RUN(prop_cells(c, "gpios", gpios, 3));
	RUN(end_node(c, "poweroff"));
	return end_node(c, "gpio-keys");
}

/*
 * bindings/virtio/mmio.yaml: one node per slot, edge-triggered (the
 * transport raises the line per notification).  Guest memory is coherent
 * with the "device", which is the host CPU.
 */
static int fdt_add_virtio(struct fdt_ctx *c)
{
	char name[32];

	for (unsigned i = 0; i < c->p->nvirtio; i++) {
		uint64_t base = LAYOUT_VIRTIO_BASE + i * LAYOUT_VIRTIO_STRIDE;

		snprintf(name, sizeof(name), "virtio_mmio@%" PRIx64, base);
		RUN(begin_node(c, name));
		RUN(prop_string(c, "compatible", "virtio,mmio"));
		RUN(prop_reg(c, base, LAYOUT_VIRTIO_STRIDE));
		RUN(prop_spi(c, LAYOUT_IRQ_VIRTIO + i, IRQ_TYPE_EDGE_RISING));
		RUN(prop_empty(c, "dma-coherent"));
		RUN(end_node(c, name));
	}
	return 0;
}

/*
 * bindings/chosen.yaml (dt-schema).  An empty command line is left out:
 * the kernel treats a missing and an empty bootargs alike (CONFIG_CMDLINE).
 * linux,initrd-end is exclusive.
 */
static int fdt_add_chosen(struct fdt_ctx *c)
{
	const struct fdt_params *p = c->p;
	char path[40];

	RUN(begin_node(c, "chosen"));
	if (p->cmdline && p->cmdline[0])
		RUN(prop_string(c, "bootargs", p->cmdline));
	path[0] = '/';
	uart_name(path + 1, sizeof(path) - 1);
	RUN(prop_string(c, "stdout-path", path));
	if (p->initrd_size) {
		RUN(prop_u64(c, "linux,initrd-start", p->initrd_base));
		RUN(prop_u64(c, "linux,initrd-end", p->initrd_base + p->initrd_size));
	}
	if (p->rng_seed)
		RUN(prop_bytes(c, "rng-seed", p->rng_seed, RNG_SEED_SIZE));
	if (p->kaslr_seed)
		RUN(prop_u64(c, "kaslr-seed", p->kaslr_seed));
	return end_node(c, "chosen");
}

/* ---- the tree ---- */

/* What the layout code cannot have checked, or what would make a bad tree. */
static int check_params(struct fdt_ctx *c)
{
	const struct fdt_params *p = c->p;
	const struct vm_config *cfg = p->cfg;
	unsigned max;

	if (!cfg)
		return bad_param(c, "no VM configuration");
	if (cfg->arch != GUEST_AARCH64 && cfg->arch != GUEST_AARCH32)
		return bad_param(c, "unknown guest architecture %d", (int)cfg->arch);
	if (p->gic != GIC_V2 && p->gic != GIC_V3)
		return bad_param(c, "GIC version %d is not resolved to 2 or 3",
				 (int)p->gic);
	max = p->gic == GIC_V3 ? LAYOUT_MAX_VCPUS_GICV3 : LAYOUT_MAX_VCPUS_GICV2;
	if (cfg->vcpus < 1 || cfg->vcpus > max)
		return bad_param(c, "%u vCPUs: GICv%d takes 1 to %u", cfg->vcpus,
				 (int)p->gic, max);
	if (!p->mpidr)
		return bad_param(c, "no MPIDR values for the vCPUs");
	for (unsigned i = 0; i < cfg->vcpus; i++)
		for (unsigned j = 0; j < i; j++)
			if (((p->mpidr[i] ^ p->mpidr[j]) & MPIDR_HWID_MASK) == 0)
				return bad_param(c, "vCPUs %u and %u have the same MPIDR affinity %#" PRIx64,
						 j, i, (uint64_t)(p->mpidr[i] & MPIDR_HWID_MASK));
	if (cfg->nbanks < 1 || cfg->nbanks > LAYOUT_MAX_BANKS)
		return bad_param(c, "%u memory banks: 1 to %d allowed", cfg->nbanks,
				 LAYOUT_MAX_BANKS);
	for (unsigned i = 0; i < cfg->nbanks; i++)
		if (!cfg->banks[i].size)
			return bad_param(c, "memory bank %u is empty", i);
	if (p->nvirtio > LAYOUT_VIRTIO_SLOTS)
		return bad_param(c, "%u virtio-mmio slots: at most %d", p->nvirtio,
				 LAYOUT_VIRTIO_SLOTS);
	if (p->initrd_size && p->initrd_base + p->initrd_size < p->initrd_base)
		return bad_param(c, "initrd wraps around the address space");
	return 0;
}

static int fdt_add_root(struct fdt_ctx *c)
{
	RUN(prop_string(c, "compatible", "linux,dummy-virt"));
	RUN(prop_string(c, "model", "armvmd"));
	RUN(prop_u32(c, "#address-cells", 2));
	RUN(prop_u32(c, "#size-cells", 2));
	return prop_u32(c, "interrupt-parent", PHANDLE_GIC);
}

int fdt_build(const struct fdt_params *p, void *buf, size_t size,
	      char *msg, size_t msglen)
{
	static int (*const nodes[])(struct fdt_ctx *) = {
		fdt_add_cpus, fdt_add_psci, fdt_add_memory, fdt_add_gic,
		fdt_add_timer, fdt_add_clock, fdt_add_uart, fdt_add_rtc,
		fdt_add_gpio_keys, fdt_add_virtio, fdt_add_chosen,
	};
	struct fdt_ctx ctx = {
		.fdt = buf, .p = p, .msg = msg, .msglen = msglen,
	};
	struct fdt_ctx *c = &ctx;

	if (msg && msglen)
		msg[0] = '\0';
	if (!p || !buf)
		return bad_param(c, "no parameters or no buffer");
	RUN(check_params(c));
	c->cfg = p->cfg;
	c->flavour = &flavours[p->cfg->arch];

	/* no search of the strings block for every property name */
	TRY(c, fdt_create_with_flags(buf, size > INT_MAX ? INT_MAX : (int)size,
				     FDT_CREATE_FLAG_NO_NAME_DEDUP),
	    "create in a %zu byte buffer", size);
	TRY(c, fdt_finish_reservemap(buf), "reserve map");
	RUN(begin_node(c, ""));
	RUN(fdt_add_root(c));
	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++)
		RUN(nodes[i](c));
	RUN(end_node(c, "/"));
	TRY(c, fdt_finish(buf), "finish");
	return 0;
}

int fdt_patch_user(const void *user, size_t len, void *buf, size_t size,
		   const char *cmdline, uint64_t initrd_base, uint64_t initrd_size,
		   char *msg, size_t msglen)
{
	struct fdt_ctx ctx = { .msg = msg, .msglen = msglen };
	struct fdt_ctx *c = &ctx;
	int chosen;

	if (msg && msglen)
		msg[0] = '\0';
	if (!user || !buf)
		return bad_param(c, "no device tree or no buffer");
	if (len > INT_MAX || size > INT_MAX)
		return bad_param(c, "a %zu byte device tree into %zu bytes", len, size);
	if (initrd_size && initrd_base + initrd_size < initrd_base)
		return bad_param(c, "initrd wraps around the address space");
	/* the file may have changed since the plan looked at it */
	if (image_check_dtb(user, len, msg, msglen) < 0)
		return -FDT_ERR_BADSTRUCTURE;
	TRY(c, fdt_open_into(user, buf, (int)size), "open into %zu bytes", size);
	chosen = fdt_path_offset(buf, "/chosen");
	if (chosen == -FDT_ERR_NOTFOUND)
		chosen = fdt_add_subnode(buf, 0, "chosen");
	TRY(c, chosen, "node /chosen");
	if (cmdline && cmdline[0])
		TRY(c, fdt_setprop_string(buf, chosen, "bootargs", cmdline),
		    "property bootargs");
	if (initrd_size) {
		TRY(c, fdt_setprop_u64(buf, chosen, "linux,initrd-start", initrd_base),
		    "property linux,initrd-start");
		TRY(c, fdt_setprop_u64(buf, chosen, "linux,initrd-end",
				       initrd_base + initrd_size),
		    "property linux,initrd-end");
	}
	TRY(c, fdt_pack(buf), "pack");
	/* libfdt's edits can leave an odd (but valid) tree invalid: the
	 * guest gets only a tree that checks */
	TRY(c, fdt_check_full(buf, size), "the patched device tree");
	return 0;
}
