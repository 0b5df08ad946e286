/* SPDX-License-Identifier: MIT */
/*
 * Platform probe (not part of `make`): does an aarch32 guest's banked
 * state survive an exit to the VMM?  A bare-metal zImage-shaped guest
 * (armvmd boots it as an aarch32 guest: entered at its first byte in SVC
 * mode, MMU off).  In each of IRQ, ABT, UND and FIQ mode it sets SP, LR,
 * SPSR (and FIQ's r8-r12) to patterns of the iteration, reads the UART's
 * LSR (one MMIO exit to the VMM, taken in that mode), and checks them;
 * then one exit in SVC mode and every bank checked again.  Prints
 * "ARMVMD-BANK ok" after ITER iterations and powers off, or
 * "ARMVMD-BANK FAIL tag=T iter=I got=G want=W" and waits: T is the mode
 * << 4 (0x1000: after the SVC exit), its low nibble the register (0 SPSR,
 * else 8-12; SP and LR: see the fail_* labels).  Build and run:
 * tests/platform/README.md.
 */
	#ifndef ITER
#define ITER 20000
#endif
	.syntax unified
	.arm
	.text
	.global _start
_start:
	b	entry
	.org	0x24
	.word	0x016f2818		@ zImage magic
	.word	0			@ start
	.word	_end - _start		@ end
	.word	0x04030201		@ little-endian
hello:	.asciz	"ARMVMD-BANK start\n"
okmsg:	.asciz	"ARMVMD-BANK ok\n"
	.balign	4
entry:
	ldr	r0, =0x09000000		@ the UART (r0-r7 are not banked)
	mov	r1, #0			@ iteration
	adr	r8, _start		@ r8: the image's base (SVC's r8; FIQ has its own)
	adr	r2, hello
	bl	.Lputs

@ r2 = sp, r3 = lr, r4 = spsr patterns for iteration r1 and the current mode
	.macro	PATTERN
	mrs	r6, cpsr
	and	r6, r6, #0x1f
	eor	r2, r1, r6, lsl #24
	eor	r3, r1, r6, lsl #16
	mvn	r3, r3
	and	r4, r1, #0xf
	lsl	r4, r4, #28
	orr	r4, r4, #0x1d0
	orr	r4, r4, #0x000f0000
	orr	r4, r4, r6
	.endm

	.macro	CHECK tag, fiq
	movw	r7, #\tag
	mrs	r5, spsr
	cmp	r5, r4
	bne	fail_spsr
	cmp	sp, r2
	bne	fail_sp
	cmp	lr, r3
	bne	fail_lr
	.if	\fiq
	cmp	r8, r2
	bne	fail_r8
	cmp	r9, r3
	bne	fail_r9
	cmp	r10, r4
	bne	fail_r10
	cmp	r11, r1
	bne	fail_r11
	cmp	r12, r2
	bne	fail_r12
	.endif
	.endm

loop:
	.irp	m, 0x12, 0x17, 0x1b, 0x11
	cps	#\m
	PATTERN
	mov	sp, r2
	mov	lr, r3
	msr	spsr_fsxc, r4
	.if	\m == 0x11
	mov	r8, r2
	mov	r9, r3
	mov	r10, r4
	mov	r11, r1
	mov	r12, r2
	.endif
	ldrb	r5, [r0, #5]		@ an MMIO exit to the VMM in this mode
	CHECK	(\m << 4), (\m == 0x11)
	cps	#0x13
	.endr
	ldrb	r5, [r0, #5]		@ one exit in SVC mode, then every bank again
	.irp	m, 0x12, 0x17, 0x1b, 0x11
	cps	#\m
	PATTERN
	CHECK	((\m << 4) | 0x1000), (\m == 0x11)
	cps	#0x13
	.endr
	add	r1, r1, #1
	ldr	r5, =ITER
	cmp	r1, r5
	bne	loop
	ldr	r2, =(okmsg - _start)
	add	r2, r2, r8
	ldr	r0, =0x84000008		@ PSCI SYSTEM_OFF
	hvc	#0
1:	wfi
	b	1b

fail_spsr:
	mov	r6, r4
	b	fail
fail_sp:
	mov	r5, sp
	mov	r6, r2
	b	fail
fail_lr:
	mov	r5, lr
	mov	r6, r3
	b	fail
fail_r8:
	mov	r5, r8
	mov	r6, r2
	orr	r7, r7, #8
	b	fail
fail_r9:
	mov	r5, r9
	mov	r6, r3
	orr	r7, r7, #9
	b	fail
fail_r10:
	mov	r5, r10
	mov	r6, r4
	orr	r7, r7, #10
	b	fail
fail_r11:
	mov	r5, r11
	mov	r6, r1
	orr	r7, r7, #11
	b	fail
fail_r12:
	mov	r5, r12
	mov	r6, r2
	orr	r7, r7, #12
fail:
	cps	#0x13
	mov	r9, r5			@ got (r8-r12 are SVC's again)
	mov	r10, r6			@ want
	mov	r11, r7			@ tag: mode << 4, 0x1000 after an SVC exit, low nibble the register
	mov	r12, r1
	ldr	r2, =(failmsg - _start)
	add	r2, r2, r8
	bl	.Lputs
	mov	r3, r11
	bl	.Lputhex
	ldr	r2, =(itermsg - _start)
	add	r2, r2, r8
	bl	.Lputs
	mov	r3, r12
	bl	.Lputhex
	ldr	r2, =(gotmsg - _start)
	add	r2, r2, r8
	bl	.Lputs
	mov	r3, r9
	bl	.Lputhex
	ldr	r2, =(wantmsg - _start)
	add	r2, r2, r8
	bl	.Lputs
	mov	r3, r10
	bl	.Lputhex
	ldr	r2, =(nl - _start)
	add	r2, r2, r8
	bl	.Lputs
2:	wfi
	b	2b

@ .Lputs r2 (NUL-terminated) to the UART at r0; clobbers r2, r5
.Lputs:
	ldrb	r5, [r2], #1
	cmp	r5, #0
	bxeq	lr
	strb	r5, [r0]
	b	.Lputs
@ .Lputhex r3: 8 hex digits; clobbers r3, r5, r6
.Lputhex:
	mov	r6, #8
3:	lsr	r5, r3, #28
	cmp	r5, #10
	addlt	r5, r5, #'0'
	addge	r5, r5, #('a' - 10)
	strb	r5, [r0]
	lsl	r3, r3, #4
	subs	r6, r6, #1
	bne	3b
	bx	lr

failmsg: .asciz	"ARMVMD-BANK FAIL tag="
itermsg: .asciz	" iter="
gotmsg:	.asciz	" got="
wantmsg: .asciz	" want="
nl:	.asciz	"\n"
	.balign	4
	.ltorg
_end:
