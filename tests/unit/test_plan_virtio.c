// SPDX-License-Identifier: MIT
/* The virtio part of a plan: vm.create's disks, nets, hvc, rng. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arm64/plan.h"
#include "libarmvm.h"

static char kernel[64], disk[64], disk2[64];

static int setup(void **state)
{
	unsigned char hdr[4096] = { 0 };
	uint64_t image_size = 4u << 20;
	uint32_t magic = ARM64_IMAGE_MAGIC;
	FILE *f;

	strcpy(kernel, "/tmp/armvmd-pv-kernel.XXXXXX");
	strcpy(disk, "/tmp/armvmd-pv-disk.XXXXXX");
	strcpy(disk2, "/tmp/armvmd-pv-disk2.XXXXXX");
	close(mkstemp(kernel));
	close(mkstemp(disk));
	close(mkstemp(disk2));
	memcpy(hdr + 16, &image_size, 8);
	memcpy(hdr + 56, &magic, 4);
	f = fopen(kernel, "wb");
	fwrite(hdr, 1, sizeof(hdr), f);
	fclose(f);
	assert_int_equal(truncate(disk, 1 << 20), 0);
	return 0;
}

static int teardown(void **state)
{
	unlink(kernel);
	unlink(disk);
	unlink(disk2);
	return 0;
}

static const struct plan_host host = {
	.limits = { .ipa_limit_bits = 44, .ipa_cap = true },
	.gic_v3 = true,
};

static struct vm_plan plan;
static struct layout_error err;

static int build(const char *extra)
{
	char text[1024];
	json_t *spec;
	int r;

	snprintf(text, sizeof(text), "{\"name\":\"t1\",\"kernel\":\"%s\",%s}", kernel, extra);
	spec = json_loads(text, 0, NULL);
	assert_non_null(spec);
	r = plan_build(spec, &host, NULL, &plan, &err);
	json_decref(spec);
	return r;
}

static void test_none(void **state)
{
	assert_int_equal(build("\"vcpus\":1"), 0);
	assert_int_equal(plan.nvirtio, 0);
	assert_int_equal(plan.ndisks, 0);
}

static void test_disk_strings(void **state)
{
	char spec[512];

	snprintf(spec, sizeof(spec), "\"disks\":[\"%s\",\"%s,ro,serial=abc,queues=2\"]",
		 disk, disk2);
	assert_int_equal(build(spec), 0);
	assert_int_equal(plan.ndisks, 2);
	assert_int_equal(plan.nvirtio, 2);
	assert_string_equal(plan.disks[0].path, disk);
	assert_false(plan.disks[0].readonly);
	assert_int_equal(plan.disks[0].queues, 1);
	/* the default serial: the file name, at most 20 characters */
	assert_int_equal(strlen(plan.disks[0].serial), 20);
	assert_memory_equal(plan.disks[0].serial, strrchr(disk, '/') + 1, 20);
	assert_true(plan.disks[1].readonly);
	assert_string_equal(plan.disks[1].serial, "abc");
	assert_int_equal(plan.disks[1].queues, 2);
	assert_int_equal(plan.virtio[1].kind, VIRTIO_KIND_BLK);
	assert_int_equal(plan.virtio[1].index, 1);

	/* one disk as a plain string */
	snprintf(spec, sizeof(spec), "\"disks\":\"%s\"", disk);
	assert_int_equal(build(spec), 0);
	assert_int_equal(plan.ndisks, 1);
}

static void test_disk_object(void **state)
{
	char spec[512];

	snprintf(spec, sizeof(spec), "\"disks\":{\"path\":\"%s\",\"readonly\":true,"
		 "\"serial\":\"s-1\",\"queues\":4}", disk);
	assert_int_equal(build(spec), 0);
	assert_true(plan.disks[0].readonly);
	assert_string_equal(plan.disks[0].serial, "s-1");
	assert_int_equal(plan.disks[0].queues, 4);

	snprintf(spec, sizeof(spec), "\"disks\":{\"path\":\"%s\",\"cache\":\"none\"}", disk);
	assert_int_equal(build(spec), -1);
	assert_int_equal(err.code, ARMVM_E_INVALID_PARAMS);
	assert_non_null(strstr(err.message, "unknown key 'cache'"));
}

static void test_disk_errors(void **state)
{
	char spec[512];

	assert_int_equal(build("\"disks\":\"/nonexistent/disk.img\""), -1);
	assert_int_equal(err.code, ARMVM_E_INVALID_PARAMS);
	assert_non_null(strstr(err.message, "disk 0: /nonexistent/disk.img"));

	assert_int_equal(build("\"disks\":\"/tmp,ro\""), -1);
	assert_non_null(strstr(err.message, "not a regular file"));

	snprintf(spec, sizeof(spec), "\"disks\":\"%s,rx\"", disk);
	assert_int_equal(build(spec), -1);
	assert_non_null(strstr(err.message, "unknown option 'rx'"));

	snprintf(spec, sizeof(spec), "\"disks\":\"%s,queues=9\"", disk);
	assert_int_equal(build(spec), -1);
	assert_non_null(strstr(err.message, "queues"));

	snprintf(spec, sizeof(spec), "\"disks\":\"%s,serial=123456789012345678901\"", disk);
	assert_int_equal(build(spec), -1);
	assert_non_null(strstr(err.message, "serial"));

	/* the same image twice: only when both are read-only */
	snprintf(spec, sizeof(spec), "\"disks\":[\"%s\",\"%s,ro\"]", disk, disk);
	assert_int_equal(build(spec), -1);
	assert_non_null(strstr(err.message, "disk 1:"));
	snprintf(spec, sizeof(spec), "\"disks\":[\"%s,ro\",\"%s,ro\"]", disk, disk);
	assert_int_equal(build(spec), 0);

	assert_int_equal(build("\"disks\":[42]"), -1);
	assert_non_null(strstr(err.message, "disk 0:"));
}

static void test_nets(void **state)
{
	uint8_t mac0[6];

	assert_int_equal(build("\"nets\":[\"tap=tap0,mac=02:00:00:00:00:01\",\"tap\","
			       "{\"tap\":\"br-tap1\"}]"), 0);
	assert_int_equal(plan.nnets, 3);
	assert_string_equal(plan.nets[0].tap, "tap0");
	assert_memory_equal(plan.nets[0].mac, "\x02\x00\x00\x00\x00\x01", 6);
	assert_string_equal(plan.nets[1].tap, "");
	assert_string_equal(plan.nets[2].tap, "br-tap1");
	/* default addresses: locally administered, unicast, distinct, stable */
	assert_int_equal(plan.nets[1].mac[0], 0x02);
	assert_memory_not_equal(plan.nets[1].mac, plan.nets[2].mac, 6);
	memcpy(mac0, plan.nets[1].mac, 6);
	assert_int_equal(build("\"nets\":[\"tap=tap0,mac=02:00:00:00:00:01\",\"tap\"]"), 0);
	assert_memory_equal(plan.nets[1].mac, mac0, 6);

	assert_int_equal(build("\"nets\":\"tap=tap0,mac=01:00:00:00:00:01\""), -1);
	assert_non_null(strstr(err.message, "unicast"));
	assert_int_equal(build("\"nets\":\"tap=tap0,mac=02:00:00:00:00\""), -1);
	assert_int_equal(build("\"nets\":\"tap=way-too-long-name0\""), -1);
	assert_int_equal(build("\"nets\":\"tap=a/b\""), -1);
	assert_int_equal(build("\"nets\":[\"tap=t0\",\"tap=t0\"]"), -1);
	assert_non_null(strstr(err.message, "net 1:"));
	assert_int_equal(build("\"nets\":{\"tap\":\"t0\",\"model\":\"e1000\"}"), -1);
}

static void test_slots_and_layout(void **state)
{
	char spec[512];
	json_t *j, *devs, *d;
	size_t i;
	int virtio = 0;

	snprintf(spec, sizeof(spec), "\"rng\":true,\"hvc\":true,\"nets\":\"tap=t0\","
		 "\"disks\":[\"%s\",\"%s,ro\"]", disk, disk2);
	assert_int_equal(build(spec), 0);
	assert_int_equal(plan.nvirtio, 5);
	assert_int_equal(plan.virtio[0].kind, VIRTIO_KIND_BLK);
	assert_int_equal(plan.virtio[1].kind, VIRTIO_KIND_BLK);
	assert_int_equal(plan.virtio[2].kind, VIRTIO_KIND_NET);
	assert_int_equal(plan.virtio[3].kind, VIRTIO_KIND_CONSOLE);
	assert_int_equal(plan.virtio[4].kind, VIRTIO_KIND_RNG);

	j = plan_to_json(&plan);
	devs = json_object_get(j, "devices");
	json_array_foreach(devs, i, d) {
		const char *name = json_string_value(json_object_get(d, "name"));

		if (strncmp(name, "virtio-", 7))
			continue;
		assert_int_equal(json_integer_value(json_object_get(d, "slot")), virtio);
		assert_int_equal(json_integer_value(json_object_get(d, "spi")),
				 LAYOUT_IRQ_VIRTIO + virtio);
		virtio++;
	}
	assert_int_equal(virtio, 5);
	json_decref(j);

	assert_int_equal(build("\"rng\":1"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_disk_strings),
		cmocka_unit_test(test_disk_object),
		cmocka_unit_test(test_disk_errors),
		cmocka_unit_test(test_nets),
		cmocka_unit_test(test_slots_and_layout),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
