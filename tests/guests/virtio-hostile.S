/* SPDX-License-Identifier: MIT */
/*
 * Hostile virtio driver (make: build/guests/virtio-hostile.img).
 *
 * A bare-metal guest that drives the virtio-mmio device in slot 0 (a
 * virtio-blk disk) with one malformed queue after another: buffers outside
 * RAM or wrapping around the address space, descriptor loops, nested and
 * oversized indirect tables, a head or driver index out of range, rings
 * outside RAM, a bad queue size, a readable buffer after a writable one.
 * After each it polls the device status for NEEDS_RESET (10 s at most),
 * then resets the device and sets a fresh queue up elsewhere in RAM.  In
 * between, one well-formed GET_ID request must still work.  It ends with
 * one more loop, leaving the device broken, and waits (wfi) so that the
 * host can look at vm.info.  Each check prints one line on the UART:
 *
 *   ARMVMD-HOSTILE ok NAME | ARMVMD-HOSTILE FAIL NAME | ARMVMD-HOSTILE done
 *
 * Entered like a kernel (Image header below) with the MMU off, at the
 * start of RAM (0x80000000, text_offset 0).
 */
#define UART		0x09000000
#define VIRTIO		0x0a000000
#define AREAS		0x80100000	/* 4 KiB per queue set-up */
#define STACK		0x80400000

/* virtio-mmio registers */
#define R_MAGIC		0x000
#define R_DEVICE_ID	0x008
#define R_DRV_FEAT	0x020
#define R_DRV_FEAT_SEL	0x024
#define R_QSEL		0x030
#define R_QNUM		0x038
#define R_QREADY	0x044
#define R_QNOTIFY	0x050
#define R_STATUS	0x070
#define R_QDESC		0x080
#define R_QAVAIL	0x090
#define R_QUSED		0x0a0

#define S_FEATURES_OK	8
#define S_NEEDS_RESET	0x40

#define F_NEXT		1
#define F_WRITE		2
#define F_INDIRECT	4

/* in a queue area: descriptors at 0, driver ring 0x100, device ring 0x200 */
#define A_AVAIL		0x100
#define A_USED		0x200
#define A_TABLE		0x400
#define A_BUF		0x800

	.text
	.global	_start
_start:
	/* the arm64 Image header (Documentation/arch/arm64/booting.rst) */
	b	entry			/* code0 */
	.long	0			/* code1 */
	.quad	0			/* text_offset */
	.quad	image_end - _start	/* image_size */
	.quad	0xa			/* flags: little-endian, 4K, anywhere */
	.quad	0, 0, 0			/* res2, res3, res4 */
	.ascii	"ARM\x64"		/* magic */
	.long	0			/* res5 */

entry:
	ldr	x9, =STACK
	mov	sp, x9
	ldr	x19, =VIRTIO
	ldr	x20, =UART
	ldr	x21, =AREAS

	adr	x0, s_start
	bl	puts
	ldr	w0, [x19, #R_MAGIC]
	ldr	w1, =0x74726976
	cmp	w0, w1
	b.ne	no_device
	ldr	w0, [x19, #R_DEVICE_ID]
	cmp	w0, #2			/* virtio-blk */
	b.ne	no_device

	/* 1: a buffer far above RAM */
	bl	fresh_queue
	mov	x0, x21
	ldr	x1, =0x100000000000
	mov	w2, #512
	mov	w3, #0
	mov	w4, #0
	bl	set_desc
	mov	w1, #0
	mov	w2, #1
	bl	offer_kick
	adr	x0, n_oor
	bl	check

	/* 2: a buffer that wraps around the address space */
	bl	fresh_queue
	mov	x0, x21
	ldr	x1, =0xfffffffffffff000
	mov	w2, #0x2000
	mov	w3, #0
	mov	w4, #0
	bl	set_desc
	mov	w1, #0
	mov	w2, #1
	bl	offer_kick
	adr	x0, n_wrap
	bl	check

	/* 3: a descriptor loop, 0 -> 1 -> 0 */
	bl	fresh_queue
	bl	make_loop
	mov	w1, #0
	mov	w2, #1
	bl	offer_kick
	adr	x0, n_loop
	bl	check

	/* 4: a loop inside an indirect table */
	bl	fresh_queue
	mov	x0, x21
	add	x1, x21, #A_TABLE
	mov	w2, #32
	mov	w3, #F_INDIRECT
	mov	w4, #0
	bl	set_desc
	add	x0, x21, #A_TABLE
	add	x1, x21, #A_BUF
	mov	w2, #16
	mov	w3, #F_NEXT
	mov	w4, #1
	bl	set_desc
	add	x0, x21, #A_TABLE + 16
	add	x1, x21, #A_BUF
	mov	w2, #16
	mov	w3, #F_NEXT
	mov	w4, #0
	bl	set_desc
	mov	w1, #0
	mov	w2, #1
	bl	offer_kick
	adr	x0, n_indloop
	bl	check

	/* 5: an indirect table inside an indirect table */
	bl	fresh_queue
	mov	x0, x21
	add	x1, x21, #A_TABLE
	mov	w2, #16
	mov	w3, #F_INDIRECT
	mov	w4, #0
	bl	set_desc
	add	x0, x21, #A_TABLE
	add	x1, x21, #A_TABLE
	mov	w2, #16
	mov	w3, #F_INDIRECT
	mov	w4, #0
	bl	set_desc
	mov	w1, #0
	mov	w2, #1
	bl	offer_kick
	adr	x0, n_nested
	bl	check

	/* 6: an indirect table of 4 GiB - 16 bytes */
	bl	fresh_queue
	mov	x0, x21
	add	x1, x21, #A_TABLE
	ldr	w2, =0xfffffff0
	mov	w3, #F_INDIRECT
	mov	w4, #0
	bl	set_desc
	mov	w1, #0
	mov	w2, #1
	bl	offer_kick
	adr	x0, n_huge
	bl	check

	/* 7: a head beyond the 8-entry ring */
	bl	fresh_queue
	mov	w1, #200
	mov	w2, #1
	bl	offer_kick
	adr	x0, n_head
	bl	check

	/* 8: the driver index 1000 entries ahead */
	bl	fresh_queue
	bl	make_good_desc
	mov	w1, #0
	mov	w2, #1000
	bl	offer_kick
	adr	x0, n_jump
	bl	check

	/* 9: a device-readable buffer after a writable one */
	bl	fresh_queue
	mov	x0, x21
	add	x1, x21, #A_BUF
	mov	w2, #16
	mov	w3, #(F_WRITE | F_NEXT)
	mov	w4, #1
	bl	set_desc
	add	x0, x21, #16
	add	x1, x21, #A_BUF
	mov	w2, #16
	mov	w3, #0
	mov	w4, #0
	bl	set_desc
	mov	w1, #0
	mov	w2, #1
	bl	offer_kick
	adr	x0, n_order
	bl	check

	/* 10: rings outside RAM (below it, in device space): QueueReady fails */
	ldr	x22, =0x7fff0000
	mov	w23, #8
	bl	queue_setup
	adr	x0, n_rings
	bl	check

	/* 11: a queue size that is no power of two */
	add	x21, x21, #0x1000
	mov	x22, x21
	mov	w23, #3
	bl	queue_setup
	adr	x0, n_size
	bl	check

	/* the device still works after a reset: GET_ID */
	bl	fresh_queue
	bl	get_id

	/* 12: a last loop, left broken for the host to see */
	bl	fresh_queue
	bl	make_loop
	mov	w1, #0
	mov	w2, #1
	bl	offer_kick
	adr	x0, n_final
	bl	check
	adr	x0, s_done
	bl	puts
halt:
	wfi
	b	halt

no_device:
	adr	x0, s_nodev
	bl	puts
	b	halt

/* ---- helpers ------------------------------------------------------- */

/* puts(x0): a NUL-terminated string to the UART */
puts:
1:	ldrb	w1, [x0], #1
	cbz	w1, 2f
	strb	w1, [x20]
	b	1b
2:	ret

/* set_desc(x0 = descriptor, x1 = addr, w2 = len, w3 = flags, w4 = next) */
set_desc:
	str	x1, [x0]
	str	w2, [x0, #8]
	strh	w3, [x0, #12]
	strh	w4, [x0, #14]
	ret

/* make_loop: descriptors 0 -> 1 -> 0 in the current area */
make_loop:
	stp	x29, x30, [sp, #-16]!
	mov	x0, x21
	add	x1, x21, #A_BUF
	mov	w2, #16
	mov	w3, #F_NEXT
	mov	w4, #1
	bl	set_desc
	add	x0, x21, #16
	add	x1, x21, #A_BUF
	mov	w2, #16
	mov	w3, #F_NEXT
	mov	w4, #0
	bl	set_desc
	ldp	x29, x30, [sp], #16
	ret

/* make_good_desc: descriptor 0 is one sane buffer */
make_good_desc:
	stp	x29, x30, [sp, #-16]!
	mov	x0, x21
	add	x1, x21, #A_BUF
	mov	w2, #16
	mov	w3, #0
	mov	w4, #0
	bl	set_desc
	ldp	x29, x30, [sp], #16
	ret

/* offer_kick(w1 = head, w2 = new driver index): publish, then QueueNotify 0 */
offer_kick:
	add	x3, x21, #A_AVAIL
	strh	w1, [x3, #4]		/* ring[0] */
	dsb	sy
	strh	w2, [x3, #2]		/* idx */
	dsb	sy
	str	wzr, [x19, #R_QNOTIFY]
	ret

/*
 * wait_status: poll Status for NEEDS_RESET for up to 10 s of the virtual
 * counter.  x0 = 1 when it is set.
 */
wait_status:
	mrs	x5, cntfrq_el0
	mov	x6, #10
	mul	x6, x5, x6
	isb
	mrs	x5, cntvct_el0
	add	x6, x5, x6
1:	ldr	w0, [x19, #R_STATUS]
	tst	w0, #S_NEEDS_RESET
	b.ne	2f
	isb
	mrs	x5, cntvct_el0
	cmp	x5, x6
	b.lo	1b
	mov	x0, #0
	ret
2:	mov	x0, #1
	ret

/* check(x0 = name): "ARMVMD-HOSTILE ok|FAIL NAME" after wait_status */
check:
	stp	x29, x30, [sp, #-16]!
	stp	x0, xzr, [sp, #-16]!
	bl	wait_status
	mov	x1, x0
	adr	x0, s_ok
	cbnz	x1, 1f
	adr	x0, s_fail
1:	bl	puts
	ldp	x0, xzr, [sp], #16
	bl	puts
	adr	x0, s_nl
	bl	puts
	ldp	x29, x30, [sp], #16
	ret

/* fresh_queue: reset, negotiate, queue 0 of 8 entries in a new area */
fresh_queue:
	stp	x29, x30, [sp, #-16]!
	add	x21, x21, #0x1000
	mov	x22, x21
	mov	w23, #8
	bl	queue_setup
	ldp	x29, x30, [sp], #16
	/* a fresh device is not broken */
	ldr	w0, [x19, #R_STATUS]
	tst	w0, #S_NEEDS_RESET
	b.eq	1f
	adr	x0, s_stuck
	b	puts
1:	ret

/* queue_setup: reset, negotiate, queue 0 of w23 entries with rings at x22 */
queue_setup:
	str	wzr, [x19, #R_STATUS]		/* reset */
	mov	w9, #1				/* ACKNOWLEDGE */
	str	w9, [x19, #R_STATUS]
	mov	w9, #3				/* DRIVER */
	str	w9, [x19, #R_STATUS]
	mov	w9, #1
	str	w9, [x19, #R_DRV_FEAT_SEL]
	str	w9, [x19, #R_DRV_FEAT]		/* VIRTIO_F_VERSION_1 */
	str	wzr, [x19, #R_DRV_FEAT_SEL]
	mov	w9, #0x10000000
	str	w9, [x19, #R_DRV_FEAT]		/* VIRTIO_RING_F_INDIRECT_DESC */
	mov	w9, #11				/* FEATURES_OK */
	str	w9, [x19, #R_STATUS]
	ldr	w9, [x19, #R_STATUS]
	tst	w9, #S_FEATURES_OK
	b.ne	1f
	adr	x0, s_features
	b	puts
1:	str	wzr, [x19, #R_QSEL]
	str	w23, [x19, #R_QNUM]
	str	w22, [x19, #R_QDESC]
	lsr	x9, x22, #32
	str	w9, [x19, #R_QDESC + 4]
	add	x9, x22, #A_AVAIL
	str	w9, [x19, #R_QAVAIL]
	lsr	x9, x9, #32
	str	w9, [x19, #R_QAVAIL + 4]
	add	x9, x22, #A_USED
	str	w9, [x19, #R_QUSED]
	lsr	x9, x9, #32
	str	w9, [x19, #R_QUSED + 4]
	mov	w9, #1
	str	w9, [x19, #R_QREADY]
	mov	w9, #15				/* DRIVER_OK */
	str	w9, [x19, #R_STATUS]
	ret

/*
 * get_id: one well-formed request (header, 20-byte ID, status byte); waits
 * for the used ring and prints "ARMVMD-HOSTILE ok get-id ID".
 */
get_id:
	stp	x29, x30, [sp, #-16]!
	add	x10, x21, #A_BUF		/* header: type 8 (GET_ID) */
	mov	w9, #8
	str	w9, [x10]
	str	wzr, [x10, #4]
	str	xzr, [x10, #8]
	mov	w9, #0xff			/* status, to be overwritten */
	strb	w9, [x10, #0x80]
	mov	x0, x21
	mov	x1, x10
	mov	w2, #16
	mov	w3, #F_NEXT
	mov	w4, #1
	bl	set_desc
	add	x0, x21, #16
	add	x1, x10, #0x40
	mov	w2, #20
	mov	w3, #(F_WRITE | F_NEXT)
	mov	w4, #2
	bl	set_desc
	add	x0, x21, #32
	add	x1, x10, #0x80
	mov	w2, #1
	mov	w3, #F_WRITE
	mov	w4, #0
	bl	set_desc
	mov	w1, #0
	mov	w2, #1
	bl	offer_kick
	/* wait for used->idx == 1 */
	mrs	x5, cntfrq_el0
	mov	x6, #10
	mul	x6, x5, x6
	isb
	mrs	x5, cntvct_el0
	add	x6, x5, x6
	add	x11, x21, #A_USED
1:	dsb	sy
	ldrh	w0, [x11, #2]
	cmp	w0, #1
	b.eq	2f
	isb
	mrs	x5, cntvct_el0
	cmp	x5, x6
	b.lo	1b
	b	3f
2:	ldrb	w0, [x10, #0x80]
	cbnz	w0, 3f
	strb	wzr, [x10, #0x40 + 20]		/* terminate the ID */
	adr	x0, s_getid
	bl	puts
	add	x0, x10, #0x40
	bl	puts
	adr	x0, s_nl
	bl	puts
	ldp	x29, x30, [sp], #16
	ret
3:	adr	x0, s_getid_fail
	bl	puts
	ldp	x29, x30, [sp], #16
	ret

	.ltorg

s_start:	.asciz	"ARMVMD-HOSTILE start\n"
s_nodev:	.asciz	"ARMVMD-HOSTILE FAIL no virtio-blk in slot 0\n"
s_ok:		.asciz	"ARMVMD-HOSTILE ok "
s_fail:		.asciz	"ARMVMD-HOSTILE FAIL "
s_nl:		.asciz	"\n"
s_done:		.asciz	"ARMVMD-HOSTILE done\n"
s_stuck:	.asciz	"ARMVMD-HOSTILE FAIL still broken after a reset\n"
s_features:	.asciz	"ARMVMD-HOSTILE FAIL FEATURES_OK refused\n"
s_getid:	.asciz	"ARMVMD-HOSTILE ok get-id "
s_getid_fail:	.asciz	"ARMVMD-HOSTILE FAIL get-id\n"
n_oor:		.asciz	"buffer-above-ram"
n_wrap:		.asciz	"buffer-wraps"
n_loop:		.asciz	"descriptor-loop"
n_indloop:	.asciz	"indirect-loop"
n_nested:	.asciz	"nested-indirect"
n_huge:		.asciz	"huge-indirect"
n_head:		.asciz	"head-out-of-ring"
n_jump:		.asciz	"index-jump"
n_order:	.asciz	"readable-after-writable"
n_rings:	.asciz	"rings-outside-ram"
n_size:		.asciz	"queue-size-3"
n_final:	.asciz	"final-loop"

	.balign	16
image_end:
