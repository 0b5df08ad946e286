// SPDX-License-Identifier: MIT
/*
 * Split virtqueue helpers (virtio 1.x, 2.7).  The driver shares the rings
 * with us while it runs, so each field is read once into a local copy
 * before it is checked or used; idx fields are read with acquire and
 * written with release so that ring entries are seen after their index.
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "devices/virtq.h"

#define barrier() __asm__ __volatile__("" ::: "memory")

static uint16_t load16_acquire(const void *p)
{
	return le16toh(__atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE));
}

static uint16_t load16(const void *p)
{
	return le16toh(__atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED));
}

static void store16(void *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, htole16(v), __ATOMIC_RELAXED);
}

static void store16_release(void *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, htole16(v), __ATOMIC_RELEASE);
}

static int virtq_fail(struct virtq *q, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int virtq_fail(struct virtq *q, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(q->error, sizeof(q->error), fmt, ap);
	va_end(ap);
	return err;
}

/* the used_event / avail_event words after the rings (VIRTIO_RING_F_EVENT_IDX) */
static void *used_event(struct virtq *q)
{
	return &q->avail->ring[q->num];
}

static void *avail_event(struct virtq *q)
{
	return &q->used->ring[q->num];
}

int virtq_start(struct virtq *q, const struct virtq_mem *mem, uint16_t max,
		bool event_idx, bool indirect)
{
	uint64_t n = q->num;

	q->ready = false;
	q->error[0] = '\0';
	if (!n || n > max || (n & (n - 1)))
		return virtq_fail(q, -EINVAL, "queue size %llu: not a power of two "
				  "from 1 to %u", (unsigned long long)n, max);
	if (q->desc_gpa % 16 || q->avail_gpa % 2 || q->used_gpa % 4)
		return virtq_fail(q, -EINVAL, "misaligned rings: descriptors 0x%llx, "
				  "driver area 0x%llx, device area 0x%llx",
				  (unsigned long long)q->desc_gpa,
				  (unsigned long long)q->avail_gpa,
				  (unsigned long long)q->used_gpa);
	q->mem = mem;
	q->desc = mem->map(mem->opaque, q->desc_gpa, 16 * n);
	q->avail = mem->map(mem->opaque, q->avail_gpa, 6 + 2 * n);
	q->used = mem->map(mem->opaque, q->used_gpa, 6 + 8 * n);
	if (!q->desc || !q->avail || !q->used)
		return virtq_fail(q, -EFAULT, "the %s ring at 0x%llx is not guest RAM",
				  !q->desc ? "descriptor" : !q->avail ? "driver" : "device",
				  (unsigned long long)(!q->desc ? q->desc_gpa :
						       !q->avail ? q->avail_gpa : q->used_gpa));
	q->event_idx = event_idx;
	q->indirect = indirect;
	q->last_avail = 0;
	q->used_idx = 0;
	q->signalled = 0;
	q->kicks_off = false;
	q->ready = true;
	return 0;
}

void virtq_reset(struct virtq *q)
{
	uint64_t chains = q->chains;

	memset(q, 0, sizeof(*q));
	q->chains = chains;
}

static void kicks_enable(struct virtq *q)
{
	if (q->event_idx)
		store16(avail_event(q), q->last_avail);
	else if (q->kicks_off)
		store16(&q->used->flags, 0);
	q->kicks_off = false;
}

static void kicks_disable(struct virtq *q)
{
	if (!q->event_idx && !q->kicks_off)
		store16(&q->used->flags, VRING_USED_F_NO_NOTIFY);
	q->kicks_off = true;
}

static void read_desc(const struct vring_desc *table, unsigned i,
		      struct vring_desc *d)
{
	memcpy(d, &table[i], sizeof(*d));
	barrier();	/* the copy is what we check and use: never re-read */
	d->addr = le64toh(d->addr);
	d->len = le32toh(d->len);
	d->flags = le16toh(d->flags);
	d->next = le16toh(d->next);
}

static int add_buffer(struct virtq *q, struct virtq_chain *c,
		      const struct vring_desc *d)
{
	unsigned n = c->nout + c->nin;
	void *p;

	if (!d->len)
		return 0;
	if (n == VIRTQ_MAX_SEGS)
		return virtq_fail(q, -E2BIG, "chain %u has more than %d buffers",
				  c->head, VIRTQ_MAX_SEGS);
	p = q->mem->map(q->mem->opaque, d->addr, d->len);
	if (!p)
		return virtq_fail(q, -EFAULT, "chain %u: buffer 0x%llx+%u is not guest RAM",
				  c->head, (unsigned long long)d->addr, d->len);
	if (d->flags & VRING_DESC_F_WRITE) {
		c->nin++;
		c->in_len += d->len;
	} else {
		if (c->nin)
			return virtq_fail(q, -EINVAL, "chain %u: a device-readable "
					  "buffer after a writable one", c->head);
		c->nout++;
		c->out_len += d->len;
	}
	c->iov[n].iov_base = p;
	c->iov[n].iov_len = d->len;
	return 0;
}

static int walk_chain(struct virtq *q, uint16_t head, struct virtq_chain *c)
{
	const struct vring_desc *table = q->desc;
	unsigned size = q->num, i = head, seen = 0;
	bool in_indirect = false;
	struct vring_desc d;
	int r;

	c->head = head;
	c->nout = c->nin = 0;
	c->out_len = c->in_len = 0;
	if (head >= q->num)
		return virtq_fail(q, -EINVAL, "head %u beyond the %u-entry ring",
				  head, q->num);
	for (;;) {
		/* more descriptors than the table holds: it loops */
		if (++seen > size)
			return virtq_fail(q, -ELOOP, "chain %u is longer than its "
					  "%u-entry table (a loop)", head, size);
		read_desc(table, i, &d);
		if (d.flags & VRING_DESC_F_INDIRECT) {
			if (!q->indirect)
				return virtq_fail(q, -EINVAL, "chain %u: indirect "
						  "descriptor not negotiated", head);
			if (in_indirect)
				return virtq_fail(q, -EINVAL, "chain %u: indirect "
						  "descriptor inside an indirect table", head);
			if (d.flags & VRING_DESC_F_NEXT)
				return virtq_fail(q, -EINVAL, "chain %u: indirect "
						  "descriptor with NEXT set", head);
			if (!d.len || d.len % sizeof(d))
				return virtq_fail(q, -EINVAL, "chain %u: indirect table "
						  "of %u bytes", head, d.len);
			if (d.len / sizeof(d) > VIRTQ_MAX_SEGS)
				return virtq_fail(q, -E2BIG, "chain %u: indirect table of "
						  "%u entries (at most %d)", head,
						  (unsigned)(d.len / sizeof(d)), VIRTQ_MAX_SEGS);
			table = q->mem->map(q->mem->opaque, d.addr, d.len);
			if (!table)
				return virtq_fail(q, -EFAULT, "chain %u: indirect table "
						  "0x%llx+%u is not guest RAM", head,
						  (unsigned long long)d.addr, d.len);
			size = d.len / sizeof(d);
			in_indirect = true;
			i = 0;
			seen = 0;
			continue;
		}
		r = add_buffer(q, c, &d);
		if (r < 0)
			return r;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		if (d.next >= size)
			return virtq_fail(q, -EINVAL, "chain %u: next %u beyond the "
					  "%u-entry table", head, d.next, size);
		i = d.next;
	}
}

int virtq_pop(struct virtq *q, struct virtq_chain *c)
{
	uint16_t avail, pending, head;
	int r;

	if (!q->ready)
		return 0;
	avail = load16_acquire(&q->avail->idx);
	if (avail == q->last_avail) {
		/* empty: ask for kicks again, then look once more so that a
		 * chain added meanwhile is not left without one */
		kicks_enable(q);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		avail = load16_acquire(&q->avail->idx);
		if (avail == q->last_avail)
			return 0;
	}
	pending = (uint16_t)(avail - q->last_avail);
	if (pending > q->num)
		return virtq_fail(q, -EINVAL, "driver index moved %u entries ahead "
				  "on a %u-entry ring", pending, q->num);
	kicks_disable(q);
	head = load16(&q->avail->ring[q->last_avail % q->num]);
	r = walk_chain(q, head, c);
	if (r < 0)
		return r;
	q->last_avail++;
	q->chains++;
	return 1;
}

void virtq_unpop(struct virtq *q, uint16_t n)
{
	q->last_avail -= n;
	q->chains -= n;
}

bool virtq_kick_on_next(struct virtq *q)
{
	uint16_t idx;

	if (!q->ready)
		return false;
	idx = load16_acquire(&q->avail->idx);
	if (q->event_idx)
		store16(avail_event(q), idx);
	else
		store16(&q->used->flags, 0);
	q->kicks_off = false;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return load16_acquire(&q->avail->idx) != idx;
}

void virtq_push(struct virtq *q, uint16_t head, uint32_t len)
{
	struct vring_used_elem *e = &q->used->ring[q->used_idx % q->num];

	__atomic_store_n(&e->id, htole32(head), __ATOMIC_RELAXED);
	__atomic_store_n(&e->len, htole32(len), __ATOMIC_RELAXED);
	q->used_idx++;
	store16_release(&q->used->idx, q->used_idx);
}

bool virtq_should_notify(struct virtq *q)
{
	uint16_t old = q->signalled, now = q->used_idx;

	if (!q->ready || old == now)
		return false;
	/* our used->idx store must be visible before we read the driver's wish */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	q->signalled = now;
	if (q->event_idx) {
		uint16_t ev = load16(used_event(q));

		/* vring_need_event: did used->idx move past used_event? */
		return (uint16_t)(now - ev - 1) < (uint16_t)(now - old);
	}
	return !(load16(&q->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
}

bool virtq_has_work(struct virtq *q)
{
	return q->ready && load16_acquire(&q->avail->idx) != q->last_avail;
}

size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t off,
		  void *buf, size_t len)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l -= off;
		if (l > len - done)
			l = len - done;
		memcpy((uint8_t *)buf + done, (uint8_t *)iov[i].iov_base + off, l);
		done += l;
		off = 0;
	}
	return done;
}

size_t iov_from_buf(const struct iovec *iov, unsigned n, size_t off,
		    const void *buf, size_t len)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l -= off;
		if (l > len - done)
			l = len - done;
		memcpy((uint8_t *)iov[i].iov_base + off, (const uint8_t *)buf + done, l);
		done += l;
		off = 0;
	}
	return done;
}

unsigned iov_slice(const struct iovec *iov, unsigned n, size_t off,
		   size_t len, struct iovec *dst, unsigned max, size_t *got)
{
	unsigned k = 0;
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len && k < max; i++) {
		size_t l = iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l -= off;
		if (l > len - done)
			l = len - done;
		dst[k].iov_base = (uint8_t *)iov[i].iov_base + off;
		dst[k].iov_len = l;
		k++;
		done += l;
		off = 0;
	}
	if (got)
		*got = done;
	return k;
}
