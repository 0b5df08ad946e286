/* SPDX-License-Identifier: MIT */
/*
 * Text for signal handlers and for the child of a threaded process: no
 * stdio, no malloc, nothing but stores.  Each appends at p, never past
 * end, and returns where it stopped (no terminating NUL).
 */
#ifndef ARMVMD_SIGSAFE_H
#define ARMVMD_SIGSAFE_H

static inline char *sigsafe_str(char *p, const char *end, const char *s)
{
	while (s && *s && p < end)
		*p++ = *s++;
	return p;
}

static inline char *sigsafe_num(char *p, const char *end, long v)
{
	char digits[24];
	unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;
	int n = 0;

	if (v < 0 && p < end)
		*p++ = '-';
	do {
		digits[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	while (n && p < end)
		*p++ = digits[--n];
	return p;
}

#endif
