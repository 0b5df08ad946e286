/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueues (virtio 1.x): the one set of ring helpers every virtio
 * device uses.  Pure C: guest memory is reached only through the map
 * callback of struct virtq_mem (vm_gpa_to_hva in the worker, a plain buffer
 * in the unit tests), which must return NULL unless all of [gpa, gpa+len)
 * is guest RAM.  Every descriptor the driver wrote is read once into a
 * local copy, then checked; a chain that is out of range, loops, is too
 * long or nests indirect tables is refused with -errno and a reason in
 * q->error, and the device is expected to stop (NEEDS_RESET).
 */
#ifndef ARMVMD_VIRTQ_H
#define ARMVMD_VIRTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/virtio_ring.h>

#define VIRTQ_MAX_SIZE	32768	/* split virtqueue limit (virtio 1.x 2.7) */
#define VIRTQ_MAX_SEGS	1024	/* buffers in one chain (IOV_MAX) */

struct virtq_mem {
	void *(*map)(void *opaque, uint64_t gpa, uint64_t len);
	void *opaque;
};

struct virtq {
	/* written by the driver through the transport while not ready */
	uint16_t num;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	bool ready;

	/* set by virtq_start */
	const struct virtq_mem *mem;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	bool event_idx;			/* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;			/* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	uint16_t last_avail;		/* next avail ring entry to take */
	uint16_t used_idx;		/* our copy of used->idx */
	uint16_t signalled;		/* used_idx when the driver was last told */
	bool kicks_off;			/* we asked the driver not to notify */

	uint64_t chains;		/* chains taken */
	char error[160];		/* why the last call failed */
};

/* One descriptor chain: iov[0, nout) device-readable, then nin writable. */
struct virtq_chain {
	uint16_t head;
	unsigned nout, nin;
	size_t out_len, in_len;
	struct iovec iov[VIRTQ_MAX_SEGS];
};

/*
 * The driver set QueueReady: check num (a power of two, 1..max) and map the
 * three rings.  0, or -EINVAL / -EFAULT with q->error set.
 */
int virtq_start(struct virtq *q, const struct virtq_mem *mem, uint16_t max,
		bool event_idx, bool indirect);

/* Forget everything the driver set (device reset or QueueReady = 0). */
void virtq_reset(struct virtq *q);

/*
 * Take the next available chain.  1: c filled; 0: the ring is empty (kicks
 * are enabled again first, so none is missed); negative errno: the driver
 * broke the rules (q->error says how), nothing was taken.
 */
int virtq_pop(struct virtq *q, struct virtq_chain *c);

/* Give back the last n chains taken and not yet pushed. */
void virtq_unpop(struct virtq *q, uint16_t n);

/*
 * The chains there are not enough (they were given back with unpop): ask
 * the driver to kick when it adds the next one.  True when it added one
 * meanwhile, so that the caller looks again instead of waiting.
 */
bool virtq_kick_on_next(struct virtq *q);

/* Return a chain to the driver with len bytes written into it. */
void virtq_push(struct virtq *q, uint16_t head, uint32_t len);

/* After a batch of pushes: does the driver want an interrupt? */
bool virtq_should_notify(struct virtq *q);

/* Is a chain waiting (without taking it)? */
bool virtq_has_work(struct virtq *q);

/* scatter/gather between iovecs and a flat buffer, from byte off on */
size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t off,
		  void *buf, size_t len);
size_t iov_from_buf(const struct iovec *iov, unsigned n, size_t off,
		    const void *buf, size_t len);
/*
 * The part [off, off+len) of an iovec array as another (at most max
 * entries).  Returns the number of entries; *got is the bytes covered.
 */
unsigned iov_slice(const struct iovec *iov, unsigned n, size_t off,
		   size_t len, struct iovec *dst, unsigned max, size_t *got);

#endif
