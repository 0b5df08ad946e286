// SPDX-License-Identifier: MIT
/*
 * Boot images: read a kernel file, inflate it when it is gzip (Debian's
 * vmlinuz is a gzip'd Image), and check the header the boot protocol
 * defines; check user device trees with libfdt.  The buffer functions are
 * pure; only image_read_file and image_load_kernel touch the file system.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define ZLIB_CONST
#include <zlib.h>
#include <libfdt.h>

#include "arm64/image.h"

/* offsets in the arm64 Image header (booting.rst) */
#define A64_TEXT_OFFSET	8
#define A64_IMAGE_SIZE	16
#define A64_FLAGS	24
#define A64_MAGIC	56
#define A64_FLAG_BE		(1u << 0)
#define A64_FLAG_PAGE_SHIFT	1
#define A64_FLAG_PAGE_MASK	(3u << A64_FLAG_PAGE_SHIFT)
#define A64_FLAG_ANYWHERE	(1u << 3)

/* offsets in the arm32 zImage header (arch/arm/boot/compressed/head.S) */
#define ZI_MAGIC	0x24
#define ZI_START	0x28
#define ZI_END		0x2c
#define ZI_ENDIAN	0x30

static void __attribute__((format(printf, 3, 4)))
setmsg(char *msg, size_t msglen, const char *fmt, ...)
{
	va_list ap;

	if (!msg || !msglen)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
}

static uint32_t get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const unsigned char *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static bool has_zimage_magic(const unsigned char *p, size_t len)
{
	return len >= ZI_MAGIC + 4 && get_le32(p + ZI_MAGIC) == ZIMAGE_MAGIC;
}

static bool has_arm64_magic(const unsigned char *p, size_t len)
{
	return len >= ARM64_IMAGE_HDR_SIZE &&
	       get_le32(p + A64_MAGIC) == ARM64_IMAGE_MAGIC;
}

bool image_is_gzip(const void *buf, size_t len)
{
	const unsigned char *p = buf;

	return len >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

/* What a buffer that is not an arm64 Image looks like, for the message. */
static const char *arm64_hint(const unsigned char *p, size_t len)
{
	if (image_is_gzip(p, len))
		return "gzip data (decompress it first)";
	if (has_zimage_magic(p, len))
		return "an arm32 zImage (boot it as an aarch32 guest)";
	/* CONFIG_EFI_ZBOOT: a PE file whose payload is the compressed Image */
	if (len >= 8 && p[0] == 'M' && p[1] == 'Z' && !memcmp(p + 4, "zimg", 4))
		return "an EFI zboot image (extract the Image inside it)";
	return "no \"ARM\\x64\" magic at offset 56";
}

/*
 * An arm64 Image built with the EFI stub is also a PE/COFF file ("MZ" in
 * code0, the PE header offset at 0x3c): its section table says how long
 * the file must be, which is the one way to notice a truncated plain Image
 * (image_size includes the BSS, so it cannot tell).  0 when not PE.
 */
static uint64_t pe_file_size(const unsigned char *p, size_t len)
{
	uint32_t pe, nsec, opt, sec;
	uint64_t end = 0;

	if (p[0] != 'M' || p[1] != 'Z' || len < 0x40)
		return 0;
	pe = get_le32(p + 0x3c);
	if (pe > len || len - pe < 24 || memcmp(p + pe, "PE\0\0", 4))
		return 0;
	nsec = p[pe + 6] | (uint32_t)p[pe + 7] << 8;
	opt = p[pe + 20] | (uint32_t)p[pe + 21] << 8;
	sec = pe + 24 + opt;
	for (uint32_t i = 0; i < nsec && i < 96; i++, sec += 40) {
		uint64_t raw_size, raw_ptr;

		if (sec > len || len - sec < 40)
			return 0;	/* the table itself is cut off */
		raw_size = get_le32(p + sec + 16);
		raw_ptr = get_le32(p + sec + 20);
		if (raw_ptr + raw_size > end)
			end = raw_ptr + raw_size;
	}
	return end;
}

int image_parse_arm64(const void *buf, size_t len, struct image_info *info,
		      char *msg, size_t msglen)
{
	const unsigned char *p = buf;
	uint64_t flags;

	memset(info, 0, sizeof(*info));
	info->kind = IMAGE_ARM64;
	info->file_size = len;
	if (len < ARM64_IMAGE_HDR_SIZE) {
		setmsg(msg, msglen, "not an arm64 Image: truncated, %zu bytes "
		       "(the header alone is %d)", len, ARM64_IMAGE_HDR_SIZE);
		return -EINVAL;
	}
	if (!has_arm64_magic(p, len)) {
		setmsg(msg, msglen, "not an arm64 Image: %s", arm64_hint(p, len));
		return -EINVAL;
	}

	uint64_t pe_size = pe_file_size(p, len);
	if (pe_size > len) {
		setmsg(msg, msglen, "truncated arm64 Image: %zu bytes, its EFI/PE "
		       "header describes %llu", len, (unsigned long long)pe_size);
		return -EINVAL;
	}

	info->image_size = get_le64(p + A64_IMAGE_SIZE);
	if (info->image_size == 0) {
		/*
		 * Before 3.17 image_size was 0, text_offset was 0x80000 in
		 * the kernel's endianness and flags did not exist.  The
		 * reserve covers the file, rounded to 2 MiB, plus 2 MiB for
		 * the BSS that such kernels do not declare.
		 */
		info->text_offset = ARM64_LEGACY_TEXT_OFFSET;
		info->image_size = ((uint64_t)len + 0x1fffff) / 0x200000 * 0x200000
				   + 0x200000;
		return 0;
	}

	info->text_offset = get_le64(p + A64_TEXT_OFFSET);
	flags = get_le64(p + A64_FLAGS);
	info->big_endian = flags & A64_FLAG_BE;
	switch ((flags & A64_FLAG_PAGE_MASK) >> A64_FLAG_PAGE_SHIFT) {
	case 1: info->page_size_kb = 4; break;
	case 2: info->page_size_kb = 16; break;
	case 3: info->page_size_kb = 64; break;
	default: info->page_size_kb = 0; break;
	}
	info->place_anywhere = flags & A64_FLAG_ANYWHERE;
	/* image_size covers the BSS too; a file longer than it still fits */
	if (info->image_size < len)
		info->image_size = len;

	if (info->big_endian) {
		setmsg(msg, msglen, "big-endian arm64 kernel (header flags bit "
		       "0): guests run little-endian");
		return -EINVAL;
	}
	return 0;
}

int image_parse_zimage(const void *buf, size_t len, struct image_info *info,
		       char *msg, size_t msglen)
{
	const unsigned char *p = buf;
	uint32_t start, end;

	memset(info, 0, sizeof(*info));
	info->kind = IMAGE_ZIMAGE;
	info->file_size = len;
	if (len < ZIMAGE_HDR_SIZE) {
		setmsg(msg, msglen, "not an arm32 zImage: truncated, %zu bytes "
		       "(the header alone is %d)", len, ZIMAGE_HDR_SIZE);
		return -EINVAL;
	}
	if (!has_zimage_magic(p, len)) {
		if (has_arm64_magic(p, len))
			setmsg(msg, msglen, "not an arm32 zImage: an arm64 Image "
			       "(boot it as an aarch64 guest)");
		else
			setmsg(msg, msglen, "not an arm32 zImage: no magic "
			       "0x%08x at offset 0x%x", ZIMAGE_MAGIC, ZI_MAGIC);
		return -EINVAL;
	}

	start = get_le32(p + ZI_START);
	end = get_le32(p + ZI_END);
	if (end <= start) {
		setmsg(msg, msglen, "bad zImage header: end 0x%08x is not above "
		       "start 0x%08x", end, start);
		return -EINVAL;
	}
	info->image_size = end - start;
	info->text_offset = ZIMAGE_TEXT_OFFSET;
	if (info->image_size > len) {
		setmsg(msg, msglen, "truncated zImage: the header says %llu "
		       "bytes, the file has %zu",
		       (unsigned long long)info->image_size, len);
		return -EINVAL;
	}

	/* the flag word is written in the kernel's byte order (3.x and
	 * later); older zImages have none, and were little-endian */
	if (len >= ZI_ENDIAN + 4 && get_le32(p + ZI_ENDIAN) == ZIMAGE_ENDIAN_BE) {
		info->big_endian = true;
		setmsg(msg, msglen, "big-endian zImage: guests run little-endian");
		return -EINVAL;
	}
	return 0;
}

/* ---- gzip ---- */

/*
 * First guess at the output size: the gzip trailer's ISIZE (the length
 * mod 2^32) when it is plausible, else four times the input.  One byte
 * more than the guess, so that a right guess ends without a realloc.
 * Deflate expands at most 1032 to 1: a larger ISIZE is not believed (a
 * few bytes of file would otherwise reserve up to the limit).
 */
#define DEFLATE_MAX_RATIO	1032

static size_t first_capacity(const unsigned char *p, size_t len, size_t limit)
{
	size_t cap = 0;

	if (len >= 18)
		cap = (size_t)get_le32(p + len - 4) + 1;
	if (cap <= 1 || cap > limit || cap / DEFLATE_MAX_RATIO > len)
		cap = len <= limit / 4 ? len * 4 : limit;
	if (cap < 65536)
		cap = limit < 65536 ? limit : 65536;
	return cap ? cap : 1;
}

static const char *zerr(const z_stream *zs, const char *fallback)
{
	return zs->msg ? zs->msg : fallback;
}

int image_gunzip(const void *buf, size_t len, size_t max, void **out,
		 size_t *outlen, char *msg, size_t msglen)
{
	const unsigned char *in = buf;
	/* room for one byte past max: getting it means the data is too big */
	size_t limit = max < SIZE_MAX ? max + 1 : max;
	size_t cap, total = 0, in_left = len;
	unsigned char *dst, *tmp;
	z_stream zs;
	int zr, r = 0;

	*out = NULL;
	*outlen = 0;
	if (!image_is_gzip(buf, len)) {
		setmsg(msg, msglen, "not gzip data");
		return -EINVAL;
	}
	cap = first_capacity(in, len, limit);
	dst = malloc(cap);
	if (!dst) {
		setmsg(msg, msglen, "out of memory for %zu bytes", cap);
		return -ENOMEM;
	}
	memset(&zs, 0, sizeof(zs));
	zr = inflateInit2(&zs, 16 + MAX_WBITS);	/* gzip wrapper only */
	if (zr != Z_OK) {
		free(dst);
		setmsg(msg, msglen, "zlib: %s", zerr(&zs, "cannot initialise"));
		return zr == Z_MEM_ERROR ? -ENOMEM : -EINVAL;
	}
	zs.next_in = in;

	for (;;) {
		unsigned in_chunk, out_chunk;

		if (total == cap) {
			if (cap >= limit) {
				setmsg(msg, msglen, "gzip data inflates to more "
				       "than %zu bytes (%zu MiB): refused", max,
				       max >> 20);
				r = -EFBIG;
				break;
			}
			cap = cap <= limit / 2 ? cap * 2 : limit;
			tmp = realloc(dst, cap);
			if (!tmp) {
				setmsg(msg, msglen, "out of memory for %zu bytes",
				       cap);
				r = -ENOMEM;
				break;
			}
			dst = tmp;
		}
		in_chunk = in_left < UINT_MAX ? (unsigned)in_left : UINT_MAX;
		out_chunk = cap - total < UINT_MAX ? (unsigned)(cap - total)
						   : UINT_MAX;
		zs.avail_in = in_chunk;
		zs.next_out = dst + total;
		zs.avail_out = out_chunk;
		zr = inflate(&zs, Z_NO_FLUSH);
		in_left -= in_chunk - zs.avail_in;
		total += out_chunk - zs.avail_out;

		if (zr == Z_STREAM_END)
			break;
		if (zr == Z_OK)
			continue;
		if (zr == Z_BUF_ERROR && in_left == 0) {
			setmsg(msg, msglen, "gzip data truncated (%zu bytes "
			       "inflated before the input ended)", total);
			r = -EINVAL;
			break;
		}
		if (zr == Z_MEM_ERROR) {
			setmsg(msg, msglen, "zlib: out of memory");
			r = -ENOMEM;
			break;
		}
		setmsg(msg, msglen, "corrupt gzip data: %s",
		       zerr(&zs, "inflate failed"));
		r = -EINVAL;
		break;
	}
	inflateEnd(&zs);
	/*
	 * Bytes after the first gzip member (padding some tools append) are
	 * ignored: the kernel is the first member.
	 */
	if (!r && total > max) {
		setmsg(msg, msglen, "gzip data inflates to more than %zu bytes "
		       "(%zu MiB): refused", max, max >> 20);
		r = -EFBIG;
	}
	if (r) {
		free(dst);
		return r;
	}
	/* give back a generous first guess */
	if (cap - total > 65536 && (tmp = realloc(dst, total ? total : 1)))
		dst = tmp;
	*out = dst;
	*outlen = total;
	return 0;
}

/* ---- files ---- */

int image_read_file(const char *path, size_t max, void **data, size_t *len,
		    char *msg, size_t msglen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY), r;

	*data = NULL;
	*len = 0;
	if (fd < 0) {
		r = -errno;
		setmsg(msg, msglen, "%s: %s", path, strerror(-r));
		return r;
	}
	r = image_read_fd(fd, path, max, data, len, msg, msglen);
	close(fd);
	return r;
}

int image_read_fd(int fd, const char *path, size_t max, void **data, size_t *len,
		  char *msg, size_t msglen)
{
	unsigned char *buf = NULL;
	size_t cap, total = 0;
	struct stat st;
	int r = 0;

	*data = NULL;
	*len = 0;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		setmsg(msg, msglen, "%s: %s", path, strerror(-r));
		goto out;
	}
	/* no FIFOs or devices: they can block or never end */
	if (!S_ISREG(st.st_mode)) {
		setmsg(msg, msglen, "%s: not a regular file", path);
		r = -EINVAL;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		setmsg(msg, msglen, "%s: %lld bytes, more than the %zu allowed",
		       path, (long long)st.st_size, max);
		r = -EFBIG;
		goto out;
	}
	/* one byte more than the size, to notice a file that grew */
	cap = (size_t)st.st_size + 1;
	buf = malloc(cap);
	if (!buf) {
		setmsg(msg, msglen, "%s: out of memory", path);
		r = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n;

		if (total == cap) {
			unsigned char *tmp;

			if (cap > max) {
				setmsg(msg, msglen, "%s: more than the %zu bytes "
				       "allowed", path, max);
				r = -EFBIG;
				goto out;
			}
			cap = cap <= max / 2 ? cap * 2
					     : max < SIZE_MAX ? max + 1 : max;
			tmp = realloc(buf, cap);
			if (!tmp) {
				setmsg(msg, msglen, "%s: out of memory", path);
				r = -ENOMEM;
				goto out;
			}
			buf = tmp;
		}
		/* pread: the descriptor is shared (supervisor, worker, resets) */
		n = pread(fd, buf + total, cap - total, (off_t)total);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			setmsg(msg, msglen, "%s: %s", path, strerror(-r));
			goto out;
		}
		if (n == 0)
			break;
		total += (size_t)n;
	}
	if (total > max) {
		setmsg(msg, msglen, "%s: more than the %zu bytes allowed",
		       path, max);
		r = -EFBIG;
		goto out;
	}
	*data = buf;
	*len = total;
	buf = NULL;
out:
	free(buf);
	return r;
}

/*
 * Header check without reading the file: map it and let the parser touch
 * the pages it needs (a plain Image's header and PE table).  -EAGAIN for a
 * gzip file, which has to be inflated after all.
 */
static int image_check_mapped(int fd, const char *path, bool aarch32,
			      struct image_info *info, char *msg, size_t msglen)
{
	char why[224];
	struct stat st;
	void *map;
	int r;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0 ||
	    (uint64_t)st.st_size > IMAGE_MAX_SIZE)
		return -EAGAIN;	/* let the reading path say what is wrong */
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		return -EAGAIN;
	if (image_is_gzip(map, (size_t)st.st_size)) {
		munmap(map, (size_t)st.st_size);
		return -EAGAIN;
	}
	if (aarch32)
		r = image_parse_zimage(map, (size_t)st.st_size, info, why, sizeof(why));
	else
		r = image_parse_arm64(map, (size_t)st.st_size, info, why, sizeof(why));
	munmap(map, (size_t)st.st_size);
	if (r)
		setmsg(msg, msglen, "%s: %s", path, why);
	return r;
}

int image_load_kernel(const char *path, bool aarch32, struct image_info *info,
		      void **data, char *msg, size_t msglen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY), r;

	if (data)
		*data = NULL;
	if (fd < 0) {
		r = -errno;
		setmsg(msg, msglen, "%s: %s", path, strerror(-r));
		return r;
	}
	r = image_load_kernel_fd(fd, path, aarch32, info, data, msg, msglen);
	close(fd);
	return r;
}

int image_load_kernel_fd(int fd, const char *path, bool aarch32, struct image_info *info,
			 void **data, char *msg, size_t msglen)
{
	void *file, *img;
	size_t flen, ilen;
	bool gz;
	char why[224];
	int r;

	if (data)
		*data = NULL;
	else if ((r = image_check_mapped(fd, path, aarch32, info, msg, msglen)) != -EAGAIN)
		return r;	/* a plain image: its header pages were enough */
	r = image_read_fd(fd, path, IMAGE_MAX_SIZE, &file, &flen, msg, msglen);
	if (r)
		return r;
	gz = image_is_gzip(file, flen);
	if (gz) {
		r = image_gunzip(file, flen, IMAGE_MAX_SIZE, &img, &ilen,
				 why, sizeof(why));
		free(file);
		if (r) {
			setmsg(msg, msglen, "%s: %s", path, why);
			return r;
		}
	} else {
		img = file;
		ilen = flen;
	}

	if (aarch32)
		r = image_parse_zimage(img, ilen, info, why, sizeof(why));
	else
		r = image_parse_arm64(img, ilen, info, why, sizeof(why));
	if (r) {
		free(img);
		setmsg(msg, msglen, "%s: %s", path, why);
		return r;
	}
	info->compressed = gz;
	if (data)
		*data = img;
	else
		free(img);
	return 0;
}

/* ---- device trees ---- */

int image_check_dtb(const void *buf, size_t len, char *msg, size_t msglen)
{
	uint32_t total;
	int r;

	if (len < sizeof(struct fdt_header)) {
		setmsg(msg, msglen, "not a device tree: truncated, %zu bytes",
		       len);
		return -EINVAL;
	}
	if (fdt_magic(buf) != FDT_MAGIC) {
		setmsg(msg, msglen, "not a device tree: magic 0x%08x, want "
		       "0x%08x", fdt_magic(buf), FDT_MAGIC);
		return -EINVAL;
	}
	total = fdt_totalsize(buf);
	if (total > len) {
		setmsg(msg, msglen, "truncated device tree: the header says %u "
		       "bytes, there are %zu", total, len);
		return -EINVAL;
	}
	/*
	 * libfdt 1.6.1 (Debian 12) dereferences NULL in fdt_check_full on
	 * the root node of a tree older than version 16, whose node names
	 * are paths.  dtc has written version 17 since 2007.
	 */
	if (fdt_version(buf) < 16) {
		setmsg(msg, msglen, "device tree version %u: armvmd reads "
		       "version 16 and later", fdt_version(buf));
		return -EINVAL;
	}
	r = fdt_check_full(buf, len);
	if (r) {
		setmsg(msg, msglen, "corrupt device tree: %s", fdt_strerror(r));
		return -EINVAL;
	}
	return 0;
}
