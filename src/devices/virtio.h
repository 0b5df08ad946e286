/* SPDX-License-Identifier: MIT */
/*
 * The virtio-mmio transport (virtio 1.x, register layout version 2) and
 * the small interface between it and each device.
 *
 * Threads: registers are read and written on vCPU threads (the MMIO bus);
 * queue work runs on the worker's event loop.  A device's lock covers its
 * state and its queues: register writes take it, and so does the loop while
 * a device works on a queue, so a reset (status 0) waits for work in
 * flight.  Register reads on the interrupt path (InterruptStatus, Status)
 * and InterruptACK are lock-free.
 *
 * Notifications: each queue has an eventfd that KVM signals on a write of
 * its index to QueueNotify (KVM_IOEVENTFD, registered by src/vm/virtio.c),
 * so kicks never bring a vCPU out to userspace; the loop watches the
 * eventfds.  Interrupts go out through one eventfd per device that KVM
 * turns into an edge on the device's SPI (KVM_IRQFD), or through the
 * irq_pulse fallback.
 */
#ifndef ARMVMD_VIRTIO_H
#define ARMVMD_VIRTIO_H

#include <ev.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/virtq.h"

#define VIRTIO_MAX_QUEUES	8
#define VIRTIO_CONFIG_MAX	0x100	/* the config space of a 512-byte slot */
#define VIRTIO_QUEUE_SIZE	256	/* QueueNumMax we offer */
#define VIRTIO_VENDOR_ID	0x564d5241u	/* "ARMV" */

#define VIRTIO_BIT(b)		(1ULL << (b))

struct virtio_dev;

/* What a device is: a const table per device type. */
struct virtio_ops {
	const char *type;		/* "blk", "net", "console", "rng" */
	uint32_t device_id;		/* VIRTIO_ID_* */
	/*
	 * Status gained FEATURES_OK: the driver's features are in
	 * d->driver_features.  Non-zero refuses them (FEATURES_OK stays
	 * clear).  Optional.
	 */
	int (*features_ok)(struct virtio_dev *d);
	/* The driver kicked queue q (loop thread, lock held). */
	void (*queue_notify)(struct virtio_dev *d, unsigned q);
	/* Device reset by the driver or the VM (lock held).  Optional. */
	void (*reset)(struct virtio_dev *d);
	/* Add the device's own facts and counters to o.  Optional. */
	void (*info)(struct virtio_dev *d, json_t *o);
	/* Free the device (the transport part is already closed). */
	void (*destroy)(struct virtio_dev *d);
};

struct virtio_dev {
	const struct virtio_ops *ops;
	char name[24];			/* "blk0", "net1", ... */
	unsigned slot;
	uint64_t base;			/* guest-physical base of the slot */
	unsigned spi;

	pthread_mutex_t lock;
	uint32_t status;		/* written under lock, read lock-free */
	uint64_t features;		/* offered */
	uint64_t driver_features;	/* accepted by the driver */
	uint32_t features_sel, driver_features_sel, queue_sel;
	uint32_t isr;			/* VIRTIO_MMIO_INT_*, atomic */
	uint32_t config_gen;
	uint8_t config[VIRTIO_CONFIG_MAX];
	unsigned config_len;
	unsigned nqueues;
	struct virtq vq[VIRTIO_MAX_QUEUES];
	const struct virtq_mem *mem;

	struct ev_loop *loop;
	int kick_fd[VIRTIO_MAX_QUEUES];	/* eventfds, signalled by KVM */
	ev_io kick_watch[VIRTIO_MAX_QUEUES];
	bool ioeventfd;			/* KVM signals kick_fd itself */
	int irq_fd;			/* irqfd, or -1: irq_pulse */
	void (*irq_pulse)(void *opaque, unsigned spi);
	void *irq_opaque;

	bool broken;			/* NEEDS_RESET set: queues are left alone */
	/* told (any thread) when the device breaks; may be NULL */
	void (*on_fail)(void *opaque);
	void *fail_opaque;
	char error[192];		/* the last reason it broke (kept after reset) */
	uint64_t errors;		/* times it broke */
	uint64_t kicks, interrupts, mmio_kicks, resets;
};

/*
 * Initialise the transport part of a device: name, slot, the queue count
 * and the features the device offers (VIRTIO_F_VERSION_1 and the ring
 * features are added here), kick eventfds with their loop watchers.
 * -errno (logged) on failure; virtio_dev_close() undoes it either way.
 */
int virtio_dev_init(struct virtio_dev *d, const struct virtio_ops *ops,
		    const char *name, unsigned slot, unsigned nqueues,
		    uint64_t features, struct ev_loop *loop,
		    const struct virtq_mem *mem);
void virtio_dev_close(struct virtio_dev *d);

/* The bus handler of a slot (vCPU threads). */
void virtio_mmio_access(void *dev, uint64_t offset, uint8_t *data,
			unsigned len, bool is_write);

/* Reset as if the driver wrote 0 to Status (e.g. the VM is reset). */
void virtio_dev_reset(struct virtio_dev *d);

/* Does the device's driver run, and is queue q set up (lock held)? */
bool virtio_queue_live(struct virtio_dev *d, unsigned q);

/*
 * A batch of chains went back on queue q: interrupt the driver if it wants
 * to be (lock held).
 */
void virtio_queue_done(struct virtio_dev *d, unsigned q);

/*
 * The device left chains on queue q for later (it takes at most a ring's
 * worth per kick): come back to it on the loop as if the driver kicked.
 */
void virtio_queue_again(struct virtio_dev *d, unsigned q);

/*
 * The driver broke a rule (a malformed chain, rings outside RAM): set
 * NEEDS_RESET, tell the driver (configuration interrupt), leave the queues
 * alone until the next reset, log it once.  Lock held.
 */
void virtio_dev_fail(struct virtio_dev *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Pop the next chain of queue q; a malformed one fails the device.  1: got
 * one, 0: none (or the device is broken).
 */
int virtio_pop(struct virtio_dev *d, unsigned q, struct virtq_chain *c);

/* The configuration changed (e.g. net link status): tell the driver. */
void virtio_config_changed(struct virtio_dev *d);

/* The device's state and counters for vm.info. */
json_t *virtio_dev_info(struct virtio_dev *d);

/* Device-independent names: "driver-ok", "broken", ... */
const char *virtio_state_name(const struct virtio_dev *d);

#endif
