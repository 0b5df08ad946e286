// SPDX-License-Identifier: MIT
/*
 * virtio-console (virtio 1.x 5.3), one port without MULTIPORT: the guest's
 * hvc0.  receiveq 0 carries what attached clients type, transmitq 1 what
 * the guest writes; both go through a struct console of its own (log file
 * and attach socket), a second console path beside the UART.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_console.h>
#include <linux/virtio_ids.h>

#include "devices/virtio_devs.h"
#include "util/log.h"

#define CON_RXQ	0
#define CON_TXQ	1

struct vcon {
	struct virtio_dev vdev;
	struct console *con;
	uint64_t rx_bytes, tx_bytes;
	struct virtq_chain chain;
	uint8_t buf[4096];
};

/* Typed input into the guest's receive buffers (lock held). */
static void con_input(struct vcon *v)
{
	struct virtio_dev *d = &v->vdev;
	struct virtq_chain *c = &v->chain;

	for (;;) {
		size_t want, got;

		if (!virtio_pop(d, CON_RXQ, c)) {
			/* input may wait: be told when buffers come */
			if (!d->broken && v->con->inq_len &&
			    virtq_kick_on_next(&d->vq[CON_RXQ]))
				continue;
			break;
		}
		if (c->nout) {
			virtio_dev_fail(d, "receive chain %u has device-readable buffers",
					c->head);
			return;
		}
		want = c->in_len < sizeof(v->buf) ? c->in_len : sizeof(v->buf);
		got = console_input_take(v->con, v->buf, want);
		if (!got) {
			virtq_unpop(&d->vq[CON_RXQ], 1);
			break;
		}
		iov_from_buf(c->iov, c->nin, 0, v->buf, got);
		virtq_push(&d->vq[CON_RXQ], c->head, (uint32_t)got);
		v->rx_bytes += got;
	}
	virtio_queue_done(d, CON_RXQ);
}

static void con_output(struct vcon *v)
{
	struct virtio_dev *d = &v->vdev;
	struct virtq_chain *c = &v->chain;

	while (virtio_pop(d, CON_TXQ, c) > 0) {
		if (c->nin) {
			virtio_dev_fail(d, "transmit chain %u has writable buffers", c->head);
			return;
		}
		for (unsigned i = 0; i < c->nout; i++)
			console_write(v->con, c->iov[i].iov_base, c->iov[i].iov_len);
		v->tx_bytes += c->out_len;
		virtq_push(&d->vq[CON_TXQ], c->head, 0);
	}
	virtio_queue_done(d, CON_TXQ);
}

static void con_notify(struct virtio_dev *d, unsigned q)
{
	struct vcon *v = (struct vcon *)d;

	if (q == CON_TXQ)
		con_output(v);
	else if (q == CON_RXQ)
		con_input(v);
}

/* the console has input (loop thread) */
static void con_input_ready(void *opaque)
{
	struct vcon *v = opaque;

	pthread_mutex_lock(&v->vdev.lock);
	if (virtio_queue_live(&v->vdev, CON_RXQ))
		con_input(v);
	pthread_mutex_unlock(&v->vdev.lock);
}

static void con_info(struct virtio_dev *d, json_t *o)
{
	struct vcon *v = (struct vcon *)d;

	json_object_set_new(o, "rx_bytes", json_integer((json_int_t)v->rx_bytes));
	json_object_set_new(o, "tx_bytes", json_integer((json_int_t)v->tx_bytes));
}

static void con_destroy(struct virtio_dev *d)
{
	struct vcon *v = (struct vcon *)d;

	if (v->con) {
		v->con->input_ready = NULL;
		v->con->input_opaque = NULL;
	}
	free(v);
}

static const struct virtio_ops con_ops = {
	.type = "console",
	.device_id = VIRTIO_ID_CONSOLE,
	.queue_notify = con_notify,
	.info = con_info,
	.destroy = con_destroy,
};

int virtio_console_create(const struct virtio_env *env, struct console *con,
			  struct virtio_dev **out, char *msg, size_t msglen)
{
	struct vcon *v = calloc(1, sizeof(*v));
	int r;

	if (!v) {
		snprintf(msg, msglen, "out of memory");
		return -ENOMEM;
	}
	v->con = con;
	r = virtio_dev_init(&v->vdev, &con_ops, "console0", env->slot, 2, 0,
			    env->loop, env->mem);
	if (r < 0) {
		snprintf(msg, msglen, "virtio console0: %s", strerror(-r));
		virtio_dev_close(&v->vdev);
		con_destroy(&v->vdev);
		return r;
	}
	/* no SIZE, MULTIPORT or EMERG_WRITE: the config space reads zero */
	v->vdev.config_len = sizeof(struct virtio_console_config);
	con->input_ready = con_input_ready;
	con->input_opaque = v;
	*out = &v->vdev;
	return 0;
}
