/* SPDX-License-Identifier: MIT */
/*
 * Bare-metal benchmark guest (make: build/guests/boottimer.img).
 *
 * A flat binary that starts with its own arm64 Image header, so armvmd's
 * loader (and bench/kvm-floor) take it like a kernel: entered at its first
 * byte with the MMU off.  It writes the magic to the boot timer's MARK
 * register at once (mark 1), then optionally reads the boot timer's ID
 * register `loops` times (one MMIO exit to the VMM each) and writes MARK
 * again (mark 2), then either powers off (PSCI SYSTEM_OFF) or waits for
 * interrupts forever.  The two parameters live at fixed offsets after the
 * header so that a benchmark can patch a copy of the image:
 *
 *   0x40  u64 loops   MMIO reads between mark 1 and mark 2 (0: no mark 2)
 *   0x48  u64 after   0: power off, 1: wait forever (wfi)
 *
 * Register and magic values: src/devices/boottimer.h, src/arm64/layout.h.
 */
#define BOOTTIMER_BASE_HI	0x0904		/* 0x09040000 >> 16 */
#define MAGIC_LO		0xb007
#define MAGIC_HI		0xb007
#define REG_ID			0x04
#define PSCI_SYSTEM_OFF_HI	0x8400		/* 0x84000008 */
#define PSCI_SYSTEM_OFF_LO	0x0008

	.text
	.global	_start
_start:
	/* the arm64 Image header (Documentation/arch/arm64/booting.rst) */
	b	entry			/* code0: over the header */
	.long	0			/* code1 */
	.quad	0			/* text_offset */
	.quad	image_end - _start	/* image_size */
	.quad	0xa			/* flags: little-endian, 4K, anywhere */
	.quad	0, 0, 0			/* res2, res3, res4 */
	.ascii	"ARM\x64"		/* magic */
	.long	0			/* res5 */

	/* 0x40: parameters */
loops:	.quad	0
after:	.quad	0

entry:
	movz	x1, #BOOTTIMER_BASE_HI, lsl #16
	movz	w2, #MAGIC_LO
	movk	w2, #MAGIC_HI, lsl #16
	str	w2, [x1]		/* mark 1: the guest runs */

	ldr	x3, loops
	cbz	x3, 2f
1:	ldr	w4, [x1, #REG_ID]	/* one exit to the VMM */
	subs	x3, x3, #1
	b.ne	1b
	str	w2, [x1]		/* mark 2 */

2:	ldr	x3, after
	cbnz	x3, 3f
	movz	x0, #PSCI_SYSTEM_OFF_HI, lsl #16
	movk	x0, #PSCI_SYSTEM_OFF_LO
	hvc	#0
	/* SYSTEM_OFF does not return; if it does, wait */
3:	wfi
	b	3b

	.balign	16
image_end:
