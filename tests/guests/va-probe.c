// SPDX-License-Identifier: MIT
/*
 * va-probe: which virtual address size the test guest's kernel really runs
 * with, seen from its own user space (tests/guests/linux-init runs it).
 *
 * A kernel built for 52-bit virtual addresses falls back to 48 on a CPU
 * without FEAT_LVA (64K pages) or FEAT_LPA2 (4K, 16K) and says nothing.
 * What tells: an mmap hint above 2^48 is honoured only when user space may
 * have 52-bit addresses (arm64 memory.rst, "52-bit userspace VAs"); a
 * 48-bit kernel ignores a hint beyond its TASK_SIZE.  Prints
 *   ARMVMD-GUEST-VA BITS PAGE
 * (BITS 48 or 52; PAGE the kernel's page size from the auxiliary vector).
 * No C library: raw system calls, a few hundred bytes in the initramfs.
 */
typedef unsigned long ulong;

static long sys6(long nr, long a, long b, long c, long d, long e, long f)
{
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;

	__asm__ volatile("svc #0" : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			 : "memory");
	return x0;
}

#define NR_WRITE	64
#define NR_EXIT		93
#define NR_MMAP		222
#define AT_PAGESZ	6

static char *put(char *p, const char *s)
{
	while (*s)
		*p++ = *s++;
	return p;
}

static char *putu(char *p, ulong v)
{
	char d[24];
	int n = 0;

	do
		d[n++] = (char)('0' + v % 10);
	while ((v /= 10) && n < 24);
	while (n)
		*p++ = d[--n];
	return p;
}

void probe(ulong *sp) __attribute__((noreturn, used));
void probe(ulong *sp)
{
	ulong argc = sp[0], *v = sp + 1 + argc + 1, page = 0, got;
	char out[64], *p = out;

	while (*v)		/* environment */
		v++;
	for (v++; v[0]; v += 2)	/* auxiliary vector */
		if (v[0] == AT_PAGESZ)
			page = v[1];
	/* PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS */
	got = (ulong)sys6(NR_MMAP, (long)(1UL << 50), 65536, 3, 0x22, -1, 0);
	p = put(p, "ARMVMD-GUEST-VA ");
	p = putu(p, got < (ulong)-4096L && got >= (1UL << 48) ? 52 : 48);
	p = put(p, " ");
	p = putu(p, page);
	p = put(p, "\n");
	sys6(NR_WRITE, 1, (long)out, p - out, 0, 0, 0);
	sys6(NR_EXIT, 0, 0, 0, 0, 0, 0);
	for (;;)
		;
}

__asm__(".globl _start\n"
	"_start:\n"
	"	mov x0, sp\n"
	"	bl probe\n");
