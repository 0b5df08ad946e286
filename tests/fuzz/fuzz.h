/* SPDX-License-Identifier: MIT */
/*
 * What the libFuzzer targets (tests/fuzz/fuzz_*.c) share: the entry points
 * libFuzzer calls, a reader that takes an input apart front to back, and
 * a private scratch directory for the files a target needs.
 */
#ifndef ARMVMD_FUZZ_H
#define ARMVMD_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An input being consumed; a read past the end gives zeroes. */
struct fuzz_in {
	const uint8_t *p;
	size_t len;
};

uint8_t fuzz_u8(struct fuzz_in *in);
uint16_t fuzz_u16(struct fuzz_in *in);
uint32_t fuzz_u32(struct fuzz_in *in);
uint64_t fuzz_u64(struct fuzz_in *in);
/* Up to n bytes from the front (*got of them), or NULL when none are left. */
const uint8_t *fuzz_take(struct fuzz_in *in, size_t n, size_t *got);

/* No log output unless FUZZ_LOG is set (to a level: debug, info, ...). */
void fuzz_quiet(void);

/* A scratch directory of this process (under $TMPDIR), removed at exit. */
const char *fuzz_tmpdir(void);
/* dir/name into buf (PATH_MAX bytes); aborts when it does not fit. */
char *fuzz_path(char *buf, const char *name);
/* Write (replace) a whole file; aborts on failure. */
void fuzz_write_file(const char *path, const void *data, size_t len);

/* Abort with a message: a broken invariant is a finding. */
void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
