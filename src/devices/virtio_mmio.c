// SPDX-License-Identifier: MIT
/*
 * virtio-mmio transport, modern register layout (virtio 1.x, 4.2.2).
 * Legacy (version 1) registers are not offered: QueuePFN and friends read 0.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>

#include "devices/virtio.h"
#include "util/log.h"

#define MMIO_MAGIC	0x74726976u	/* "virt" */
#define MMIO_VERSION	2

static uint32_t status_get(const struct virtio_dev *d)
{
	return __atomic_load_n(&d->status, __ATOMIC_ACQUIRE);
}

static void status_set(struct virtio_dev *d, uint32_t v)
{
	__atomic_store_n(&d->status, v, __ATOMIC_RELEASE);
}

static bool has_feature(const struct virtio_dev *d, unsigned bit)
{
	return d->driver_features & VIRTIO_BIT(bit);
}

static void signal_fd(int fd)
{
	uint64_t one = 1;

	/* an eventfd only fails when its counter would overflow: then it
	 * is signalled already */
	if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("eventfd %d: %s", fd, strerror(errno));
}

static void virtio_irq(struct virtio_dev *d, uint32_t why)
{
	__atomic_or_fetch(&d->isr, why, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&d->interrupts, 1, __ATOMIC_RELAXED);
	if (d->irq_fd >= 0)
		signal_fd(d->irq_fd);
	else if (d->irq_pulse)
		d->irq_pulse(d->irq_opaque, d->spi);
}

bool virtio_queue_live(struct virtio_dev *d, unsigned q)
{
	return (status_get(d) & VIRTIO_CONFIG_S_DRIVER_OK) && !d->broken &&
	       q < d->nqueues && d->vq[q].ready;
}

void virtio_queue_done(struct virtio_dev *d, unsigned q)
{
	if (q < d->nqueues && virtq_should_notify(&d->vq[q]))
		virtio_irq(d, VIRTIO_MMIO_INT_VRING);
}

void virtio_queue_again(struct virtio_dev *d, unsigned q)
{
	if (q < d->nqueues && d->kick_fd[q] >= 0)
		signal_fd(d->kick_fd[q]);
}

void virtio_config_changed(struct virtio_dev *d)
{
	__atomic_add_fetch(&d->config_gen, 1, __ATOMIC_RELEASE);
	if (status_get(d) & VIRTIO_CONFIG_S_DRIVER_OK)
		virtio_irq(d, VIRTIO_MMIO_INT_CONFIG);
}

void virtio_dev_fail(struct virtio_dev *d, const char *fmt, ...)
{
	va_list ap;

	if (d->broken)
		return;
	d->broken = true;
	d->errors++;
	va_start(ap, fmt);
	vsnprintf(d->error, sizeof(d->error), fmt, ap);
	va_end(ap);
	status_set(d, status_get(d) | VIRTIO_CONFIG_S_NEEDS_RESET);
	log_warn("virtio %s (slot %u): %s: device needs a reset", d->name,
		 d->slot, d->error);
	virtio_irq(d, VIRTIO_MMIO_INT_CONFIG);
	if (d->on_fail)
		d->on_fail(d->fail_opaque);
}

int virtio_pop(struct virtio_dev *d, unsigned q, struct virtq_chain *c)
{
	int r;

	if (!virtio_queue_live(d, q))
		return 0;
	r = virtq_pop(&d->vq[q], c);
	if (r < 0) {
		virtio_dev_fail(d, "queue %u: %s", q, d->vq[q].error);
		return 0;
	}
	return r;
}

static void reset_locked(struct virtio_dev *d)
{
	for (unsigned q = 0; q < d->nqueues; q++)
		virtq_reset(&d->vq[q]);
	d->driver_features = 0;
	d->features_sel = d->driver_features_sel = d->queue_sel = 0;
	__atomic_store_n(&d->isr, 0, __ATOMIC_SEQ_CST);
	d->broken = false;
	d->resets++;
	if (d->ops->reset)
		d->ops->reset(d);
	status_set(d, 0);
}

void virtio_dev_reset(struct virtio_dev *d)
{
	pthread_mutex_lock(&d->lock);
	reset_locked(d);
	pthread_mutex_unlock(&d->lock);
}

static void kick_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct virtio_dev *d = w->data;
	unsigned q = (unsigned)(w - d->kick_watch);
	uint64_t count;

	if (read(d->kick_fd[q], &count, sizeof(count)) < 0)
		return;		/* EAGAIN: someone else read it */
	pthread_mutex_lock(&d->lock);
	d->kicks++;
	if (virtio_queue_live(d, q))
		d->ops->queue_notify(d, q);
	pthread_mutex_unlock(&d->lock);
}

static void queue_ready(struct virtio_dev *d, unsigned q, bool ready)
{
	struct virtq *vq = &d->vq[q];

	if (!ready) {
		uint16_t num = vq->num;
		uint64_t desc = vq->desc_gpa, avail = vq->avail_gpa, used = vq->used_gpa;

		/* the driver may reuse the addresses when it sets it ready again */
		virtq_reset(vq);
		vq->num = num;
		vq->desc_gpa = desc;
		vq->avail_gpa = avail;
		vq->used_gpa = used;
		return;
	}
	if (vq->ready)
		return;
	if (virtq_start(vq, d->mem, VIRTIO_QUEUE_SIZE,
			has_feature(d, VIRTIO_RING_F_EVENT_IDX),
			has_feature(d, VIRTIO_RING_F_INDIRECT_DESC)) < 0)
		virtio_dev_fail(d, "queue %u: %s", q, vq->error);
}

static void status_write(struct virtio_dev *d, uint32_t v)
{
	uint32_t old = status_get(d);

	if (v == 0) {
		reset_locked(d);
		return;
	}
	if ((v & VIRTIO_CONFIG_S_FEATURES_OK) && !(old & VIRTIO_CONFIG_S_FEATURES_OK)) {
		/* refuse features we did not offer, and legacy drivers */
		if ((d->driver_features & ~d->features) ||
		    !has_feature(d, VIRTIO_F_VERSION_1) ||
		    (d->ops->features_ok && d->ops->features_ok(d) < 0))
			v &= ~VIRTIO_CONFIG_S_FEATURES_OK;
	}
	if (d->broken)
		v |= VIRTIO_CONFIG_S_NEEDS_RESET;
	status_set(d, v);
	/* buffers the driver added before DRIVER_OK get looked at now */
	if ((v & VIRTIO_CONFIG_S_DRIVER_OK) && !(old & VIRTIO_CONFIG_S_DRIVER_OK))
		for (unsigned q = 0; q < d->nqueues; q++)
			if (d->vq[q].ready)
				signal_fd(d->kick_fd[q]);
}

static void set_half(uint64_t *v, bool high, uint32_t half)
{
	if (high)
		*v = (*v & 0xffffffffULL) | ((uint64_t)half << 32);
	else
		*v = (*v & ~0xffffffffULL) | half;
}

static void reg_write(struct virtio_dev *d, uint64_t off, uint32_t v)
{
	unsigned qs = d->queue_sel;
	struct virtq *vq = qs < d->nqueues ? &d->vq[qs] : NULL;
	bool setup = vq && !vq->ready;

	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		d->features_sel = v;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if (!(status_get(d) & VIRTIO_CONFIG_S_FEATURES_OK) &&
		    d->driver_features_sel < 2)
			set_half(&d->driver_features, d->driver_features_sel == 1, v);
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		d->driver_features_sel = v;
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		d->queue_sel = v;
		break;
	case VIRTIO_MMIO_QUEUE_NUM:
		if (setup)
			vq->num = v > VIRTQ_MAX_SIZE ? 0 : (uint16_t)v;
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		if (vq)
			queue_ready(d, qs, v & 1);
		break;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		/* only when KVM did not take it (no ioeventfd) */
		d->mmio_kicks++;
		if (v < d->nqueues)
			signal_fd(d->kick_fd[v]);
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		__atomic_and_fetch(&d->isr, ~v, __ATOMIC_SEQ_CST);
		break;
	case VIRTIO_MMIO_STATUS:
		status_write(d, v);
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		if (setup)
			set_half(&vq->desc_gpa, off == VIRTIO_MMIO_QUEUE_DESC_HIGH, v);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		if (setup)
			set_half(&vq->avail_gpa, off == VIRTIO_MMIO_QUEUE_AVAIL_HIGH, v);
		break;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		if (setup)
			set_half(&vq->used_gpa, off == VIRTIO_MMIO_QUEUE_USED_HIGH, v);
		break;
	default:
		break;		/* read-only, legacy or unknown: ignored */
	}
}

static uint32_t reg_read(struct virtio_dev *d, uint64_t off)
{
	unsigned qs = d->queue_sel;

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return MMIO_VERSION;
	case VIRTIO_MMIO_DEVICE_ID:
		return d->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VIRTIO_VENDOR_ID;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return d->features_sel == 0 ? (uint32_t)d->features :
		       d->features_sel == 1 ? (uint32_t)(d->features >> 32) : 0;
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return qs < d->nqueues ? VIRTIO_QUEUE_SIZE : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return qs < d->nqueues && d->vq[qs].ready;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return __atomic_load_n(&d->isr, __ATOMIC_SEQ_CST);
	case VIRTIO_MMIO_STATUS:
		return status_get(d);
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return __atomic_load_n(&d->config_gen, __ATOMIC_ACQUIRE);
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
		return 0xffffffffu;	/* no shared memory regions */
	default:
		return 0;
	}
}

void virtio_mmio_access(void *dev, uint64_t offset, uint8_t *data,
			unsigned len, bool is_write)
{
	struct virtio_dev *d = dev;
	uint32_t v = 0;

	if (offset >= VIRTIO_MMIO_CONFIG) {
		uint64_t o = offset - VIRTIO_MMIO_CONFIG;

		pthread_mutex_lock(&d->lock);
		if (!is_write) {
			memset(data, 0, len);
			for (unsigned i = 0; i < len; i++)
				if (o + i < d->config_len)
					data[i] = d->config[o + i];
		}
		/* writable config fields are not offered: writes are dropped */
		pthread_mutex_unlock(&d->lock);
		return;
	}
	/* registers are 32 bits wide, at 32-bit aligned offsets */
	if (len != 4 || offset % 4) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	if (is_write) {
		memcpy(&v, data, 4);
		v = le32toh(v);
		pthread_mutex_lock(&d->lock);
		reg_write(d, offset, v);
		pthread_mutex_unlock(&d->lock);
		return;
	}
	switch (offset) {
	case VIRTIO_MMIO_INTERRUPT_STATUS:
	case VIRTIO_MMIO_STATUS:
	case VIRTIO_MMIO_MAGIC_VALUE:
	case VIRTIO_MMIO_CONFIG_GENERATION:
		v = reg_read(d, offset);	/* lock-free: the interrupt path */
		break;
	default:
		pthread_mutex_lock(&d->lock);
		v = reg_read(d, offset);
		pthread_mutex_unlock(&d->lock);
		break;
	}
	v = htole32(v);
	memcpy(data, &v, 4);
}

int virtio_dev_init(struct virtio_dev *d, const struct virtio_ops *ops,
		    const char *name, unsigned slot, unsigned nqueues,
		    uint64_t features, struct ev_loop *loop,
		    const struct virtq_mem *mem)
{
	d->ops = ops;
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->slot = slot;
	d->nqueues = nqueues;
	d->features = features | VIRTIO_BIT(VIRTIO_F_VERSION_1) |
		VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX) |
		VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC);
	d->loop = loop;
	d->mem = mem;
	d->irq_fd = -1;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		d->kick_fd[q] = -1;
	pthread_mutex_init(&d->lock, NULL);
	if (nqueues < 1 || nqueues > VIRTIO_MAX_QUEUES)
		return log_errno(-EINVAL, "virtio %s: %u queues", name, nqueues);
	for (unsigned q = 0; q < nqueues; q++) {
		d->kick_fd[q] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (d->kick_fd[q] < 0)
			return log_errno(-errno, "virtio %s: eventfd", name);
		ev_io_init(&d->kick_watch[q], kick_cb, d->kick_fd[q], EV_READ);
		d->kick_watch[q].data = d;
		ev_io_start(loop, &d->kick_watch[q]);
	}
	return 0;
}

void virtio_dev_close(struct virtio_dev *d)
{
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		if (d->kick_fd[q] < 0)
			continue;
		ev_io_stop(d->loop, &d->kick_watch[q]);
		close(d->kick_fd[q]);
		d->kick_fd[q] = -1;
	}
	if (d->irq_fd >= 0)
		close(d->irq_fd);
	d->irq_fd = -1;
}

const char *virtio_state_name(const struct virtio_dev *d)
{
	uint32_t s = status_get(d);

	if (d->broken || (s & VIRTIO_CONFIG_S_NEEDS_RESET))
		return "broken";
	if (s & VIRTIO_CONFIG_S_FAILED)
		return "failed";
	if (s & VIRTIO_CONFIG_S_DRIVER_OK)
		return "driver-ok";
	if (s & VIRTIO_CONFIG_S_FEATURES_OK)
		return "features-ok";
	if (s & (VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER))
		return "probing";
	return "reset";
}

static json_t *hex64(uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
	return json_string(buf);
}

json_t *virtio_dev_info(struct virtio_dev *d)
{
	json_t *o, *queues = json_array();

	pthread_mutex_lock(&d->lock);
	for (unsigned q = 0; q < d->nqueues; q++)
		json_array_append_new(queues, json_pack("{s:i, s:b, s:I}",
			"size", (int)d->vq[q].num, "ready", d->vq[q].ready,
			"chains", (json_int_t)d->vq[q].chains));
	o = json_pack("{s:s, s:s, s:i, s:o, s:i, s:s, s:i, s:o, s:o, s:b, s:b, "
		      "s:o, s:I, s:I, s:I, s:I, s:I}",
		"name", d->name, "type", d->ops->type, "slot", (int)d->slot,
		"base", hex64(d->base), "irq", (int)d->spi,
		"state", virtio_state_name(d), "status", (int)status_get(d),
		"features", hex64(d->features),
		"driver_features", hex64(d->driver_features),
		"ioeventfd", d->ioeventfd, "irqfd", d->irq_fd >= 0,
		"queues", queues,
		"kicks", (json_int_t)d->kicks,
		"mmio_kicks", (json_int_t)d->mmio_kicks,
		"interrupts", (json_int_t)__atomic_load_n(&d->interrupts, __ATOMIC_RELAXED),
		"resets", (json_int_t)d->resets,
		"errors", (json_int_t)d->errors);
	if (d->error[0])
		json_object_set_new(o, "error", json_string(d->error));
	if (d->ops->info)
		d->ops->info(d, o);
	pthread_mutex_unlock(&d->lock);
	return o;
}
