/* SPDX-License-Identifier: MIT */
/*
 * The virtio devices: block, network, console, entropy.  Each is a struct
 * that starts with its struct virtio_dev and a const struct virtio_ops;
 * these constructors are all the VM needs to know of them.  They return
 * 0 or -errno with msg saying what failed (and log it once).
 */
#ifndef ARMVMD_VIRTIO_DEVS_H
#define ARMVMD_VIRTIO_DEVS_H

#include <stddef.h>

#include "devices/console.h"
#include "devices/virtio.h"
#include "devices/virtio_conf.h"

/* where a device is created: its loop, guest memory, slot */
struct virtio_env {
	struct ev_loop *loop;
	const struct virtq_mem *mem;
	unsigned slot;
};

int virtio_blk_create(const struct virtio_env *env, unsigned index,
		      const struct virtio_blk_conf *conf,
		      struct virtio_dev **out, char *msg, size_t msglen);
int virtio_net_create(const struct virtio_env *env, unsigned index,
		      const struct virtio_net_conf *conf,
		      struct virtio_dev **out, char *msg, size_t msglen);
/* con: an initialised console (log, attach socket) the device reads and writes */
int virtio_console_create(const struct virtio_env *env, struct console *con,
			  struct virtio_dev **out, char *msg, size_t msglen);
int virtio_rng_create(const struct virtio_env *env, struct virtio_dev **out,
		      char *msg, size_t msglen);

#endif
