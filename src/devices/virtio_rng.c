// SPDX-License-Identifier: MIT
/* virtio-rng (virtio 1.x 5.4): one queue of writable buffers, filled from getrandom(). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <linux/virtio_ids.h>

#include "devices/virtio_devs.h"
#include "util/log.h"

#define RNG_MAX_REQUEST	(64u << 10)	/* bytes per chain */

struct rng {
	struct virtio_dev vdev;
	uint64_t requests, bytes, short_reads;
	struct virtq_chain chain;
};

static size_t fill(struct iovec *iov, unsigned n, size_t max)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < max; i++) {
		size_t want = iov[i].iov_len < max - done ? iov[i].iov_len : max - done;
		size_t got = 0;

		while (got < want) {
			ssize_t r = getrandom((uint8_t *)iov[i].iov_base + got,
					      want - got, 0);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return done + got;
			got += (size_t)r;
		}
		done += got;
	}
	return done;
}

static void rng_notify(struct virtio_dev *d, unsigned q)
{
	struct rng *g = (struct rng *)d;
	struct virtq_chain *c = &g->chain;

	while (virtio_pop(d, q, c) > 0) {
		size_t want, got;

		if (c->nout) {
			virtio_dev_fail(d, "chain %u has device-readable buffers", c->head);
			return;
		}
		want = c->in_len < RNG_MAX_REQUEST ? c->in_len : RNG_MAX_REQUEST;
		got = fill(c->iov, c->nin, want);
		if (got < want)
			g->short_reads++;
		g->requests++;
		g->bytes += got;
		virtq_push(&d->vq[q], c->head, (uint32_t)got);
	}
	virtio_queue_done(d, q);
}

static void rng_info(struct virtio_dev *d, json_t *o)
{
	struct rng *g = (struct rng *)d;

	json_object_set_new(o, "requests", json_integer((json_int_t)g->requests));
	json_object_set_new(o, "bytes", json_integer((json_int_t)g->bytes));
	json_object_set_new(o, "short_reads", json_integer((json_int_t)g->short_reads));
}

static void rng_destroy(struct virtio_dev *d)
{
	free(d);
}

static const struct virtio_ops rng_ops = {
	.type = "rng",
	.device_id = VIRTIO_ID_RNG,
	.queue_notify = rng_notify,
	.info = rng_info,
	.destroy = rng_destroy,
};

int virtio_rng_create(const struct virtio_env *env, struct virtio_dev **out,
		      char *msg, size_t msglen)
{
	struct rng *g = calloc(1, sizeof(*g));
	int r;

	if (!g) {
		snprintf(msg, msglen, "out of memory");
		return -ENOMEM;
	}
	r = virtio_dev_init(&g->vdev, &rng_ops, "rng0", env->slot, 1, 0,
			    env->loop, env->mem);
	if (r < 0) {
		snprintf(msg, msglen, "virtio rng0: %s", strerror(-r));
		virtio_dev_close(&g->vdev);
		free(g);
		return r;
	}
	*out = &g->vdev;
	return 0;
}
