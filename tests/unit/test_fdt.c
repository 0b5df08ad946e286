// SPDX-License-Identifier: MIT
/*
 * The guest device tree: three machines built and read back with libfdt
 * (values, phandles, /chosen), then decompiled by dtc, which must accept the
 * blob without a warning and print each node as expected.  Plus the errors:
 * buffers too small, parameters that describe no machine.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libfdt.h>

#include "arm64/fdt.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
/* a 64-bit value as the two cells dtc prints and libfdt stores */
#define CELLS64(x)	(uint32_t)((uint64_t)(x) >> 32), (uint32_t)(x)

#define RAM_1G		(1ULL << 30)
#define INITRD_BASE	(LAYOUT_RAM_BASE + 0x8000000)
#define INITRD_SIZE	0x123400ULL
#define KASLR_SEED	0x0123456789abcdefULL

struct machine {
	struct vm_config cfg;
	uint64_t mpidr[8];
	uint8_t seed[64];
	struct fdt_params p;
	uint64_t blob[FDT_MAX_SIZE / 8];	/* 8-byte aligned for libfdt */
	char msg[256];
};

static struct machine m;

/* ---- the three machines ---- */

/* (a) aarch64, 1 vCPU, GICv3, one bank, no initrd, no extras */
static void machine_a(void)
{
	memset(&m, 0, sizeof(m));
	m.cfg.arch = GUEST_AARCH64;
	m.cfg.vcpus = 1;
	m.cfg.nbanks = 1;
	m.cfg.banks[0].base = LAYOUT_RAM_BASE;
	m.cfg.banks[0].size = RAM_1G / 2;
	m.cfg.gic = GIC_V3;
	m.mpidr[0] = 0x80000000;	/* RES1 bit 31 must not reach reg */
	m.p.cfg = &m.cfg;
	m.p.gic = GIC_V3;
	m.p.mpidr = m.mpidr;
	m.p.cmdline = "console=ttyS0 earlycon";
}

/*
 * (b) aarch64, 4 vCPUs on two clusters, GICv2, two banks, initrd, seeds,
 * the power key and two virtio slots.
 */
static void machine_b(void)
{
	memset(&m, 0, sizeof(m));
	m.cfg.arch = GUEST_AARCH64;
	m.cfg.vcpus = 4;
	m.cfg.nbanks = 2;
	m.cfg.banks[0].base = LAYOUT_RAM_BASE;
	m.cfg.banks[0].size = RAM_1G;
	m.cfg.banks[1].base = 4 * RAM_1G;
	m.cfg.banks[1].size = 2 * RAM_1G;
	m.cfg.gic = GIC_V2;
	/* Aff1 in the last two; MT (bit 24) set in the last, masked out */
	m.mpidr[0] = 0x80000000;
	m.mpidr[1] = 0x80000001;
	m.mpidr[2] = 0x80000100;
	m.mpidr[3] = 0x81000101;
	for (unsigned i = 0; i < sizeof(m.seed); i++)
		m.seed[i] = (uint8_t)(0xa0 + i);
	m.p.cfg = &m.cfg;
	m.p.gic = GIC_V2;
	m.p.mpidr = m.mpidr;
	m.p.cmdline = "root=/dev/vda rw";
	m.p.initrd_base = INITRD_BASE;
	m.p.initrd_size = INITRD_SIZE;
	m.p.rng_seed = m.seed;
	m.p.kaslr_seed = KASLR_SEED;
	m.p.gpio_power_key = true;
	m.p.nvirtio = 2;
}

/* (c) aarch32, 2 vCPUs, GICv2, one bank below 4 GiB, empty command line */
static void machine_c(void)
{
	memset(&m, 0, sizeof(m));
	m.cfg.arch = GUEST_AARCH32;
	m.cfg.vcpus = 2;
	m.cfg.nbanks = 1;
	m.cfg.banks[0].base = LAYOUT_RAM_BASE;
	m.cfg.banks[0].size = RAM_1G / 4;
	m.cfg.gic = GIC_V2;
	m.mpidr[0] = 0x80000000;
	m.mpidr[1] = 0x80000001;
	m.p.cfg = &m.cfg;
	m.p.gic = GIC_V2;
	m.p.mpidr = m.mpidr;
	m.p.cmdline = "";
	m.p.nvirtio = 1;
}

static void *build(void)
{
	int r = fdt_build(&m.p, m.blob, sizeof(m.blob), m.msg, sizeof(m.msg));

	if (r)
		fail_msg("fdt_build: %d %s", r, m.msg);
	assert_int_equal(fdt_check_full(m.blob, sizeof(m.blob)), 0);
	assert_true(fdt_totalsize(m.blob) <= sizeof(m.blob));
	return m.blob;
}

/* ---- libfdt checks ---- */

static int node(const void *fdt, const char *path)
{
	int off = fdt_path_offset(fdt, path);

	if (off < 0)
		fail_msg("no node %s: %s", path, fdt_strerror(off));
	return off;
}

static void no_node(const void *fdt, const char *path)
{
	if (fdt_path_offset(fdt, path) >= 0)
		fail_msg("unexpected node %s", path);
}

static const void *prop(const void *fdt, const char *path, const char *name,
			int *len)
{
	const void *v = fdt_getprop(fdt, node(fdt, path), name, len);

	if (!v)
		fail_msg("%s: no property %s", path, name);
	return v;
}

static void no_prop(const void *fdt, const char *path, const char *name)
{
	if (fdt_getprop(fdt, node(fdt, path), name, NULL))
		fail_msg("%s: unexpected property %s", path, name);
}

/* a string, or a string list given as one literal with its final NUL */
static void expect_bytes(const void *fdt, const char *path, const char *name,
			 const void *want, size_t wantlen)
{
	int len;
	const void *v = prop(fdt, path, name, &len);

	if ((size_t)len != wantlen || memcmp(v, want, wantlen))
		fail_msg("%s: %s differs (%d bytes, want %zu)", path, name, len,
			 wantlen);
}

#define expect_str(fdt, path, name, lit) \
	expect_bytes((fdt), (path), (name), (lit), sizeof(lit))

static void expect_cells(const void *fdt, const char *path, const char *name,
			 const uint32_t *want, size_t n)
{
	int len;
	const fdt32_t *v = prop(fdt, path, name, &len);

	if ((size_t)len != 4 * n)
		fail_msg("%s: %s is %d bytes, want %zu", path, name, len, 4 * n);
	for (size_t i = 0; i < n; i++)
		if (fdt32_ld(&v[i]) != want[i])
			fail_msg("%s: %s cell %zu is %#x, want %#x", path, name,
				 i, fdt32_ld(&v[i]), want[i]);
}

static void expect_u32(const void *fdt, const char *path, const char *name,
		       uint32_t want)
{
	expect_cells(fdt, path, name, &want, 1);
}

static void expect_u64(const void *fdt, const char *path, const char *name,
		       uint64_t want)
{
	const uint32_t cells[] = { CELLS64(want) };

	expect_cells(fdt, path, name, cells, 2);
}

static void expect_empty(const void *fdt, const char *path, const char *name)
{
	int len;

	prop(fdt, path, name, &len);
	assert_int_equal(len, 0);
}

/* the node a one-cell phandle property points to is `target` */
static void expect_phandle(const void *fdt, const char *path, const char *name,
			   const char *target)
{
	int len;
	const fdt32_t *v = prop(fdt, path, name, &len);
	int off;

	assert_true(len >= 4);
	off = fdt_node_offset_by_phandle(fdt, fdt32_ld(v));
	if (off < 0 || off != node(fdt, target))
		fail_msg("%s: %s does not lead to %s", path, name, target);
}

static int count_compatible(const void *fdt, const char *compat)
{
	int n = 0;

	for (int off = fdt_node_offset_by_compatible(fdt, -1, compat); off >= 0;
	     off = fdt_node_offset_by_compatible(fdt, off, compat))
		n++;
	return n;
}

/* the expected device nodes, named from layout.h like fdt.c does */
static char gic_path[64], uart_path[64], rtc_path[64], gpio_path[64];

static void paths(void)
{
	snprintf(gic_path, sizeof(gic_path), "/intc@%llx", LAYOUT_GIC_DIST_BASE);
	snprintf(uart_path, sizeof(uart_path), "/serial@%llx", LAYOUT_UART_BASE);
	snprintf(rtc_path, sizeof(rtc_path), "/pl031@%llx", LAYOUT_RTC_BASE);
	snprintf(gpio_path, sizeof(gpio_path), "/pl061@%llx", LAYOUT_GPIO_BASE);
}

/* what every machine has: root, psci, clock, UART, RTC, /chosen's stdout */
static void check_common(const void *fdt)
{
	const uint32_t uart_reg[] = { CELLS64(LAYOUT_UART_BASE), CELLS64(LAYOUT_UART_SIZE) };
	const uint32_t uart_irq[] = { 0, LAYOUT_IRQ_UART, 4 };
	const uint32_t rtc_reg[] = { CELLS64(LAYOUT_RTC_BASE), CELLS64(LAYOUT_RTC_SIZE) };
	const uint32_t rtc_irq[] = { 0, LAYOUT_IRQ_RTC, 4 };
	int len;
	const char *stdout_path;

	paths();
	expect_str(fdt, "/", "compatible", "linux,dummy-virt");
	expect_str(fdt, "/", "model", "armvmd");
	expect_u32(fdt, "/", "#address-cells", 2);
	expect_u32(fdt, "/", "#size-cells", 2);
	expect_phandle(fdt, "/", "interrupt-parent", gic_path);
	expect_u32(fdt, gic_path, "#interrupt-cells", 3);
	expect_empty(fdt, gic_path, "interrupt-controller");

	expect_str(fdt, "/psci", "compatible", "arm,psci-1.0\0arm,psci-0.2");
	expect_str(fdt, "/psci", "method", "hvc");

	expect_str(fdt, "/apb-pclk", "compatible", "fixed-clock");
	expect_u32(fdt, "/apb-pclk", "#clock-cells", 0);
	expect_u32(fdt, "/apb-pclk", "clock-frequency", 24000000);
	expect_str(fdt, "/apb-pclk", "clock-output-names", "clk24mhz");

	expect_str(fdt, uart_path, "compatible", "ns16550a");
	expect_cells(fdt, uart_path, "reg", uart_reg, ARRAY_SIZE(uart_reg));
	expect_cells(fdt, uart_path, "interrupts", uart_irq, 3);
	expect_u32(fdt, uart_path, "clock-frequency", 1843200);
	expect_u32(fdt, uart_path, "reg-shift", 0);
	expect_u32(fdt, uart_path, "reg-io-width", 1);
	assert_int_equal(fdt_node_offset_by_compatible(fdt, -1, "ns16550a"),
			 node(fdt, uart_path));

	expect_str(fdt, rtc_path, "compatible", "arm,pl031\0arm,primecell");
	expect_cells(fdt, rtc_path, "reg", rtc_reg, ARRAY_SIZE(rtc_reg));
	expect_cells(fdt, rtc_path, "interrupts", rtc_irq, 3);
	expect_phandle(fdt, rtc_path, "clocks", "/apb-pclk");
	expect_str(fdt, rtc_path, "clock-names", "apb_pclk");
	assert_int_equal(fdt_node_offset_by_compatible(fdt, -1, "arm,pl031"),
			 node(fdt, rtc_path));

	/* stdout-path names the UART node */
	stdout_path = prop(fdt, "/chosen", "stdout-path", &len);
	assert_int_equal(node(fdt, stdout_path), node(fdt, uart_path));
}

static void check_cpu(const void *fdt, const char *path, uint32_t reg,
		      const char *compat)
{
	expect_str(fdt, path, "device_type", "cpu");
	expect_bytes(fdt, path, "compatible", compat, strlen(compat) + 1);
	expect_str(fdt, path, "enable-method", "psci");
	expect_u32(fdt, path, "reg", reg);
}

static void check_timer(const void *fdt, uint32_t flags, const char *compat)
{
	const uint32_t irqs[] = {
		1, LAYOUT_PPI_TIMER_SEC, flags, 1, LAYOUT_PPI_TIMER_PHYS, flags,
		1, LAYOUT_PPI_TIMER_VIRT, flags, 1, LAYOUT_PPI_TIMER_HYP, flags,
	};

	expect_bytes(fdt, "/timer", "compatible", compat, strlen(compat) + 1);
	expect_cells(fdt, "/timer", "interrupts", irqs, ARRAY_SIZE(irqs));
	expect_empty(fdt, "/timer", "always-on");
}

static void check_gicv2(const void *fdt)
{
	const uint32_t reg[] = {
		CELLS64(LAYOUT_GIC_DIST_BASE), CELLS64(LAYOUT_GIC_DIST_SIZE),
		CELLS64(LAYOUT_GIC_CPU_BASE), CELLS64(LAYOUT_GIC_CPU_SIZE),
	};

	expect_str(fdt, gic_path, "compatible", "arm,cortex-a15-gic");
	expect_cells(fdt, gic_path, "reg", reg, ARRAY_SIZE(reg));
	no_prop(fdt, gic_path, "#redistributor-regions");
}

static void check_virtio(const void *fdt, unsigned n)
{
	char path[64];

	assert_int_equal(count_compatible(fdt, "virtio,mmio"), n);
	for (unsigned i = 0; i < n; i++) {
		uint64_t base = LAYOUT_VIRTIO_BASE + i * LAYOUT_VIRTIO_STRIDE;
		const uint32_t reg[] = { CELLS64(base), CELLS64(LAYOUT_VIRTIO_STRIDE) };
		const uint32_t irq[] = { 0, LAYOUT_IRQ_VIRTIO + i, 1 };

		snprintf(path, sizeof(path), "/virtio_mmio@%" PRIx64, base);
		expect_str(fdt, path, "compatible", "virtio,mmio");
		expect_cells(fdt, path, "reg", reg, ARRAY_SIZE(reg));
		expect_cells(fdt, path, "interrupts", irq, 3);
		expect_empty(fdt, path, "dma-coherent");
	}
}

static void test_gicv3_one_bank(void **state)
{
	const void *fdt;
	const uint32_t gic_reg[] = {
		CELLS64(LAYOUT_GIC_DIST_BASE), CELLS64(LAYOUT_GIC_DIST_SIZE),
		CELLS64(LAYOUT_GIC_REDIST_BASE), CELLS64(LAYOUT_GIC_REDIST_STRIDE),
	};
	const uint32_t mem_reg[] = { CELLS64(LAYOUT_RAM_BASE), CELLS64(RAM_1G / 2) };

	machine_a();
	fdt = build();
	check_common(fdt);

	expect_u32(fdt, "/cpus", "#address-cells", 1);
	expect_u32(fdt, "/cpus", "#size-cells", 0);
	check_cpu(fdt, "/cpus/cpu@0", 0, "arm,arm-v8");
	assert_int_equal(count_compatible(fdt, "arm,arm-v8"), 1);

	expect_str(fdt, "/memory@80000000", "device_type", "memory");
	expect_cells(fdt, "/memory@80000000", "reg", mem_reg, ARRAY_SIZE(mem_reg));

	expect_str(fdt, gic_path, "compatible", "arm,gic-v3");
	expect_cells(fdt, gic_path, "reg", gic_reg, ARRAY_SIZE(gic_reg));
	expect_u32(fdt, gic_path, "#redistributor-regions", 1);
	check_timer(fdt, 8, "arm,armv8-timer");

	no_node(fdt, gpio_path);
	no_node(fdt, "/gpio-keys");
	check_virtio(fdt, 0);

	expect_str(fdt, "/chosen", "bootargs", "console=ttyS0 earlycon");
	no_prop(fdt, "/chosen", "linux,initrd-start");
	no_prop(fdt, "/chosen", "linux,initrd-end");
	no_prop(fdt, "/chosen", "rng-seed");
	no_prop(fdt, "/chosen", "kaslr-seed");
}

static void test_gicv2_everything(void **state)
{
	const void *fdt;
	const uint32_t mem0[] = { CELLS64(LAYOUT_RAM_BASE), CELLS64(RAM_1G) };
	const uint32_t mem1[] = { CELLS64(4 * RAM_1G), CELLS64(2 * RAM_1G) };
	const uint32_t gpio_irq[] = { 0, LAYOUT_IRQ_GPIO, 4 };
	const uint32_t gpio_reg[] = { CELLS64(LAYOUT_GPIO_BASE), CELLS64(LAYOUT_GPIO_SIZE) };
	const fdt32_t *gpios;
	const uint8_t *seed;
	int len;

	machine_b();
	fdt = build();
	check_common(fdt);

	expect_u32(fdt, "/cpus", "#address-cells", 1);
	check_cpu(fdt, "/cpus/cpu@0", 0x000, "arm,arm-v8");
	check_cpu(fdt, "/cpus/cpu@1", 0x001, "arm,arm-v8");
	check_cpu(fdt, "/cpus/cpu@100", 0x100, "arm,arm-v8");
	check_cpu(fdt, "/cpus/cpu@101", 0x101, "arm,arm-v8");
	assert_int_equal(count_compatible(fdt, "arm,arm-v8"), 4);

	expect_cells(fdt, "/memory@80000000", "reg", mem0, ARRAY_SIZE(mem0));
	expect_cells(fdt, "/memory@100000000", "reg", mem1, ARRAY_SIZE(mem1));
	expect_str(fdt, "/memory@100000000", "device_type", "memory");

	check_gicv2(fdt);
	/* active low, wired to CPUs 0-3 */
	check_timer(fdt, 0xf08, "arm,armv8-timer");

	expect_str(fdt, gpio_path, "compatible", "arm,pl061\0arm,primecell");
	expect_cells(fdt, gpio_path, "reg", gpio_reg, ARRAY_SIZE(gpio_reg));
	expect_cells(fdt, gpio_path, "interrupts", gpio_irq, 3);
	expect_empty(fdt, gpio_path, "gpio-controller");
	expect_u32(fdt, gpio_path, "#gpio-cells", 2);
	expect_phandle(fdt, gpio_path, "clocks", "/apb-pclk");
	expect_str(fdt, gpio_path, "clock-names", "apb_pclk");
	assert_int_equal(count_compatible(fdt, "arm,primecell"), 2);

	expect_str(fdt, "/gpio-keys", "compatible", "gpio-keys");
	expect_str(fdt, "/gpio-keys/poweroff", "label", "GPIO Key Poweroff");
	expect_u32(fdt, "/gpio-keys/poweroff", "linux,code", 116);
	/* <&pl061 line flags>: line 3, active high */
	expect_phandle(fdt, "/gpio-keys/poweroff", "gpios", gpio_path);
	gpios = prop(fdt, "/gpio-keys/poweroff", "gpios", &len);
	assert_int_equal(len, 12);
	assert_int_equal(fdt32_ld(&gpios[1]), 3);
	assert_int_equal(fdt32_ld(&gpios[2]), 0);

	check_virtio(fdt, 2);

	expect_str(fdt, "/chosen", "bootargs", "root=/dev/vda rw");
	expect_u64(fdt, "/chosen", "linux,initrd-start", INITRD_BASE);
	expect_u64(fdt, "/chosen", "linux,initrd-end", INITRD_BASE + INITRD_SIZE);
	expect_u64(fdt, "/chosen", "kaslr-seed", KASLR_SEED);
	seed = prop(fdt, "/chosen", "rng-seed", &len);
	assert_int_equal(len, 64);
	assert_memory_equal(seed, m.seed, 64);
}

static void test_aarch32(void **state)
{
	const void *fdt;

	machine_c();
	fdt = build();
	check_common(fdt);

	check_cpu(fdt, "/cpus/cpu@0", 0, "arm,cortex-a15");
	check_cpu(fdt, "/cpus/cpu@1", 1, "arm,cortex-a15");
	assert_int_equal(count_compatible(fdt, "arm,arm-v8"), 0);
	check_timer(fdt, 0x308, "arm,armv7-timer");
	check_gicv2(fdt);
	node(fdt, "/memory@80000000");
	check_virtio(fdt, 1);
	/* an empty command line is left out */
	no_prop(fdt, "/chosen", "bootargs");
}

/* Aff3 takes a second address cell on aarch64; aarch32 cannot say it. */
static void test_mpidr_aff3(void **state)
{
	const void *fdt;

	machine_a();
	m.cfg.vcpus = 2;
	m.mpidr[1] = 0x180000000ULL;	/* Aff3 1, RES1 bit 31 */
	fdt = build();
	expect_u32(fdt, "/cpus", "#address-cells", 2);
	expect_u64(fdt, "/cpus/cpu@0", "reg", 0);
	expect_u64(fdt, "/cpus/cpu@100000000", "reg", 0x100000000ULL);

	machine_c();
	m.mpidr[1] = 0x180000000ULL;
	assert_int_equal(fdt_build(&m.p, m.blob, sizeof(m.blob), m.msg,
				   sizeof(m.msg)), -FDT_ERR_BADVALUE);
	assert_non_null(strstr(m.msg, "Aff3"));
}

/*
 * Every buffer smaller than the tree fails with FDT_ERR_NOSPACE and says
 * where, and nothing past the buffer is written.
 */
static void test_small_buffer(void **state)
{
	static uint64_t guard[FDT_MAX_SIZE / 8];
	size_t need, sizes[8];
	unsigned n = 0;

	machine_b();
	build();
	need = fdt_totalsize(m.blob);
	sizes[n++] = 0;
	sizes[n++] = 16;
	sizes[n++] = 40;	/* header only */
	sizes[n++] = 200;
	sizes[n++] = need / 2;
	sizes[n++] = need - 1;
	for (unsigned i = 0; i < n; i++) {
		int r;

		memset(guard, 0xa5, sizeof(guard));
		m.msg[0] = '\0';
		r = fdt_build(&m.p, guard, sizes[i], m.msg, sizeof(m.msg));
		if (r != -FDT_ERR_NOSPACE)
			fail_msg("size %zu: %d (%s)", sizes[i], r, m.msg);
		assert_non_null(strstr(m.msg, "FDT_ERR_NOSPACE"));
		for (size_t b = sizes[i]; b < sizeof(guard); b++)
			if (((uint8_t *)guard)[b] != 0xa5)
				fail_msg("size %zu: byte %zu written", sizes[i], b);
	}
	/* exactly enough is enough */
	assert_int_equal(fdt_build(&m.p, guard, need, NULL, 0), 0);
	assert_int_equal(fdt_check_full(guard, need), 0);
	/* a message buffer of one byte stays a string */
	assert_int_equal(fdt_build(&m.p, guard, 8, m.msg, 1), -FDT_ERR_NOSPACE);
	assert_int_equal(m.msg[0], '\0');
}

static void expect_bad(const char *what)
{
	int r = fdt_build(&m.p, m.blob, sizeof(m.blob), m.msg, sizeof(m.msg));

	if (r != -FDT_ERR_BADVALUE)
		fail_msg("%s: %d", what, r);
	if (!m.msg[0])
		fail_msg("%s: no message", what);
	/* and without a message buffer, no crash either */
	assert_int_equal(fdt_build(&m.p, m.blob, sizeof(m.blob), NULL, 0),
			 -FDT_ERR_BADVALUE);
}

static void test_bad_params(void **state)
{
	machine_a();
	m.p.gic = GIC_AUTO;
	expect_bad("GIC_AUTO");
	machine_a();
	m.cfg.vcpus = 0;
	expect_bad("no vCPUs");
	machine_b();
	m.cfg.vcpus = LAYOUT_MAX_VCPUS_GICV2 + 1;
	expect_bad("9 vCPUs on GICv2");
	machine_a();
	m.p.mpidr = NULL;
	expect_bad("no MPIDR");
	machine_b();
	m.mpidr[3] = 0x80000100;	/* same as vCPU 2 */
	expect_bad("duplicate MPIDR");
	machine_a();
	m.cfg.nbanks = 0;
	expect_bad("no memory");
	machine_a();
	m.p.nvirtio = LAYOUT_VIRTIO_SLOTS + 1;
	expect_bad("too many virtio slots");
	machine_a();
	m.p.cfg = NULL;
	expect_bad("no config");
	assert_int_equal(fdt_build(NULL, m.blob, sizeof(m.blob), m.msg,
				   sizeof(m.msg)), -FDT_ERR_BADVALUE);
}

/* ---- dtc ---- */

static bool have_dtc(void)
{
	return system("command -v dtc >/dev/null 2>&1") == 0;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* dtc -I dtb -O dts of the blob: exit 0 and no warning, or the test fails */
static char *decompile(const void *fdt)
{
	const char *tmp = getenv("TMPDIR");
	char dir[256], cmd[1024], path[300];
	char *dts, *errors;
	FILE *f;
	int rc;

	snprintf(dir, sizeof(dir), "%s/test_fdt.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/guest.dtb", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(fdt, 1, fdt_totalsize(fdt), f), fdt_totalsize(fdt));
	fclose(f);
	snprintf(cmd, sizeof(cmd),
		 "dtc -I dtb -O dts -o %s/guest.dts %s/guest.dtb 2>%s/errors",
		 dir, dir, dir);
	rc = system(cmd);
	snprintf(path, sizeof(path), "%s/errors", dir);
	errors = slurp(path);
	if (rc != 0 || errors[0])
		fail_msg("dtc exit %d: %s", WIFEXITED(rc) ? WEXITSTATUS(rc) : -1,
			 errors);
	free(errors);
	snprintf(path, sizeof(path), "%s/guest.dts", dir);
	dts = slurp(path);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return dts;
}

/*
 * The text of the node `name` ("cpu@0", or "/" for the root) from its
 * "name {" line to the "};" at the same indent: checks then stay inside
 * one node.
 */
static char *dts_node(const char *dts, const char *name)
{
	size_t nlen = strlen(name);

	for (const char *p = dts; (p = strstr(p, name)); p += nlen) {
		const char *line = p, *end;
		char close[40] = "\n";
		int indent = 0;

		while (line > dts && line[-1] == '\t') {
			line--;
			indent++;
		}
		if ((line > dts && line[-1] != '\n') || strncmp(p + nlen, " {\n", 3))
			continue;
		memset(close + 1, '\t', (size_t)indent);
		strcpy(close + 1 + indent, "};");
		end = strstr(p, close);
		assert_non_null(end);
		return strndup(line, (size_t)(end - line) + strlen(close));
	}
	fail_msg("dts has no node %s:\n%s", name, dts);
	return NULL;
}

static void dts_has(const char *text, const char *want)
{
	if (!strstr(text, want))
		fail_msg("dts lacks '%s' in:\n%s", want, text);
}

static void dts_lacks(const char *text, const char *what)
{
	if (strstr(text, what))
		fail_msg("dts has '%s' in:\n%s", what, text);
}

/* "name = <0x00 0x8000000>;" the way dtc 1.6 prints cells */
static void dts_cells(const char *text, const char *name, const uint32_t *v,
		      size_t n)
{
	char want[512];
	size_t len;

	len = (size_t)snprintf(want, sizeof(want), "%s = <", name);
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(want + len, sizeof(want) - len, "%s0x%02x",
					i ? " " : "", v[i]);
	snprintf(want + len, sizeof(want) - len, ">;");
	dts_has(text, want);
}

/* each check names the node, then what must be in it */
struct dts_check {
	const char *node;
	const char *text;
};

static void dts_checks(const char *dts, const struct dts_check *checks,
		       size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *t = dts_node(dts, checks[i].node);

		dts_has(t, checks[i].text);
		free(t);
	}
}

/* what every machine's dts holds */
static void dts_common(const char *dts)
{
	static const struct dts_check checks[] = {
		{ "/", "\n\tcompatible = \"linux,dummy-virt\";" },
		{ "/", "\n\tmodel = \"armvmd\";" },
		{ "/", "\n\t#address-cells = <0x02>;" },
		{ "/", "\n\t#size-cells = <0x02>;" },
		{ "/", "\n\tinterrupt-parent = <0x01>;" },
		{ "cpus", "#size-cells = <0x00>;" },
		{ "cpu@0", "device_type = \"cpu\";" },
		{ "cpu@0", "enable-method = \"psci\";" },
		{ "cpu@0", "reg = <0x00>;" },
		{ "psci", "compatible = \"arm,psci-1.0\\0arm,psci-0.2\";" },
		{ "psci", "method = \"hvc\";" },
		{ "memory@80000000", "device_type = \"memory\";" },
		{ "intc@8000000", "#interrupt-cells = <0x03>;" },
		{ "intc@8000000", "interrupt-controller;" },
		{ "intc@8000000", "phandle = <0x01>;" },
		{ "timer", "always-on;" },
		{ "apb-pclk", "compatible = \"fixed-clock\";" },
		{ "apb-pclk", "#clock-cells = <0x00>;" },
		{ "apb-pclk", "clock-frequency = <0x16e3600>;" },
		{ "apb-pclk", "clock-output-names = \"clk24mhz\";" },
		{ "apb-pclk", "phandle = <0x02>;" },
		{ "serial@9000000", "compatible = \"ns16550a\";" },
		{ "serial@9000000", "clock-frequency = <0x1c2000>;" },
		{ "serial@9000000", "interrupts = <0x00 0x01 0x04>;" },
		{ "pl031@9010000", "compatible = \"arm,pl031\\0arm,primecell\";" },
		{ "pl031@9010000", "clocks = <0x02>;" },
		{ "pl031@9010000", "clock-names = \"apb_pclk\";" },
		{ "pl031@9010000", "interrupts = <0x00 0x02 0x04>;" },
		{ "chosen", "stdout-path = \"/serial@9000000\";" },
	};
	const uint32_t uart_reg[] = { CELLS64(LAYOUT_UART_BASE), CELLS64(LAYOUT_UART_SIZE) };
	char *t;

	dts_checks(dts, checks, ARRAY_SIZE(checks));
	t = dts_node(dts, "serial@9000000");
	dts_cells(t, "reg", uart_reg, ARRAY_SIZE(uart_reg));
	free(t);
}

static void test_dts_gicv3(void **state)
{
	static const struct dts_check checks[] = {
		{ "intc@8000000", "compatible = \"arm,gic-v3\";" },
		{ "intc@8000000", "#redistributor-regions = <0x01>;" },
		{ "cpus", "#address-cells = <0x01>;" },
		{ "cpu@0", "compatible = \"arm,arm-v8\";" },
		{ "timer", "compatible = \"arm,armv8-timer\";" },
		{ "timer", "interrupts = <0x01 0x0d 0x08 0x01 0x0e 0x08 0x01 0x0b 0x08 0x01 0x0a 0x08>;" },
		{ "chosen", "bootargs = \"console=ttyS0 earlycon\";" },
	};
	const uint32_t gic_reg[] = {
		CELLS64(LAYOUT_GIC_DIST_BASE), CELLS64(LAYOUT_GIC_DIST_SIZE),
		CELLS64(LAYOUT_GIC_REDIST_BASE), CELLS64(LAYOUT_GIC_REDIST_STRIDE),
	};
	char *dts, *t;

	if (!have_dtc())
		skip();
	machine_a();
	dts = decompile(build());
	dts_common(dts);
	dts_checks(dts, checks, ARRAY_SIZE(checks));
	t = dts_node(dts, "intc@8000000");
	dts_cells(t, "reg", gic_reg, ARRAY_SIZE(gic_reg));
	free(t);
	t = dts_node(dts, "chosen");
	dts_lacks(t, "linux,initrd-start");
	dts_lacks(t, "rng-seed");
	dts_lacks(t, "kaslr-seed");
	free(t);
	dts_lacks(dts, "pl061@");
	dts_lacks(dts, "gpio-keys");
	dts_lacks(dts, "virtio_mmio@");
	free(dts);
}

static void test_dts_gicv2_everything(void **state)
{
	static const struct dts_check checks[] = {
		{ "intc@8000000", "compatible = \"arm,cortex-a15-gic\";" },
		{ "cpu@1", "reg = <0x01>;" },
		{ "cpu@100", "reg = <0x100>;" },
		{ "cpu@101", "reg = <0x101>;" },
		{ "cpu@101", "enable-method = \"psci\";" },
		{ "memory@100000000", "device_type = \"memory\";" },
		{ "memory@100000000", "reg = <0x01 0x00 0x00 0x80000000>;" },
		{ "memory@80000000", "reg = <0x00 0x80000000 0x00 0x40000000>;" },
		{ "timer", "interrupts = <0x01 0x0d 0xf08 0x01 0x0e 0xf08 0x01 0x0b 0xf08 0x01 0x0a 0xf08>;" },
		{ "pl061@9030000", "compatible = \"arm,pl061\\0arm,primecell\";" },
		{ "pl061@9030000", "gpio-controller;" },
		{ "pl061@9030000", "#gpio-cells = <0x02>;" },
		{ "pl061@9030000", "interrupts = <0x00 0x07 0x04>;" },
		{ "pl061@9030000", "phandle = <0x03>;" },
		{ "gpio-keys", "compatible = \"gpio-keys\";" },
		{ "poweroff", "label = \"GPIO Key Poweroff\";" },
		{ "poweroff", "linux,code = <0x74>;" },
		{ "poweroff", "gpios = <0x03 0x03 0x00>;" },
		{ "virtio_mmio@a000000", "compatible = \"virtio,mmio\";" },
		{ "virtio_mmio@a000000", "reg = <0x00 0xa000000 0x00 0x200>;" },
		{ "virtio_mmio@a000000", "interrupts = <0x00 0x10 0x01>;" },
		{ "virtio_mmio@a000000", "dma-coherent;" },
		{ "virtio_mmio@a000200", "reg = <0x00 0xa000200 0x00 0x200>;" },
		{ "virtio_mmio@a000200", "interrupts = <0x00 0x11 0x01>;" },
		{ "chosen", "bootargs = \"root=/dev/vda rw\";" },
		{ "chosen", "linux,initrd-start = <0x00 0x88000000>;" },
		{ "chosen", "linux,initrd-end = <0x00 0x88123400>;" },
		{ "chosen", "kaslr-seed = <0x1234567 0x89abcdef>;" },
		{ "chosen", "rng-seed = <0xa0a1a2a3 0xa4a5a6a7 " },
	};
	const uint32_t gic_reg[] = {
		CELLS64(LAYOUT_GIC_DIST_BASE), CELLS64(LAYOUT_GIC_DIST_SIZE),
		CELLS64(LAYOUT_GIC_CPU_BASE), CELLS64(LAYOUT_GIC_CPU_SIZE),
	};
	char *dts, *t;

	if (!have_dtc())
		skip();
	machine_b();
	dts = decompile(build());
	dts_common(dts);
	dts_checks(dts, checks, ARRAY_SIZE(checks));
	t = dts_node(dts, "intc@8000000");
	dts_cells(t, "reg", gic_reg, ARRAY_SIZE(gic_reg));
	dts_lacks(t, "#redistributor-regions");
	free(t);
	free(dts);
}

static void test_dts_aarch32(void **state)
{
	static const struct dts_check checks[] = {
		{ "cpu@0", "compatible = \"arm,cortex-a15\";" },
		{ "cpu@1", "compatible = \"arm,cortex-a15\";" },
		{ "timer", "compatible = \"arm,armv7-timer\";" },
		{ "timer", "interrupts = <0x01 0x0d 0x308 0x01 0x0e 0x308 0x01 0x0b 0x308 0x01 0x0a 0x308>;" },
		{ "intc@8000000", "compatible = \"arm,cortex-a15-gic\";" },
		{ "memory@80000000", "reg = <0x00 0x80000000 0x00 0x10000000>;" },
		{ "virtio_mmio@a000000", "interrupts = <0x00 0x10 0x01>;" },
	};
	char *dts, *t;

	if (!have_dtc())
		skip();
	machine_c();
	dts = decompile(build());
	dts_common(dts);
	dts_checks(dts, checks, ARRAY_SIZE(checks));
	dts_lacks(dts, "arm,arm-v8");
	t = dts_node(dts, "chosen");
	dts_lacks(t, "bootargs");
	free(t);
	free(dts);
}

/* A user's tree: /chosen gets bootargs and the initrd range, the rest stays,
 * and a tree that does not check is refused with a message. */
static void test_patch_user(void **state)
{
	static char user[4096], out[8192];
	char msg[192];
	const void *v;
	int chosen, len, mem;

	assert_int_equal(fdt_create_empty_tree(user, sizeof(user)), 0);
	mem = fdt_add_subnode(user, 0, "memory@80000000");
	assert_true(mem >= 0);
	assert_int_equal(fdt_setprop_string(user, mem, "device_type", "memory"), 0);
	assert_int_equal(fdt_pack(user), 0);

	assert_int_equal(fdt_patch_user(user, fdt_totalsize(user), out, sizeof(out),
					"console=ttyS0", 0x48000000, 0x100000,
					msg, sizeof(msg)), 0);
	assert_int_equal(fdt_check_full(out, sizeof(out)), 0);
	chosen = fdt_path_offset(out, "/chosen");
	assert_true(chosen >= 0);
	v = fdt_getprop(out, chosen, "bootargs", &len);
	assert_non_null(v);
	assert_string_equal(v, "console=ttyS0");
	v = fdt_getprop(out, chosen, "linux,initrd-end", &len);
	assert_non_null(v);
	assert_int_equal(len, 8);
	assert_true(fdt64_ld(v) == 0x48100000ull);
	assert_true(fdt_path_offset(out, "/memory@80000000") >= 0);

	/* not enough room: an error with a message, not a broken tree */
	assert_true(fdt_patch_user(user, fdt_totalsize(user), out, 64, "x", 0, 0,
				   msg, sizeof(msg)) < 0);
	assert_true(msg[0] != '\0');
	/* garbage */
	memset(user, 0xa5, 64);
	assert_true(fdt_patch_user(user, 64, out, sizeof(out), "x", 0, 0,
				   msg, sizeof(msg)) < 0);
	assert_true(msg[0] != '\0');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gicv3_one_bank),
		cmocka_unit_test(test_gicv2_everything),
		cmocka_unit_test(test_aarch32),
		cmocka_unit_test(test_mpidr_aff3),
		cmocka_unit_test(test_small_buffer),
		cmocka_unit_test(test_bad_params),
		cmocka_unit_test(test_dts_gicv3),
		cmocka_unit_test(test_dts_gicv2_everything),
		cmocka_unit_test(test_dts_aarch32),
		cmocka_unit_test(test_patch_user),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
