// SPDX-License-Identifier: MIT
/* Helpers of the libFuzzer targets: input reader, quiet logs, scratch files. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"
#include "fuzz.h"

uint8_t fuzz_u8(struct fuzz_in *in)
{
	uint8_t v = 0;

	if (in->len) {
		v = in->p[0];
		in->p++;
		in->len--;
	}
	return v;
}

uint16_t fuzz_u16(struct fuzz_in *in)
{
	uint16_t lo = fuzz_u8(in);

	return (uint16_t)(lo | fuzz_u8(in) << 8);
}

uint32_t fuzz_u32(struct fuzz_in *in)
{
	uint32_t lo = fuzz_u16(in);

	return lo | (uint32_t)fuzz_u16(in) << 16;
}

uint64_t fuzz_u64(struct fuzz_in *in)
{
	uint64_t lo = fuzz_u32(in);

	return lo | (uint64_t)fuzz_u32(in) << 32;
}

const uint8_t *fuzz_take(struct fuzz_in *in, size_t n, size_t *got)
{
	const uint8_t *p = in->p;

	if (n > in->len)
		n = in->len;
	*got = n;
	if (!n)
		return NULL;
	in->p += n;
	in->len -= n;
	return p;
}

void fuzz_quiet(void)
{
	const char *want = getenv("FUZZ_LOG");
	enum log_level level;

	if (want && log_parse_level(want, &level) == 0)
		log_set_level(level);
	else
		log_set_level((enum log_level)(LOG_ERROR + 1));	/* nothing */
}

void fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz: invariant broken: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static char tmpdir[PATH_MAX];

static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	remove(path);
	return 0;
}

static void tmpdir_remove(void)
{
	if (tmpdir[0])
		nftw(tmpdir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fuzz_tmpdir(void)
{
	const char *base = getenv("TMPDIR");

	if (tmpdir[0])
		return tmpdir;
	if (!base || !*base)
		base = "/tmp";
	if (snprintf(tmpdir, sizeof(tmpdir), "%s/fz.XXXXXX", base) >=
	    (int)sizeof(tmpdir) || !mkdtemp(tmpdir))
		fuzz_fail("scratch directory under %s: %s", base, strerror(errno));
	atexit(tmpdir_remove);
	return tmpdir;
}

char *fuzz_path(char *buf, const char *name)
{
	if (snprintf(buf, PATH_MAX, "%s/%s", fuzz_tmpdir(), name) >= PATH_MAX)
		fuzz_fail("path %s/%s is too long", fuzz_tmpdir(), name);
	return buf;
}

void fuzz_write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	const uint8_t *p = data;

	if (fd < 0)
		fuzz_fail("%s: %s", path, strerror(errno));
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fuzz_fail("%s: %s", path, n < 0 ? strerror(errno) : "short write");
		p += n;
		len -= (size_t)n;
	}
	if (close(fd) < 0)
		fuzz_fail("%s: %s", path, strerror(errno));
}
