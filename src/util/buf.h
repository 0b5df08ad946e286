/* SPDX-License-Identifier: MIT */
/* A growing byte buffer's one rule: room for need bytes, doubling. */
#ifndef ARMVMD_BUF_H
#define ARMVMD_BUF_H

#include <errno.h>
#include <stdlib.h>

/* Make *buf (of *cap bytes) hold at least need bytes.  0 or -ENOMEM
 * (the buffer unchanged). */
static inline int buf_reserve(char **buf, size_t *cap, size_t need)
{
	size_t ncap = *cap ? *cap : 4096;
	char *n;

	if (need <= *cap)
		return 0;
	while (ncap < need) {
		if (ncap > (size_t)-1 / 2)
			return -ENOMEM;
		ncap *= 2;
	}
	n = realloc(*buf, ncap);
	if (!n)
		return -ENOMEM;
	*buf = n;
	*cap = ncap;
	return 0;
}

#endif
