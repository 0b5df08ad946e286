// SPDX-License-Identifier: MIT
/*
 * Boot images: arm64 Image and zImage headers, gzip, files, device trees.
 * Every image here is made by the test itself: a header in a buffer,
 * compressed with zlib, written to a temporary file when a path is needed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libfdt.h>
#include <zlib.h>

#include "arm64/image.h"

#define MiB(x)	((size_t)(x) << 20)

/* ---- fixtures ---- */

static void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put_le64(unsigned char *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

/* A synthetic arm64 Image of len bytes (len >= 64): header plus a pattern. */
static unsigned char *make_arm64(size_t len, uint64_t text_offset,
				 uint64_t image_size, uint64_t flags)
{
	unsigned char *p = malloc(len);

	assert_non_null(p);
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(i * 7 + (i >> 12));
	memset(p, 0, ARM64_IMAGE_HDR_SIZE);
	p[0] = 'M';			/* code0: "MZ" of an EFI stub kernel */
	p[1] = 'Z';
	put_le32(p + 4, 0x14000000);	/* code1: a branch */
	put_le64(p + 8, text_offset);
	put_le64(p + 16, image_size);
	put_le64(p + 24, flags);
	put_le32(p + 56, ARM64_IMAGE_MAGIC);
	return p;
}

/* A synthetic zImage: magic, start, end, little-endian flag. */
static unsigned char *make_zimage(size_t len, uint32_t start, uint32_t end,
				  uint32_t endian)
{
	unsigned char *p = calloc(1, len);

	assert_non_null(p);
	put_le32(p + 0x24, ZIMAGE_MAGIC);
	put_le32(p + 0x28, start);
	put_le32(p + 0x2c, end);
	if (len >= 0x34)
		put_le32(p + 0x30, endian);
	return p;
}

/* Compress with a gzip wrapper into a malloc'd buffer. */
static unsigned char *gzip_buf(const void *in, size_t len, size_t *outlen)
{
	z_stream zs;
	size_t cap = len + len / 100 + 1024;
	unsigned char *out = malloc(cap);

	assert_non_null(out);
	memset(&zs, 0, sizeof(zs));
	assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8,
				      Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	*outlen = zs.total_out;
	deflateEnd(&zs);
	return out;
}

static char *write_temp(const void *data, size_t len)
{
	const char *dir = getenv("TMPDIR");
	char *path;
	int fd;

	assert_true(asprintf(&path, "%s/armvmd-test-image.XXXXXX",
			     dir && *dir ? dir : "/tmp") > 0);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_true(write(fd, data, len) == (ssize_t)len);
	close(fd);
	return path;
}

static void remove_temp(char *path)
{
	unlink(path);
	free(path);
}

/* ---- arm64 Image header ---- */

static void test_arm64_good(void **state)
{
	unsigned char *img = make_arm64(4096, 0, 0x1230000, 1u << 1 | 1u << 3);
	struct image_info info;
	char msg[256] = "";

	assert_int_equal(image_parse_arm64(img, 4096, &info, msg, sizeof(msg)), 0);
	assert_int_equal(info.kind, IMAGE_ARM64);
	assert_false(info.compressed);
	assert_true(info.text_offset == 0);
	assert_true(info.image_size == 0x1230000);
	assert_true(info.file_size == 4096);
	assert_false(info.big_endian);
	assert_int_equal(info.page_size_kb, 4);
	assert_true(info.place_anywhere);
	free(img);

	img = make_arm64(64, 0x80000, 0x1000000, 0);
	assert_int_equal(image_parse_arm64(img, 64, &info, msg, sizeof(msg)), 0);
	assert_true(info.text_offset == 0x80000);
	assert_false(info.place_anywhere);
	free(img);
}

static void test_arm64_flags(void **state)
{
	static const unsigned kb[] = { 0, 4, 16, 64 };
	unsigned char *img = make_arm64(64, 0, 0x100000, 0);
	struct image_info info;
	char msg[256];

	for (unsigned ps = 0; ps < 4; ps++) {
		for (unsigned any = 0; any < 2; any++) {
			put_le64(img + 24, (uint64_t)ps << 1 | (uint64_t)any << 3);
			assert_int_equal(image_parse_arm64(img, 64, &info, msg,
							   sizeof(msg)), 0);
			assert_int_equal(info.page_size_kb, kb[ps]);
			assert_int_equal(info.place_anywhere, any);
		}
	}
	free(img);
}

static void test_arm64_bad_magic(void **state)
{
	unsigned char *img = make_arm64(4096, 0, 0x100000, 0);
	unsigned char *zi = make_zimage(4096, 0, 4096, ZIMAGE_ENDIAN_LE);
	struct image_info info;
	char msg[256];

	img[59] ^= 0xff;
	assert_int_equal(image_parse_arm64(img, 4096, &info, msg, sizeof(msg)),
			 -EINVAL);
	assert_non_null(strstr(msg, "not an arm64 Image"));

	assert_int_equal(image_parse_arm64(zi, 4096, &info, msg, sizeof(msg)),
			 -EINVAL);
	assert_non_null(strstr(msg, "not an arm64 Image"));
	assert_non_null(strstr(msg, "zImage"));

	img[0] = 0x1f;
	img[1] = 0x8b;
	assert_int_equal(image_parse_arm64(img, 4096, &info, msg, sizeof(msg)),
			 -EINVAL);
	assert_non_null(strstr(msg, "gzip"));

	/* EFI zboot: "MZ", then "zimg" */
	img[0] = 'M';
	img[1] = 'Z';
	memcpy(img + 4, "zimg", 4);
	assert_int_equal(image_parse_arm64(img, 4096, &info, msg, sizeof(msg)),
			 -EINVAL);
	assert_non_null(strstr(msg, "zboot"));
	free(img);
	free(zi);
}

static void test_arm64_truncated(void **state)
{
	unsigned char *img = make_arm64(64, 0, 0x100000, 0);
	struct image_info info;
	char msg[256];

	assert_int_equal(image_parse_arm64(img, 63, &info, msg, sizeof(msg)),
			 -EINVAL);
	assert_non_null(strstr(msg, "truncated"));
	assert_int_equal(image_parse_arm64(img, 0, &info, msg, sizeof(msg)),
			 -EINVAL);
	free(img);
}

static void test_arm64_big_endian(void **state)
{
	unsigned char *img = make_arm64(64, 0, 0x100000, 1u | 1u << 1);
	struct image_info info;
	char msg[256];

	assert_int_equal(image_parse_arm64(img, 64, &info, msg, sizeof(msg)),
			 -EINVAL);
	assert_true(info.big_endian);
	assert_non_null(strstr(msg, "big-endian"));
	free(img);
}

static void test_arm64_legacy(void **state)
{
	/* before 3.17: image_size 0, text_offset taken as 0x80000 */
	size_t len = MiB(3) + 100;
	unsigned char *img = make_arm64(len, 0x1234, 0, 0xe);
	struct image_info info;
	char msg[256];

	assert_int_equal(image_parse_arm64(img, len, &info, msg, sizeof(msg)), 0);
	assert_true(info.text_offset == 0x80000);
	assert_true(info.image_size == MiB(4) + MiB(2));
	assert_true(info.file_size == len);
	/* the flags field did not exist yet */
	assert_int_equal(info.page_size_kb, 0);
	assert_false(info.place_anywhere);
	free(img);
}

static void test_arm64_file_longer_than_image_size(void **state)
{
	unsigned char *img = make_arm64(8192, 0, 4096, 0);
	struct image_info info;
	char msg[256];

	assert_int_equal(image_parse_arm64(img, 8192, &info, msg, sizeof(msg)), 0);
	assert_true(info.image_size == 8192);
	free(img);
}

/* ---- zImage ---- */

static void test_zimage_good(void **state)
{
	unsigned char *zi = make_zimage(0x2000, 0, 0x1f00, ZIMAGE_ENDIAN_LE);
	struct image_info info;
	char msg[256];

	assert_int_equal(image_parse_zimage(zi, 0x2000, &info, msg, sizeof(msg)), 0);
	assert_int_equal(info.kind, IMAGE_ZIMAGE);
	assert_true(info.text_offset == 0x8000);
	assert_true(info.image_size == 0x1f00);
	assert_true(info.file_size == 0x2000);
	assert_false(info.big_endian);
	free(zi);

	/* an old zImage without the endianness word */
	zi = make_zimage(0x2000, 0x100, 0x1100, 0);
	assert_int_equal(image_parse_zimage(zi, 0x2000, &info, msg, sizeof(msg)), 0);
	assert_true(info.image_size == 0x1000);
	free(zi);
}

static void test_zimage_bad(void **state)
{
	unsigned char *zi = make_zimage(0x2000, 0, 0x2000, ZIMAGE_ENDIAN_LE);
	unsigned char *img = make_arm64(0x2000, 0, 0x100000, 0);
	struct image_info info;
	char msg[256];

	assert_int_equal(image_parse_zimage(zi, 0x2f, &info, msg, sizeof(msg)),
			 -EINVAL);
	assert_non_null(strstr(msg, "truncated"));

	/* the header says more than there is */
	assert_int_equal(image_parse_zimage(zi, 0x1fff, &info, msg, sizeof(msg)),
			 -EINVAL);
	assert_non_null(strstr(msg, "truncated"));

	put_le32(zi + 0x30, ZIMAGE_ENDIAN_BE);
	assert_int_equal(image_parse_zimage(zi, 0x2000, &info, msg, sizeof(msg)),
			 -EINVAL);
	assert_non_null(strstr(msg, "big-endian"));
	put_le32(zi + 0x30, ZIMAGE_ENDIAN_LE);

	put_le32(zi + 0x2c, 0);
	assert_int_equal(image_parse_zimage(zi, 0x2000, &info, msg, sizeof(msg)),
			 -EINVAL);
	assert_non_null(strstr(msg, "end"));

	zi[0x24] ^= 1;
	assert_int_equal(image_parse_zimage(zi, 0x2000, &info, msg, sizeof(msg)),
			 -EINVAL);
	assert_non_null(strstr(msg, "not an arm32 zImage"));

	assert_int_equal(image_parse_zimage(img, 0x2000, &info, msg, sizeof(msg)),
			 -EINVAL);
	assert_non_null(strstr(msg, "arm64 Image"));
	free(zi);
	free(img);
}

/* ---- gzip ---- */

static void test_is_gzip(void **state)
{
	static const unsigned char gz[] = { 0x1f, 0x8b, 0x08 };
	static const unsigned char no[] = { 0x1f, 0x8c };

	assert_true(image_is_gzip(gz, 3));
	assert_true(image_is_gzip(gz, 2));
	assert_false(image_is_gzip(gz, 1));
	assert_false(image_is_gzip(no, 2));
	assert_false(image_is_gzip(gz, 0));
}

static void test_gunzip_roundtrip(void **state)
{
	size_t len = MiB(1) + 77, zlen, outlen;
	unsigned char *img = make_arm64(len, 0, MiB(2), 0);
	unsigned char *gz = gzip_buf(img, len, &zlen);
	void *out;
	char msg[256];

	assert_true(zlen < len);
	assert_int_equal(image_gunzip(gz, zlen, MiB(2), &out, &outlen, msg,
				      sizeof(msg)), 0);
	assert_true(outlen == len);
	assert_memory_equal(out, img, len);
	free(out);

	/* exactly at the limit is fine */
	assert_int_equal(image_gunzip(gz, zlen, len, &out, &outlen, msg,
				      sizeof(msg)), 0);
	free(out);

	/* a lying ISIZE trailer is only a hint, but the check catches it */
	put_le32(gz + zlen - 4, 10);
	assert_int_equal(image_gunzip(gz, zlen, MiB(2), &out, &outlen, msg,
				      sizeof(msg)), -EINVAL);
	assert_null(out);
	free(gz);
	free(img);
}

static void test_gunzip_truncated(void **state)
{
	size_t len = MiB(1), zlen, outlen;
	unsigned char *img = make_arm64(len, 0, MiB(2), 0);
	unsigned char *gz = gzip_buf(img, len, &zlen);
	void *out = (void *)1;
	char msg[256];

	assert_int_equal(image_gunzip(gz, zlen / 2, MiB(2), &out, &outlen, msg,
				      sizeof(msg)), -EINVAL);
	assert_null(out);
	assert_non_null(strstr(msg, "truncated"));

	/* the deflate data whole, the CRC and length trailer missing */
	assert_int_equal(image_gunzip(gz, zlen - 8, MiB(2), &out, &outlen, msg,
				      sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "truncated"));

	/* only the 10-byte gzip header */
	assert_int_equal(image_gunzip(gz, 10, MiB(2), &out, &outlen, msg,
				      sizeof(msg)), -EINVAL);
	free(gz);
	free(img);
}

static void test_gunzip_garbage(void **state)
{
	unsigned char junk[4096];
	size_t outlen;
	void *out;
	char msg[256];

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(i * 131 + 17);
	assert_int_equal(image_gunzip(junk, sizeof(junk), MiB(1), &out, &outlen,
				      msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "not gzip"));

	/* the magic, then nonsense */
	junk[0] = 0x1f;
	junk[1] = 0x8b;
	junk[2] = 0x08;
	junk[3] = 0;
	assert_int_equal(image_gunzip(junk, sizeof(junk), MiB(1), &out, &outlen,
				      msg, sizeof(msg)), -EINVAL);
	assert_null(out);
	assert_true(msg[0] != '\0');

	/* an unknown compression method */
	junk[2] = 0x07;
	assert_int_equal(image_gunzip(junk, sizeof(junk), MiB(1), &out, &outlen,
				      msg, sizeof(msg)), -EINVAL);
}

static void test_gunzip_bomb(void **state)
{
	size_t len = MiB(8), zlen, outlen;
	unsigned char *zeros = calloc(1, len);
	unsigned char *gz;
	void *out = (void *)1;
	char msg[256];

	assert_non_null(zeros);
	gz = gzip_buf(zeros, len, &zlen);
	assert_true(zlen < 65536);
	assert_int_equal(image_gunzip(gz, zlen, MiB(1), &out, &outlen, msg,
				      sizeof(msg)), -EFBIG);
	assert_null(out);
	assert_non_null(strstr(msg, "more than"));
	/* one byte short of the limit */
	assert_int_equal(image_gunzip(gz, zlen, len - 1, &out, &outlen, msg,
				      sizeof(msg)), -EFBIG);
	assert_int_equal(image_gunzip(gz, zlen, len, &out, &outlen, msg,
				      sizeof(msg)), 0);
	assert_true(outlen == len);
	free(out);
	free(gz);
	free(zeros);
}

/* ---- files ---- */

static void test_load_plain(void **state)
{
	size_t len = 300000;
	unsigned char *img = make_arm64(len, 0, MiB(1), 1u << 2);
	char *path = write_temp(img, len);
	struct image_info info;
	void *data;
	char msg[256];

	assert_int_equal(image_load_kernel(path, false, &info, &data, msg,
					   sizeof(msg)), 0);
	assert_false(info.compressed);
	assert_true(info.file_size == len);
	assert_true(info.image_size == MiB(1));
	assert_int_equal(info.page_size_kb, 16);
	assert_memory_equal(data, img, len);
	free(data);

	/* header check only */
	assert_int_equal(image_load_kernel(path, false, &info, NULL, msg,
					   sizeof(msg)), 0);
	/* the wrong architecture */
	assert_int_equal(image_load_kernel(path, true, &info, &data, msg,
					   sizeof(msg)), -EINVAL);
	assert_null(data);
	assert_non_null(strstr(msg, path));
	remove_temp(path);
	free(img);
}

static void test_load_gzip(void **state)
{
	size_t len = MiB(2) + 4097, zlen;
	unsigned char *img = make_arm64(len, 0, MiB(3), 3u << 1);
	unsigned char *gz = gzip_buf(img, len, &zlen);
	char *path = write_temp(gz, zlen);
	struct image_info info;
	void *data;
	char msg[256];

	assert_int_equal(image_load_kernel(path, false, &info, &data, msg,
					   sizeof(msg)), 0);
	assert_true(info.compressed);
	assert_true(info.file_size == len);
	assert_true(info.image_size == MiB(3));
	assert_int_equal(info.page_size_kb, 64);
	assert_memory_equal(data, img, len);
	free(data);
	remove_temp(path);

	/* truncated on disk */
	path = write_temp(gz, zlen - 100);
	assert_int_equal(image_load_kernel(path, false, &info, &data, msg,
					   sizeof(msg)), -EINVAL);
	assert_null(data);
	assert_non_null(strstr(msg, path));
	assert_non_null(strstr(msg, "truncated"));
	remove_temp(path);

	/* a gzip'd file that is not an Image */
	memset(img, 0, 64);
	free(gz);
	gz = gzip_buf(img, len, &zlen);
	path = write_temp(gz, zlen);
	assert_int_equal(image_load_kernel(path, false, &info, &data, msg,
					   sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "not an arm64 Image"));
	remove_temp(path);
	free(gz);
	free(img);
}

/* Deflate one chunk and end with a full flush; returns the bytes made. */
static size_t deflate_flushed(z_stream *zs, const void *in, size_t len,
			      unsigned char *out, size_t cap)
{
	zs->next_in = (Bytef *)in;
	zs->avail_in = (uInt)len;
	zs->next_out = out;
	zs->avail_out = (uInt)cap;
	assert_int_equal(deflate(zs, Z_FULL_FLUSH), Z_OK);
	assert_int_equal(zs->avail_in, 0);
	assert_true(zs->avail_out > 0);
	return cap - zs->avail_out;
}

/*
 * An Image header followed by zeros, more than IMAGE_MAX_SIZE inflated.
 * After a full flush a deflate block needs no history, so one flushed
 * MiB of zeros can be repeated to make the bomb without compressing it
 * all (which would take long under qemu-user).  It has no trailer: the
 * loader must give up on the size before it notices.
 */
static void test_load_gzip_bomb(void **state)
{
	size_t chunk = MiB(1), nrep = IMAGE_MAX_SIZE / MiB(1) + 1;
	unsigned char *buf = make_arm64(chunk, 0, IMAGE_MAX_SIZE + chunk, 0);
	unsigned char first[65536], rep[65536], *gz, *p;
	size_t nfirst, nrepb;
	struct image_info info;
	z_stream zs;
	char *path;
	void *data;
	char msg[256];

	memset(buf + 64, 0, chunk - 64);
	memset(&zs, 0, sizeof(zs));
	assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8,
				      Z_DEFAULT_STRATEGY), Z_OK);
	nfirst = deflate_flushed(&zs, buf, chunk, first, sizeof(first));
	memset(buf, 0, 64);
	nrepb = deflate_flushed(&zs, buf, chunk, rep, sizeof(rep));
	deflateEnd(&zs);

	gz = malloc(nfirst + nrep * nrepb);
	assert_non_null(gz);
	memcpy(gz, first, nfirst);
	p = gz + nfirst;
	for (size_t i = 0; i < nrep; i++, p += nrepb)
		memcpy(p, rep, nrepb);

	path = write_temp(gz, (size_t)(p - gz));
	assert_int_equal(image_load_kernel(path, false, &info, &data, msg,
					   sizeof(msg)), -EFBIG);
	assert_null(data);
	assert_non_null(strstr(msg, "256 MiB"));
	remove_temp(path);

	/* the same stream cut below the limit is merely truncated */
	path = write_temp(gz, nfirst + 10 * nrepb);
	assert_int_equal(image_load_kernel(path, false, &info, &data, msg,
					   sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "truncated"));
	remove_temp(path);
	free(gz);
	free(buf);
}

static void test_load_zimage(void **state)
{
	unsigned char *zi = make_zimage(0x3000, 0, 0x3000, ZIMAGE_ENDIAN_LE);
	char *path = write_temp(zi, 0x3000);
	struct image_info info;
	void *data;
	char msg[256];

	assert_int_equal(image_load_kernel(path, true, &info, &data, msg,
					   sizeof(msg)), 0);
	assert_int_equal(info.kind, IMAGE_ZIMAGE);
	assert_true(info.text_offset == 0x8000);
	assert_true(info.image_size == 0x3000);
	free(data);
	assert_int_equal(image_load_kernel(path, false, &info, &data, msg,
					   sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "zImage"));
	remove_temp(path);
	free(zi);
}

static void test_read_file(void **state)
{
	unsigned char buf[100];
	char *path;
	void *data;
	size_t len;
	struct image_info info;
	char msg[256];

	memset(buf, 0x5a, sizeof(buf));
	path = write_temp(buf, sizeof(buf));
	assert_int_equal(image_read_file(path, 100, &data, &len, msg,
					 sizeof(msg)), 0);
	assert_true(len == 100);
	assert_memory_equal(data, buf, 100);
	free(data);
	assert_int_equal(image_read_file(path, 99, &data, &len, msg,
					 sizeof(msg)), -EFBIG);
	assert_null(data);
	remove_temp(path);

	path = write_temp(buf, 0);
	assert_int_equal(image_read_file(path, 100, &data, &len, msg,
					 sizeof(msg)), 0);
	assert_true(len == 0);
	free(data);
	assert_int_equal(image_load_kernel(path, false, &info, NULL, msg,
					   sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "truncated"));
	remove_temp(path);

	assert_int_equal(image_read_file("/nonexistent/armvmd/kernel", 100,
					 &data, &len, msg, sizeof(msg)), -ENOENT);
	assert_non_null(strstr(msg, "/nonexistent/armvmd/kernel"));
	assert_int_equal(image_read_file("/", 100, &data, &len, msg,
					 sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "regular file"));
	assert_int_equal(image_load_kernel("/nonexistent/armvmd/kernel", false,
					   &info, NULL, msg, sizeof(msg)),
			 -ENOENT);
}

/* ---- device trees ---- */

/* an EFI-stub Image: "MZ", PE header at 0x40, one section ending at 8 KiB */
static unsigned char *make_pe_arm64(size_t len)
{
	unsigned char *p = make_arm64(len, 0, 0x10000, 0);

	p[0] = 'M';
	p[1] = 'Z';
	put_le32(p + 0x3c, 0x40);
	memset(p + 0x40, 0, 24 + 40);
	memcpy(p + 0x40, "PE\0\0", 4);
	p[0x40 + 6] = 1;		/* one section, no optional header */
	put_le32(p + 0x40 + 24 + 16, 0x1000);	/* SizeOfRawData */
	put_le32(p + 0x40 + 24 + 20, 0x1000);	/* PointerToRawData */
	return p;
}

static void test_arm64_pe_truncated(void **state)
{
	struct image_info info;
	char msg[256];
	unsigned char *whole = make_pe_arm64(0x2000);

	assert_int_equal(image_parse_arm64(whole, 0x2000, &info, msg, sizeof(msg)), 0);
	assert_int_equal(image_parse_arm64(whole, 0x1800, &info, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "truncated"));
	free(whole);
}

static void make_dtb(void *buf, int size)
{
	int node;

	assert_int_equal(fdt_create_empty_tree(buf, size), 0);
	assert_int_equal(fdt_setprop_string(buf, 0, "compatible", "linux,dummy-virt"), 0);
	node = fdt_add_subnode(buf, 0, "chosen");
	assert_true(node >= 0);
	assert_int_equal(fdt_setprop_string(buf, node, "bootargs", "console=ttyS0"), 0);
	assert_int_equal(fdt_pack(buf), 0);
}

static void test_dtb_good(void **state)
{
	static uint64_t buf[512];
	char msg[256];

	make_dtb(buf, sizeof(buf));
	assert_int_equal(image_check_dtb(buf, fdt_totalsize(buf), msg,
					 sizeof(msg)), 0);
	/* a buffer longer than the tree is fine */
	assert_int_equal(image_check_dtb(buf, sizeof(buf), msg, sizeof(msg)), 0);
}

static void test_dtb_corrupt(void **state)
{
	static uint64_t buf[512];
	unsigned char *p = (unsigned char *)buf;
	uint32_t total, off;
	char msg[256];

	make_dtb(buf, sizeof(buf));
	total = fdt_totalsize(buf);

	assert_int_equal(image_check_dtb(buf, 20, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "truncated"));
	assert_int_equal(image_check_dtb(buf, total - 1, msg, sizeof(msg)),
			 -EINVAL);
	assert_non_null(strstr(msg, "truncated"));

	/* the first structure token is FDT_BEGIN_NODE: break it */
	off = fdt_off_dt_struct(buf);
	p[off + 3] = 0x7f;
	assert_int_equal(image_check_dtb(buf, total, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "corrupt"));

	/* a strings block beyond the end */
	make_dtb(buf, sizeof(buf));
	fdt_set_off_dt_strings(buf, total + 64);
	assert_int_equal(image_check_dtb(buf, total, msg, sizeof(msg)), -EINVAL);

	make_dtb(buf, sizeof(buf));
	p[0] ^= 0xff;
	assert_int_equal(image_check_dtb(buf, total, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "not a device tree"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arm64_good),
		cmocka_unit_test(test_arm64_flags),
		cmocka_unit_test(test_arm64_bad_magic),
		cmocka_unit_test(test_arm64_truncated),
		cmocka_unit_test(test_arm64_big_endian),
		cmocka_unit_test(test_arm64_legacy),
		cmocka_unit_test(test_arm64_pe_truncated),
		cmocka_unit_test(test_arm64_file_longer_than_image_size),
		cmocka_unit_test(test_zimage_good),
		cmocka_unit_test(test_zimage_bad),
		cmocka_unit_test(test_is_gzip),
		cmocka_unit_test(test_gunzip_roundtrip),
		cmocka_unit_test(test_gunzip_truncated),
		cmocka_unit_test(test_gunzip_garbage),
		cmocka_unit_test(test_gunzip_bomb),
		cmocka_unit_test(test_load_plain),
		cmocka_unit_test(test_load_gzip),
		cmocka_unit_test(test_load_gzip_bomb),
		cmocka_unit_test(test_load_zimage),
		cmocka_unit_test(test_read_file),
		cmocka_unit_test(test_dtb_good),
		cmocka_unit_test(test_dtb_corrupt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
