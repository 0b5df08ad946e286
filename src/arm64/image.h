/* SPDX-License-Identifier: MIT */
/*
 * Boot images: the arm64 Image header (Documentation/arch/arm64/booting.rst),
 * gzip-compressed Images (Debian's vmlinuz), the arm32 zImage header, and
 * user-supplied device trees.  Pure: buffers in, facts or errors out.
 */
#ifndef ARMVMD_IMAGE_H
#define ARMVMD_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARM64_IMAGE_MAGIC	0x644d5241u	/* "ARM\x64" at offset 56 */
#define ARM64_IMAGE_HDR_SIZE	64
#define ZIMAGE_MAGIC		0x016f2818u	/* at offset 0x24 */
/* a kernel larger than this, decompressed, is refused */
#define IMAGE_MAX_SIZE		(256u << 20)
/* booting.rst: image_size 0 (before 3.17) means text_offset 0x80000 */
#define ARM64_LEGACY_TEXT_OFFSET 0x80000u
/* zImage: start 0x28, end 0x2c, endianness flag 0x30 (when present) */
#define ZIMAGE_HDR_SIZE		0x30
#define ZIMAGE_ENDIAN_LE	0x04030201u
#define ZIMAGE_ENDIAN_BE	0x01020304u
/* a zImage is entered at RAM + 0x8000, like the kernel it unpacks */
#define ZIMAGE_TEXT_OFFSET	0x8000u

enum image_kind { IMAGE_ARM64, IMAGE_ZIMAGE };

struct image_info {
	enum image_kind kind;
	bool compressed;		/* the file was gzip */
	uint64_t text_offset;
	uint64_t image_size;		/* bytes to reserve from the load base */
	uint64_t file_size;		/* bytes of (decompressed) image to copy */
	bool big_endian;
	unsigned page_size_kb;		/* 0: unspecified, 4, 16, 64 */
	bool place_anywhere;		/* flags bit 3: any 2 MiB aligned base */
};

/*
 * Parse an arm64 Image header from buf (the decompressed image).  Returns 0
 * or -EINVAL with msg filled (not an Image, truncated, big-endian, ...).
 * image_size 0 (kernels before 3.17) means text_offset 0x80000 and the
 * reserved size is the file size rounded up to 2 MiB plus 2 MiB.
 */
int image_parse_arm64(const void *buf, size_t len, struct image_info *info,
		      char *msg, size_t msglen);

/*
 * Parse an arm32 zImage header (magic, start, end).  0 or -EINVAL.
 * image_size is end - start (must fit the buffer), text_offset 0x8000; a
 * big-endian zImage (endianness flag at 0x30) is refused.
 */
int image_parse_zimage(const void *buf, size_t len, struct image_info *info,
		       char *msg, size_t msglen);

/* Does buf start with the gzip magic? */
bool image_is_gzip(const void *buf, size_t len);

/*
 * Inflate a gzip buffer into a new malloc'd buffer of at most max bytes.
 * Returns 0 (*out, *outlen set) or -EINVAL (corrupt, truncated) / -EFBIG
 * (larger than max) / -ENOMEM with msg filled.
 */
int image_gunzip(const void *buf, size_t len, size_t max, void **out,
		 size_t *outlen, char *msg, size_t msglen);

/*
 * Read a kernel file: gunzip when needed, parse the header for arch.
 * On success *data holds the image (malloc'd; caller frees) unless data is
 * NULL (header check only).  Returns 0 or negative errno with msg filled.
 */
int image_load_kernel(const char *path, bool aarch32, struct image_info *info,
		      void **data, char *msg, size_t msglen);
/* The same from a descriptor (pread only; path names it in messages). */
int image_load_kernel_fd(int fd, const char *path, bool aarch32, struct image_info *info,
			 void **data, char *msg, size_t msglen);

/* Check a flattened device tree with fdt_check_full().  0 or -EINVAL. */
int image_check_dtb(const void *buf, size_t len, char *msg, size_t msglen);

/* Read a whole file (at most max bytes) into a malloc'd buffer. */
int image_read_file(const char *path, size_t max, void **data, size_t *len,
		    char *msg, size_t msglen);
/* ... or of a descriptor: a regular file only, read with pread. */
int image_read_fd(int fd, const char *path, size_t max, void **data, size_t *len,
		  char *msg, size_t msglen);

#endif
