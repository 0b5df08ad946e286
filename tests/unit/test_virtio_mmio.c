// SPDX-License-Identifier: MIT
/*
 * The virtio-mmio transport against a driver played by the test: the
 * register protocol, feature negotiation (legacy drivers refused), queue
 * set-up, kicks through the eventfd on the event loop, interrupts,
 * InterruptStatus/ACK, NEEDS_RESET on a malformed queue and reset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>

#include "devices/virtio.h"

#define RAM_BASE	0x80000000ULL
#define RAM_SIZE	(1u << 20)
#define DESC		(RAM_BASE + 0x1000)
#define AVAIL		(RAM_BASE + 0x2000)
#define USED		(RAM_BASE + 0x3000)
#define BUF		(RAM_BASE + 0x8000)

static uint8_t *ram;

static void *fake_map(void *opaque, uint64_t gpa, uint64_t len)
{
	if (gpa < RAM_BASE || gpa - RAM_BASE > RAM_SIZE ||
	    len > RAM_SIZE - (gpa - RAM_BASE))
		return NULL;
	return ram + (gpa - RAM_BASE);
}

static const struct virtq_mem mem = { .map = fake_map };

/* a device that echoes: each chain is returned with its writable length */
struct echo {
	struct virtio_dev vdev;
	unsigned notified, resets;
	struct virtq_chain chain;
};

static unsigned pulses;

static void echo_notify(struct virtio_dev *d, unsigned q)
{
	struct echo *e = (struct echo *)d;

	e->notified++;
	while (virtio_pop(d, q, &e->chain) > 0)
		virtq_push(&d->vq[q], e->chain.head, (uint32_t)e->chain.in_len);
	virtio_queue_done(d, q);
}

static void echo_reset(struct virtio_dev *d)
{
	((struct echo *)d)->resets++;
}

static const struct virtio_ops echo_ops = {
	.type = "echo", .device_id = 42,
	.queue_notify = echo_notify, .reset = echo_reset,
};

static void pulse(void *opaque, unsigned spi)
{
	pulses++;
}

static struct echo dev;
static struct ev_loop *loop;

static uint32_t rd(unsigned off)
{
	uint32_t v;

	virtio_mmio_access(&dev.vdev, off, (uint8_t *)&v, 4, false);
	return v;
}

static void wr(unsigned off, uint32_t v)
{
	virtio_mmio_access(&dev.vdev, off, (uint8_t *)&v, 4, true);
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

static void dev_open(void)
{
	memset(&dev, 0, sizeof(dev));
	memset(ram, 0, RAM_SIZE);
	pulses = 0;
	assert_int_equal(virtio_dev_init(&dev.vdev, &echo_ops, "echo0", 0, 2,
					 VIRTIO_BIT(3), loop, &mem), 0);
	dev.vdev.irq_pulse = pulse;
	dev.vdev.config_len = 4;
	memcpy(dev.vdev.config, "\x11\x22\x33\x44", 4);
}

/* the driver's start: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK */
static uint32_t negotiate(uint64_t features)
{
	wr(VIRTIO_MMIO_STATUS, 0);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
	   VIRTIO_CONFIG_S_FEATURES_OK);
	return rd(VIRTIO_MMIO_STATUS);
}

static void queue(unsigned q, uint32_t num, uint64_t desc)
{
	wr(VIRTIO_MMIO_QUEUE_SEL, q);
	wr(VIRTIO_MMIO_QUEUE_NUM, num);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	wr(VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	wr(VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)AVAIL);
	wr(VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0);
	wr(VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)USED);
	wr(VIRTIO_MMIO_QUEUE_USED_HIGH, 0);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
}

static void offer(struct vring_desc d)
{
	struct vring_avail *a = fake_map(NULL, AVAIL, 64);

	memcpy(fake_map(NULL, DESC, 16), &d, sizeof(d));
	a->ring[a->idx % 8] = 0;
	a->idx++;
}

/* KVM would signal the eventfd; the MMIO fallback does it here */
static void kick(unsigned q)
{
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, q);
	ev_run(loop, EVRUN_NOWAIT);
}

static void test_identity(void **state)
{
	uint32_t v = 0;

	dev_open();
	assert_int_equal(rd(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(rd(VIRTIO_MMIO_VERSION), 2);
	assert_int_equal(rd(VIRTIO_MMIO_DEVICE_ID), 42);
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	assert_int_equal(rd(VIRTIO_MMIO_DEVICE_FEATURES),
			 (1u << 3) | (1u << VIRTIO_RING_F_INDIRECT_DESC) |
			 (1u << VIRTIO_RING_F_EVENT_IDX));
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	assert_int_equal(rd(VIRTIO_MMIO_DEVICE_FEATURES), 1);	/* VERSION_1 */
	wr(VIRTIO_MMIO_QUEUE_SEL, 1);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), VIRTIO_QUEUE_SIZE);
	wr(VIRTIO_MMIO_QUEUE_SEL, 2);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), 0);	/* no such queue */
	/* config space: bytes, then zeroes past its end */
	virtio_mmio_access(&dev.vdev, VIRTIO_MMIO_CONFIG + 1, (uint8_t *)&v, 2, false);
	assert_int_equal(v, 0x3322);
	v = 0xffffffff;
	virtio_mmio_access(&dev.vdev, VIRTIO_MMIO_CONFIG + 4, (uint8_t *)&v, 4, false);
	assert_int_equal(v, 0);
	/* registers are 32-bit: a byte read reads nothing */
	v = 0xff;
	virtio_mmio_access(&dev.vdev, VIRTIO_MMIO_MAGIC_VALUE, (uint8_t *)&v, 1, false);
	assert_int_equal(v & 0xff, 0);
	virtio_dev_close(&dev.vdev);
}

static void test_negotiation(void **state)
{
	dev_open();
	/* a legacy driver (no VERSION_1) does not get FEATURES_OK */
	assert_false(negotiate(VIRTIO_BIT(3)) & VIRTIO_CONFIG_S_FEATURES_OK);
	/* nor one that takes a feature not offered */
	assert_false(negotiate(VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(4)) &
		     VIRTIO_CONFIG_S_FEATURES_OK);
	assert_true(negotiate(VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(3)) &
		    VIRTIO_CONFIG_S_FEATURES_OK);
	assert_int_equal(dev.vdev.driver_features,
			 VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(3));
	/* features are fixed once accepted */
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 0);
	assert_int_equal(dev.vdev.driver_features,
			 VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(3));
	assert_string_equal(virtio_state_name(&dev.vdev), "features-ok");
	assert_int_equal(dev.resets, 3);
	virtio_dev_close(&dev.vdev);
}

static void test_requests_and_interrupts(void **state)
{
	dev_open();
	negotiate(VIRTIO_BIT(VIRTIO_F_VERSION_1));
	queue(0, 8, DESC);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 1);
	offer((struct vring_desc){ .addr = BUF, .len = 64, .flags = VRING_DESC_F_WRITE });
	/* a kick before DRIVER_OK is left for later */
	kick(0);
	assert_int_equal(dev.notified, 0);
	wr(VIRTIO_MMIO_STATUS, rd(VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_DRIVER_OK);
	ev_run(loop, EVRUN_NOWAIT);	/* DRIVER_OK looks at ready queues */
	assert_int_equal(dev.notified, 1);
	assert_int_equal(((struct vring_used *)fake_map(NULL, USED, 64))->idx, 1);
	assert_int_equal(((struct vring_used *)fake_map(NULL, USED, 64))->ring[0].len, 64);
	assert_int_equal(pulses, 1);
	assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(dev.vdev.mmio_kicks, 1);
	/* queue registers are fixed while the queue is ready */
	wr(VIRTIO_MMIO_QUEUE_NUM, 4);
	assert_int_equal(dev.vdev.vq[0].num, 8);
	assert_string_equal(virtio_state_name(&dev.vdev), "driver-ok");
	virtio_dev_close(&dev.vdev);
}

static void test_needs_reset(void **state)
{
	dev_open();
	negotiate(VIRTIO_BIT(VIRTIO_F_VERSION_1));
	queue(0, 8, DESC);
	wr(VIRTIO_MMIO_STATUS, rd(VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_DRIVER_OK);
	ev_run(loop, EVRUN_NOWAIT);
	/* a buffer outside RAM: the device breaks, the driver is told */
	offer((struct vring_desc){ .addr = 0x10, .len = 64, .flags = VRING_DESC_F_WRITE });
	kick(0);
	assert_true(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_true(rd(VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	assert_string_equal(virtio_state_name(&dev.vdev), "broken");
	assert_non_null(strstr(dev.vdev.error, "not guest RAM"));
	assert_int_equal(dev.vdev.errors, 1);
	/* broken: kicks are ignored, NEEDS_RESET stays through status writes */
	offer((struct vring_desc){ .addr = BUF, .len = 64, .flags = VRING_DESC_F_WRITE });
	kick(0);
	assert_int_equal(((struct vring_used *)fake_map(NULL, USED, 64))->idx, 0);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
	   VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	assert_true(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	/* a reset brings it back; the last error is kept for vm.info */
	wr(VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(rd(VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_string_equal(virtio_state_name(&dev.vdev), "reset");
	assert_non_null(strstr(dev.vdev.error, "not guest RAM"));

	/* rings outside RAM fail at QueueReady */
	negotiate(VIRTIO_BIT(VIRTIO_F_VERSION_1));
	queue(0, 8, 0x1000);
	assert_true(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	assert_int_equal(dev.vdev.errors, 2);
	virtio_dev_reset(&dev.vdev);
	assert_int_equal(rd(VIRTIO_MMIO_STATUS), 0);
	virtio_dev_close(&dev.vdev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_negotiation),
		cmocka_unit_test(test_requests_and_interrupts),
		cmocka_unit_test(test_needs_reset),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
