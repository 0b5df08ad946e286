/* SPDX-License-Identifier: MIT */
/*
 * What a VM's virtio devices are, as vm.create accepted them: the per-VM
 * device table.  Pure data, shared by the plan (src/arm64/plan.c) and the
 * devices.  Slots are given in this order: disks, network interfaces, the
 * console, the entropy device; slot N is LAYOUT_VIRTIO_BASE + N * stride
 * with SPI LAYOUT_IRQ_VIRTIO + N.
 */
#ifndef ARMVMD_VIRTIO_CONF_H
#define ARMVMD_VIRTIO_CONF_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#define VIRTIO_MAX_DISKS	16
#define VIRTIO_MAX_NETS		8
#define VIRTIO_BLK_SERIAL_LEN	20	/* VIRTIO_BLK_ID_BYTES */
#define VIRTIO_BLK_MAX_QUEUES	8
#define VIRTIO_TAP_NAME_MAX	15	/* IFNAMSIZ - 1 */

enum virtio_kind { VIRTIO_KIND_BLK, VIRTIO_KIND_NET, VIRTIO_KIND_CONSOLE,
		   VIRTIO_KIND_RNG };

struct virtio_blk_conf {
	char path[PATH_MAX];			/* names it; the image is fd */
	int fd;					/* the plan's files.disks[] */
	bool readonly;
	unsigned queues;			/* request queues, 1.. */
	char serial[VIRTIO_BLK_SERIAL_LEN + 1];	/* GET_ID */
};

struct virtio_net_conf {
	char tap[VIRTIO_TAP_NAME_MAX + 1];	/* "": the kernel names it */
	int fd;					/* attached by the supervisor */
	uint8_t mac[6];
};

struct virtio_slot_conf {
	enum virtio_kind kind;
	unsigned index;			/* into disks[] or nets[] */
};

#endif
