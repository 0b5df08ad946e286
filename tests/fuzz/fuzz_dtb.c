// SPDX-License-Identifier: MIT
/*
 * User device trees: the check vm.create makes (image_check_dtb) and the
 * patching the worker does before the guest gets the tree
 * (fdt_patch_user: /chosen bootargs and initrd).
 *
 * Input: room (1 byte: how the output buffer is sized), flags (1 byte:
 * bit 0 initrd, bit 1 cmdline), initrd base and size (8 bytes each, LE),
 * cmdline length (1 byte) and text, then the device tree.
 */
#include <stdlib.h>
#include <string.h>

#include <libfdt.h>

#include "arm64/fdt.h"
#include "arm64/image.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

static void check_u64(const void *fdt, int node, const char *name, uint64_t want)
{
	int len;
	const void *v = fdt_getprop(fdt, node, name, &len);

	/* properties are only 4-byte aligned */
	if (!v || len != 8 || fdt64_ld(v) != want)
		fuzz_fail("/chosen/%s is not 0x%llx", name, (unsigned long long)want);
}

/* What the guest is promised of a patched tree. */
static void check_patched(const void *fdt, size_t size, const char *cmdline,
			  uint64_t initrd_base, uint64_t initrd_size)
{
	int chosen, len;
	const char *args;

	if (fdt_check_full(fdt, size))
		fuzz_fail("the patched tree does not check: %s",
			  fdt_strerror(fdt_check_full(fdt, size)));
	if (fdt_totalsize(fdt) > size)
		fuzz_fail("the patched tree is %u bytes in a %zu byte buffer",
			  fdt_totalsize(fdt), size);
	chosen = fdt_path_offset(fdt, "/chosen");
	if (chosen < 0)
		fuzz_fail("no /chosen after patching");
	args = fdt_getprop(fdt, chosen, "bootargs", &len);
	if (cmdline[0] && (!args || len != (int)strlen(cmdline) + 1 ||
			   memcmp(args, cmdline, (size_t)len)))
		fuzz_fail("/chosen/bootargs is not the command line");
	if (initrd_size) {
		check_u64(fdt, chosen, "linux,initrd-start", initrd_base);
		check_u64(fdt, chosen, "linux,initrd-end", initrd_base + initrd_size);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint8_t room = fuzz_u8(&in), flags = fuzz_u8(&in);
	uint64_t initrd_base = fuzz_u64(&in), initrd_size = fuzz_u64(&in);
	size_t cmdlen, dtblen, bufsize;
	const uint8_t *cmd = fuzz_take(&in, fuzz_u8(&in), &cmdlen);
	const uint8_t *dtb;
	char cmdline[256] = "", msg[256];
	void *user, *buf;
	int r;

	if (!(flags & 1))
		initrd_size = 0;
	if ((flags & 2) && cmd) {
		memcpy(cmdline, cmd, cmdlen);
		cmdline[cmdlen] = '\0';		/* may be shorter: a NUL inside */
	}
	dtb = fuzz_take(&in, in.len, &dtblen);
	/* exact-size copy, so that ASan sees a read past the file's end */
	user = malloc(dtblen ? dtblen : 1);
	if (!user)
		return 0;
	if (dtb)
		memcpy(user, dtb, dtblen);

	/* vm.create: the plan refuses what does not check */
	if (image_check_dtb(user, dtblen, msg, sizeof(msg)) < 0 && !msg[0])
		fuzz_fail("image_check_dtb: no message");

	/* the worker: the plan's reserve is the file plus 4 KiB */
	switch (room % 4) {
	case 0: bufsize = dtblen + 4096; break;
	case 1: bufsize = dtblen; break;
	case 2: bufsize = dtblen / 2 + room; break;
	default: bufsize = FDT_MAX_SIZE; break;
	}
	buf = malloc(bufsize ? bufsize : 1);
	if (!buf) {
		free(user);
		return 0;
	}
	r = fdt_patch_user(user, dtblen, buf, bufsize, cmdline, initrd_base,
			   initrd_size, msg, sizeof(msg));
	if (r == 0)
		check_patched(buf, bufsize, cmdline, initrd_base, initrd_size);
	else if (r > 0 || !msg[0])
		fuzz_fail("fdt_patch_user: %d without a message", r);
	free(buf);
	free(user);
	return 0;
}
