// SPDX-License-Identifier: MIT
/*
 * virtio-blk against a driver played by the test, over a fake guest RAM
 * and a memfd image: a kick's batch (adjacent reads and writes merged into
 * one transfer, one interrupt for the batch, the ring drained at most once
 * per kick), FLUSH after the writes taken before it, the error statuses
 * (beyond the end, read-only, unknown type, odd lengths) and chains that
 * lie (no status byte, buffers outside RAM, the driver's index too far).
 *
 * fdatasync is this file's: it records what the image holds when the
 * device syncs, to check that a FLUSH comes after the writes before it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>

#include "devices/virtio_devs.h"

#define RAM_BASE	0x80000000ULL
#define RAM_SIZE	(4u << 20)
#define QSIZE		64
#define DESC		(RAM_BASE + 0x1000)
#define AVAIL		(RAM_BASE + 0x2000)
#define USED		(RAM_BASE + 0x3000)
#define HDRS		(RAM_BASE + 0x4000)	/* 16 bytes per request */
#define STATUS		(RAM_BASE + 0x5000)	/* 1 byte per request */
#define DATA		(RAM_BASE + 0x10000)	/* 64 KiB per request */
#define DISK_SIZE	(1u << 20)
#define SECTORS		(DISK_SIZE / 512)

static uint8_t *ram;
static struct ev_loop *loop;
static struct virtio_dev *dev;
static int disk_fd = -1;
static unsigned pulses;
static uint16_t next_desc;

/* what the image held at each fdatasync: the first byte of sectors 0..31 */
static unsigned syncs;
static uint8_t at_sync[4][32];

int fdatasync(int fd)
{
	if (fd == disk_fd && syncs < 4)
		for (unsigned s = 0; s < 32; s++)
			assert_int_equal(pread(fd, &at_sync[syncs][s], 1, s * 512), 1);
	syncs++;
	return 0;
}

static void *fake_map(void *opaque, uint64_t gpa, uint64_t len)
{
	if (gpa < RAM_BASE || gpa - RAM_BASE > RAM_SIZE ||
	    len > RAM_SIZE - (gpa - RAM_BASE))
		return NULL;
	return ram + (gpa - RAM_BASE);
}

static const struct virtq_mem mem = { .map = fake_map };

static void pulse(void *opaque, unsigned spi)
{
	pulses++;
}

static void wr(unsigned off, uint32_t v)
{
	v = htole32(v);
	virtio_mmio_access(dev, off, (uint8_t *)&v, 4, true);
}

static uint32_t rd(unsigned off)
{
	uint32_t v;

	virtio_mmio_access(dev, off, (uint8_t *)&v, 4, false);
	return le32toh(v);
}

static void *gpa(uint64_t a)
{
	return fake_map(NULL, a, 1);
}

static struct vring_used *used(void)
{
	return gpa(USED);
}

static struct vring_avail *avail(void)
{
	return gpa(AVAIL);
}

/* a device on a fresh image, the driver through DRIVER_OK */
static void dev_open(bool readonly, uint64_t features)
{
	struct virtio_blk_conf conf = { .readonly = readonly, .queues = 1,
					.serial = "unit" };
	struct virtio_env env = { .loop = loop, .mem = &mem };
	char msg[256];

	memset(ram, 0, RAM_SIZE);
	pulses = syncs = 0;
	next_desc = 0;
	disk_fd = memfd_create("disk", MFD_CLOEXEC);
	assert_true(disk_fd >= 0);
	assert_int_equal(ftruncate(disk_fd, DISK_SIZE), 0);
	conf.fd = disk_fd;
	strcpy(conf.path, "disk");
	assert_int_equal(virtio_blk_create(&env, 0, &conf, &dev, msg, sizeof(msg)), 0);
	dev->irq_pulse = pulse;

	features |= VIRTIO_BIT(VIRTIO_F_VERSION_1);
	wr(VIRTIO_MMIO_STATUS, 0);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
	   VIRTIO_CONFIG_S_FEATURES_OK);
	assert_true(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK);
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(VIRTIO_MMIO_QUEUE_NUM, QSIZE);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)DESC);
	wr(VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(DESC >> 32));
	wr(VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)AVAIL);
	wr(VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0);
	wr(VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)USED);
	wr(VIRTIO_MMIO_QUEUE_USED_HIGH, 0);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	wr(VIRTIO_MMIO_STATUS, rd(VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_DRIVER_OK);
	ev_run(loop, EVRUN_NOWAIT);
	assert_string_equal(virtio_state_name(dev), "driver-ok");
}

static void dev_close(void)
{
	virtio_dev_close(dev);
	dev->ops->destroy(dev);		/* closes the image */
	dev = NULL;
	disk_fd = -1;
}

static uint16_t desc(uint64_t addr, uint32_t len, uint16_t flags)
{
	struct vring_desc *d = gpa(DESC);
	uint16_t i = next_desc++ % QSIZE;

	d[i].addr = htole64(addr);
	d[i].len = htole32(len);
	d[i].flags = htole16(flags);
	d[i].next = htole16((uint16_t)((i + 1) % QSIZE));
	return i;
}

/*
 * Request n (its header, status byte and data have their own places):
 * header, data in segs pieces (none when len is 0), status.  Added to the
 * avail ring, not kicked.
 */
static void request(unsigned n, uint32_t type, uint64_t sector, uint32_t len,
		    unsigned segs)
{
	struct virtio_blk_outhdr *h = gpa(HDRS + 16 * n);
	uint16_t data = type == VIRTIO_BLK_T_OUT ? 0 : VRING_DESC_F_WRITE;
	uint16_t head;

	h->type = htole32(type);
	h->ioprio = 0;
	h->sector = htole64(sector);
	*(uint8_t *)gpa(STATUS + n) = 0xee;
	head = desc(HDRS + 16 * n, 16, VRING_DESC_F_NEXT);
	for (unsigned s = 0; len && s < segs; s++) {
		uint32_t l = len / segs + (s + 1 == segs ? len % segs : 0);

		desc(DATA + 0x10000ULL * n + (len / segs) * s, l, data | VRING_DESC_F_NEXT);
	}
	desc(STATUS + n, 1, VRING_DESC_F_WRITE);
	avail()->ring[le16toh(avail()->idx) % QSIZE] = htole16(head);
	avail()->idx = htole16((uint16_t)(le16toh(avail()->idx) + 1));
}

static uint8_t status(unsigned n)
{
	return *(uint8_t *)gpa(STATUS + n);
}

static uint8_t *data(unsigned n)
{
	return gpa(DATA + 0x10000ULL * n);
}

static void kick(void)
{
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	ev_run(loop, EVRUN_NOWAIT);
}

static json_int_t info(const char *key)
{
	json_t *o = virtio_dev_info(dev);
	json_int_t v = json_integer_value(json_object_get(o, key));

	json_decref(o);
	return v;
}

static void fill_disk(void)
{
	uint8_t sector[512];

	for (unsigned s = 0; s < SECTORS; s++) {
		memset(sector, (int)(s & 0xff), sizeof(sector));
		assert_int_equal(pwrite(disk_fd, sector, sizeof(sector), s * 512), 512);
	}
}

static int setup(void **state)
{
	ram = calloc(1, RAM_SIZE);
	loop = ev_loop_new(EVFLAG_AUTO);
	return ram && loop ? 0 : -1;
}

static int teardown(void **state)
{
	free(ram);
	ev_loop_destroy(loop);
	return 0;
}

/* eight adjacent reads in one kick: one transfer, one interrupt */
static void test_batch_merges_reads(void **state)
{
	dev_open(false, VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));
	fill_disk();
	for (unsigned n = 0; n < 8; n++)
		request(n, VIRTIO_BLK_T_IN, 8 * n, 4096, 1 + n % 3);
	kick();
	assert_int_equal(le16toh(used()->idx), 8);
	for (unsigned n = 0; n < 8; n++) {
		assert_int_equal(status(n), VIRTIO_BLK_S_OK);
		assert_int_equal(le32toh(used()->ring[n].len), 4096 + 1);
		for (unsigned s = 0; s < 8; s++)
			assert_int_equal(data(n)[512 * s], 8 * n + s);
	}
	assert_int_equal(pulses, 1);
	assert_int_equal(info("transfers"), 1);
	assert_int_equal(info("merged"), 7);
	assert_int_equal(info("batches"), 1);
	assert_int_equal(info("batch_max"), 8);
	assert_int_equal(info("reads"), 8);
	assert_int_equal(info("bytes_read"), 8 * 4096);
	dev_close();
}

/* not adjacent, or the other direction: separate transfers, in order */
static void test_batch_keeps_order(void **state)
{
	dev_open(false, VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));
	fill_disk();
	memset(data(0), 0xa1, 1024);
	request(0, VIRTIO_BLK_T_OUT, 4, 1024, 1);	/* sectors 4, 5 */
	request(1, VIRTIO_BLK_T_IN, 4, 2048, 2);	/* sees the write */
	request(2, VIRTIO_BLK_T_IN, 100, 512, 1);	/* not adjacent */
	request(3, VIRTIO_BLK_T_IN, 101, 512, 1);	/* adjacent to 2 */
	kick();
	assert_int_equal(le16toh(used()->idx), 4);
	for (unsigned n = 0; n < 4; n++)
		assert_int_equal(status(n), VIRTIO_BLK_S_OK);
	assert_int_equal(data(1)[0], 0xa1);
	assert_int_equal(data(1)[1023], 0xa1);
	assert_int_equal(data(1)[1024], 6);
	assert_int_equal(data(2)[0], 100);
	assert_int_equal(data(3)[0], 101);
	assert_int_equal(le32toh(used()->ring[0].len), 1);	/* a write: status only */
	assert_int_equal(info("transfers"), 3);
	assert_int_equal(info("merged"), 1);
	assert_int_equal(pulses, 1);
	assert_int_equal(syncs, 0);
	dev_close();
}

/* FLUSH syncs after the writes before it, and before those after it */
static void test_flush_after_writes(void **state)
{
	dev_open(false, VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));
	memset(data(0), 0x11, 512);
	memset(data(1), 0x22, 512);
	memset(data(3), 0x33, 512);
	request(0, VIRTIO_BLK_T_OUT, 0, 512, 1);
	request(1, VIRTIO_BLK_T_OUT, 1, 512, 1);	/* merged with 0 */
	request(2, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	request(3, VIRTIO_BLK_T_OUT, 2, 512, 1);	/* after the flush */
	kick();
	assert_int_equal(le16toh(used()->idx), 4);
	for (unsigned n = 0; n < 4; n++)
		assert_int_equal(status(n), VIRTIO_BLK_S_OK);
	assert_int_equal(syncs, 1);
	assert_int_equal(at_sync[0][0], 0x11);
	assert_int_equal(at_sync[0][1], 0x22);
	assert_int_equal(at_sync[0][2], 0);		/* not yet written */
	assert_int_equal(info("flushes"), 1);
	assert_int_equal(info("transfers"), 2);
	assert_int_equal(pulses, 1);
	dev_close();
}

/* without FLUSH negotiated, a batch of writes is synced before it completes */
static void test_writethrough(void **state)
{
	dev_open(false, 0);
	memset(data(0), 0x44, 512);
	memset(data(1), 0x55, 512);
	request(0, VIRTIO_BLK_T_OUT, 7, 512, 1);
	request(1, VIRTIO_BLK_T_OUT, 8, 512, 1);
	kick();
	assert_int_equal(status(0), VIRTIO_BLK_S_OK);
	assert_int_equal(status(1), VIRTIO_BLK_S_OK);
	assert_int_equal(syncs, 1);
	assert_int_equal(at_sync[0][7], 0x44);
	assert_int_equal(at_sync[0][8], 0x55);
	dev_close();
}

/* errors go to their own request; the batch around them goes on */
static void test_error_statuses(void **state)
{
	dev_open(false, VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));
	fill_disk();
	request(0, VIRTIO_BLK_T_IN, 0, 512, 1);
	request(1, VIRTIO_BLK_T_IN, SECTORS - 1, 1024, 1);	/* past the end */
	request(2, VIRTIO_BLK_T_IN, 1, 512, 1);		/* still merged with 0 */
	request(3, VIRTIO_BLK_T_IN, UINT64_MAX - 1, 1024, 1);	/* wraps */
	request(4, VIRTIO_BLK_T_IN, 2, 100, 1);		/* not whole sectors */
	request(5, 77, 0, 512, 1);			/* unknown type */
	request(6, VIRTIO_BLK_T_GET_ID, 0, 20, 1);
	request(7, VIRTIO_BLK_T_IN, SECTORS - 1, 512, 1);	/* the last sector */
	kick();
	assert_int_equal(le16toh(used()->idx), 8);
	assert_int_equal(status(0), VIRTIO_BLK_S_OK);
	assert_int_equal(status(1), VIRTIO_BLK_S_IOERR);
	assert_int_equal(status(2), VIRTIO_BLK_S_OK);
	assert_int_equal(status(3), VIRTIO_BLK_S_IOERR);
	assert_int_equal(status(4), VIRTIO_BLK_S_IOERR);
	assert_int_equal(status(5), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(status(6), VIRTIO_BLK_S_OK);
	assert_int_equal(status(7), VIRTIO_BLK_S_OK);
	assert_int_equal(data(2)[0], 1);
	assert_int_equal(data(7)[0], (SECTORS - 1) & 0xff);
	assert_memory_equal(data(6), "unit\0\0", 6);
	assert_int_equal(le32toh(used()->ring[1].len), 1);	/* failed: nothing read */
	assert_int_equal(le32toh(used()->ring[6].len), 21);
	assert_int_equal(info("io_errors"), 3);
	assert_int_equal(info("unsupported"), 1);
	assert_int_equal(info("merged"), 1);
	assert_int_equal(pulses, 1);
	dev_close();
}

/* a read-only disk refuses writes and write-zeroes; reads still work */
static void test_readonly(void **state)
{
	dev_open(true, VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) | VIRTIO_BIT(VIRTIO_BLK_F_RO));
	fill_disk();
	memset(data(0), 0x66, 512);
	request(0, VIRTIO_BLK_T_OUT, 3, 512, 1);
	request(1, VIRTIO_BLK_T_IN, 3, 512, 1);
	request(2, VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	kick();
	assert_int_equal(status(0), VIRTIO_BLK_S_IOERR);
	assert_int_equal(status(1), VIRTIO_BLK_S_OK);
	assert_int_equal(status(2), VIRTIO_BLK_S_OK);
	assert_int_equal(data(1)[0], 3);
	assert_int_equal(syncs, 0);
	dev_close();
}

/* a kick takes all there is; the next kick takes what came since */
static void test_batches_per_kick(void **state)
{
	dev_open(false, VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));
	fill_disk();
	for (unsigned n = 0; n < 21; n++)	/* 63 of the 64 descriptors */
		request(n, VIRTIO_BLK_T_IN, n, 512, 1);
	kick();
	assert_int_equal(le16toh(used()->idx), 21);
	assert_int_equal(info("transfers"), 1);
	next_desc = 0;
	for (unsigned n = 0; n < 21; n++)
		request(n, VIRTIO_BLK_T_IN, 200 + n, 512, 1);
	kick();
	assert_int_equal(le16toh(used()->idx), 42);
	for (unsigned n = 0; n < 21; n++)
		assert_int_equal(data(n)[0], 200 + n);
	assert_int_equal(info("transfers"), 2);
	assert_int_equal(info("batches"), 2);
	assert_int_equal(info("batch_max"), 21);
	assert_int_equal(pulses, 2);
	dev_close();
}

/* a chain without a status byte fails the device; the chains taken before
 * it are still answered, none after it is taken */
static void test_hostile_no_status(void **state)
{
	uint16_t head;

	dev_open(false, VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));
	fill_disk();
	request(0, VIRTIO_BLK_T_IN, 0, 512, 1);
	head = desc(HDRS + 16, 16, 0);		/* a header and nothing else */
	((struct virtio_blk_outhdr *)gpa(HDRS + 16))->type = htole32(VIRTIO_BLK_T_IN);
	avail()->ring[1] = htole16(head);
	avail()->idx = htole16(2);
	request(2, VIRTIO_BLK_T_IN, 1, 512, 1);
	kick();
	assert_true(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_int_equal(le16toh(used()->idx), 1);
	assert_int_equal(status(0), VIRTIO_BLK_S_OK);
	assert_int_equal(status(2), 0xee);
	assert_int_equal(data(0)[0], 0);
	dev_close();
}

/* buffers outside guest RAM, a data buffer that runs past it, an index
 * too far ahead: refused by virtq.c before any I/O */
static void test_hostile_buffers(void **state)
{
	uint16_t head;

	dev_open(false, VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));
	fill_disk();
	head = desc(HDRS, 16, VRING_DESC_F_NEXT);
	((struct virtio_blk_outhdr *)gpa(HDRS))->type = htole32(VIRTIO_BLK_T_IN);
	desc(RAM_BASE + RAM_SIZE - 512, 4096, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT);
	desc(STATUS, 1, VRING_DESC_F_WRITE);
	avail()->ring[0] = htole16(head);
	avail()->idx = htole16(1);
	kick();
	assert_true(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_non_null(strstr(dev->error, "not guest RAM"));
	assert_int_equal(le16toh(used()->idx), 0);
	assert_int_equal(status(0), 0);
	dev_close();

	dev_open(false, VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));
	request(0, VIRTIO_BLK_T_IN, 0, 512, 1);
	avail()->idx = htole16(QSIZE + 5);
	kick();
	assert_true(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_int_equal(le16toh(used()->idx), 0);
	dev_close();
}

/* the driver asks for no interrupt (NO_INTERRUPT, or EVENT_IDX's
 * used_event not reached): the batch completes without one */
static void test_interrupt_suppression(void **state)
{
	dev_open(false, VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));
	avail()->flags = htole16(VRING_AVAIL_F_NO_INTERRUPT);
	request(0, VIRTIO_BLK_T_IN, 0, 512, 1);
	request(1, VIRTIO_BLK_T_IN, 1, 512, 1);
	kick();
	assert_int_equal(le16toh(used()->idx), 2);
	assert_int_equal(pulses, 0);
	dev_close();

	dev_open(false, VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) | VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX));
	/* used_event: interrupt when used->idx passes 2 */
	avail()->ring[QSIZE] = htole16(2);
	request(0, VIRTIO_BLK_T_IN, 0, 512, 1);
	request(1, VIRTIO_BLK_T_IN, 1, 512, 1);
	kick();
	assert_int_equal(le16toh(used()->idx), 2);
	assert_int_equal(pulses, 0);
	request(2, VIRTIO_BLK_T_IN, 2, 512, 1);
	request(3, VIRTIO_BLK_T_IN, 3, 512, 1);
	kick();
	assert_int_equal(le16toh(used()->idx), 4);
	assert_int_equal(pulses, 1);
	dev_close();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_merges_reads),
		cmocka_unit_test(test_batch_keeps_order),
		cmocka_unit_test(test_flush_after_writes),
		cmocka_unit_test(test_writethrough),
		cmocka_unit_test(test_error_statuses),
		cmocka_unit_test(test_readonly),
		cmocka_unit_test(test_batches_per_kick),
		cmocka_unit_test(test_hostile_no_status),
		cmocka_unit_test(test_hostile_buffers),
		cmocka_unit_test(test_interrupt_suppression),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
