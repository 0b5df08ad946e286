// SPDX-License-Identifier: MIT
/*
 * Boot image headers: arm64 Image, arm32 zImage and gzip.  The input is
 * the bytes of a kernel file, read the ways vm.create (header check of a
 * mapped file) and the worker (whole file, inflated) read it, and given to
 * the buffer parsers directly.  The first byte picks the inflate limit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arm64/image.h"
#include "fuzz.h"

static int fd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	fd = memfd_create("fuzz-image", MFD_CLOEXEC);
	if (fd < 0)
		fuzz_fail("memfd_create");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return 0;
}

static void put_file(const uint8_t *data, size_t size)
{
	size_t off = 0;

	if (ftruncate(fd, 0) < 0)
		fuzz_fail("ftruncate");
	while (off < size) {
		ssize_t n = pwrite(fd, data + off, size - off, (off_t)off);

		if (n <= 0)
			fuzz_fail("pwrite");
		off += (size_t)n;
	}
}

/* What a successful parse promises its callers (the payload planner). */
static void check_info(const struct image_info *info, size_t len, bool aarch32)
{
	if (info->big_endian)
		fuzz_fail("a big-endian image was accepted");
	if (aarch32) {
		if (info->kind != IMAGE_ZIMAGE || info->text_offset != ZIMAGE_TEXT_OFFSET)
			fuzz_fail("zImage: kind %d, text_offset 0x%llx", (int)info->kind,
				  (unsigned long long)info->text_offset);
		if (info->image_size == 0 || info->image_size > len)
			fuzz_fail("zImage: image_size %llu of a %zu byte file",
				  (unsigned long long)info->image_size, len);
	} else {
		if (info->kind != IMAGE_ARM64 || info->image_size < info->file_size)
			fuzz_fail("Image: kind %d, image_size %llu < file %llu",
				  (int)info->kind, (unsigned long long)info->image_size,
				  (unsigned long long)info->file_size);
	}
}

static void parse_both(const void *buf, size_t len)
{
	struct image_info info;
	char msg[256];

	if (image_parse_arm64(buf, len, &info, msg, sizeof(msg)) == 0)
		check_info(&info, len, false);
	else if (!memchr(msg, '\0', sizeof(msg)) || !msg[0])
		fuzz_fail("arm64: no message");
	if (image_parse_zimage(buf, len, &info, msg, sizeof(msg)) == 0)
		check_info(&info, len, true);
	else if (!memchr(msg, '\0', sizeof(msg)) || !msg[0])
		fuzz_fail("zImage: no message");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t limits[] = { 0, 1, 64, 4096, 1u << 20, IMAGE_MAX_SIZE };
	struct image_info info;
	size_t limit, outlen;
	void *out, *img;
	char msg[256];

	if (size < 1)
		return 0;
	limit = limits[data[0] % (sizeof(limits) / sizeof(limits[0]))];
	data++;
	size--;

	/* the buffer parsers, on an exact-size copy so that ASan sees the end */
	uint8_t *copy = malloc(size ? size : 1);

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	parse_both(copy, size);
	if (image_is_gzip(copy, size) &&
	    image_gunzip(copy, size, limit, &out, &outlen, msg, sizeof(msg)) == 0) {
		if (outlen > limit)
			fuzz_fail("gunzip: %zu bytes out, the limit was %zu", outlen, limit);
		parse_both(out, outlen);
		free(out);
	}
	free(copy);

	/* the file readers: header check only, then the whole image */
	put_file(data, size);
	for (int aarch32 = 0; aarch32 < 2; aarch32++) {
		if (image_load_kernel(path, aarch32, &info, NULL, msg, sizeof(msg)) == 0)
			check_info(&info, info.file_size, aarch32);
		img = NULL;
		if (image_load_kernel(path, aarch32, &info, &img, msg, sizeof(msg)) == 0) {
			if (!img)
				fuzz_fail("image_load_kernel: success without data");
			check_info(&info, info.file_size, aarch32);
		}
		free(img);
	}
	return 0;
}
