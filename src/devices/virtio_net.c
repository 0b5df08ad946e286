// SPDX-License-Identifier: MIT
/*
 * virtio-net on a TAP device (virtio 1.x 5.1): receiveq 0, transmitq 1.
 *
 * The TAP carries the same 12-byte virtio_net_hdr_v1 as the rings
 * (IFF_VNET_HDR, TUNSETVNETHDRSZ), so frames pass through unchanged and
 * checksum and segmentation offloads cost nothing: what the guest accepts
 * (GUEST_CSUM, GUEST_TSO4/6) is handed to the TAP with TUNSETOFFLOAD, and
 * what it sends (CSUM, HOST_TSO4/6) the TAP takes as it is.  Received
 * frames go into mergeable buffers when the driver takes MRG_RXBUF.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>

#include "devices/virtio_devs.h"
#include "util/log.h"

#define NET_RXQ		0
#define NET_TXQ		1
#define NET_HDR_LEN	sizeof(struct virtio_net_hdr_v1)
/* a GSO frame from the TAP: 64 KiB of IP plus Ethernet and VLAN headers */
#define NET_MAX_FRAME	(NET_HDR_LEN + 65536 + 64)
#define NET_RX_BUDGET	64	/* frames per loop callback */

struct rx_used {
	uint16_t head;
	uint32_t len;
};

struct net {
	struct virtio_dev vdev;
	struct virtio_net_conf conf;
	char ifname[IFNAMSIZ];
	int tap_fd;
	ev_io tap_watch;
	bool watching;
	bool offloads;			/* the TAP takes TUNSETOFFLOAD */
	bool mergeable;			/* MRG_RXBUF negotiated */
	unsigned tun_flags;		/* offloads handed to the TAP */
	size_t frame_len;		/* a frame read but not yet delivered */
	uint64_t rx_packets, rx_bytes, rx_dropped;
	uint64_t tx_packets, tx_bytes, tx_errors;
	struct virtq_chain chain;
	struct rx_used used[VIRTIO_QUEUE_SIZE];
	uint8_t frame[NET_MAX_FRAME];
};

static void tap_watch(struct net *n, bool on)
{
	if (on == n->watching)
		return;
	if (on)
		ev_io_start(n->vdev.loop, &n->tap_watch);
	else
		ev_io_stop(n->vdev.loop, &n->tap_watch);
	n->watching = on;
}

/* the address of byte off of an iovec array, or NULL */
static uint8_t *iov_byte(const struct iovec *iov, unsigned cnt, size_t off)
{
	for (unsigned i = 0; i < cnt; i++) {
		if (off < iov[i].iov_len)
			return (uint8_t *)iov[i].iov_base + off;
		off -= iov[i].iov_len;
	}
	return NULL;
}

/*
 * Put n->frame into receive buffers.  1: delivered (or dropped for good),
 * 0: not enough buffers yet (nothing taken), -1: the device broke.
 */
static int rx_deliver(struct net *n)
{
	struct virtio_dev *d = &n->vdev;
	struct virtq *vq = &d->vq[NET_RXQ];
	uint8_t *nb_lo = NULL, *nb_hi = NULL;
	size_t off = 0;
	unsigned nbufs = 0;

	while (off < n->frame_len) {
		struct virtq_chain *c = &n->chain;
		size_t len;

		if (nbufs == VIRTIO_QUEUE_SIZE || !virtio_pop(d, NET_RXQ, c)) {
			if (d->broken)
				return -1;
			virtq_unpop(vq, (uint16_t)nbufs);
			return 0;
		}
		nbufs++;
		if (c->nout) {
			virtio_dev_fail(d, "receive chain %u has device-readable buffers",
					c->head);
			return -1;
		}
		if ((nbufs == 1 && c->in_len < NET_HDR_LEN) ||
		    (!n->mergeable && c->in_len < n->frame_len)) {
			/* too small for the frame: the frame is lost, the
			 * buffer stays for the next one */
			virtq_unpop(vq, (uint16_t)nbufs);
			n->rx_dropped++;
			return 1;
		}
		len = c->in_len < n->frame_len - off ? c->in_len : n->frame_len - off;
		iov_from_buf(c->iov, c->nin, 0, n->frame + off, len);
		if (nbufs == 1) {
			nb_lo = iov_byte(c->iov, c->nin, offsetof(struct virtio_net_hdr_v1,
								  num_buffers));
			nb_hi = iov_byte(c->iov, c->nin, offsetof(struct virtio_net_hdr_v1,
								  num_buffers) + 1);
		}
		n->used[nbufs - 1] = (struct rx_used){ c->head, (uint32_t)len };
		off += len;
	}
	/* num_buffers, little-endian, in the first buffer's header */
	if (nb_lo && nb_hi) {
		*nb_lo = (uint8_t)nbufs;
		*nb_hi = (uint8_t)(nbufs >> 8);
	}
	for (unsigned i = 0; i < nbufs; i++)
		virtq_push(vq, n->used[i].head, n->used[i].len);
	n->rx_packets++;
	n->rx_bytes += n->frame_len - NET_HDR_LEN;
	return 1;
}

/* Move frames from the TAP into the guest while it has buffers (lock held). */
static void net_rx(struct net *n)
{
	struct virtio_dev *d = &n->vdev;
	unsigned frames = 0;

	if (!virtio_queue_live(d, NET_RXQ)) {
		tap_watch(n, false);
		return;
	}
	while (frames < NET_RX_BUDGET) {
		int r;

		if (!n->frame_len) {
			ssize_t got = read(n->tap_fd, n->frame, sizeof(n->frame));

			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0 && errno == EAGAIN)
				break;
			if (got < 0) {
				log_warn("virtio %s: reading TAP %s: %s", d->name,
					 n->ifname, strerror(errno));
				tap_watch(n, false);
				goto done;
			}
			if ((size_t)got <= NET_HDR_LEN)
				continue;
			n->frame_len = (size_t)got;
		}
		r = rx_deliver(n);
		if (r == 0 && virtq_kick_on_next(&d->vq[NET_RXQ]))
			continue;	/* buffers came meanwhile */
		if (r <= 0) {
			/* no buffers: wait for the driver's kick on the
			 * receive queue; a broken device drops the frame */
			if (r < 0)
				n->frame_len = 0;
			tap_watch(n, false);
			goto done;
		}
		n->frame_len = 0;
		frames++;
	}
	tap_watch(n, true);
done:
	virtio_queue_done(d, NET_RXQ);
}

static void net_tx(struct net *n)
{
	struct virtio_dev *d = &n->vdev;
	struct virtq_chain *c = &n->chain;

	while (virtio_pop(d, NET_TXQ, c) > 0) {
		ssize_t r;

		if (c->nin || c->out_len < NET_HDR_LEN) {
			virtio_dev_fail(d, "transmit chain %u: %zu readable bytes, "
					"%zu writable", c->head, c->out_len, c->in_len);
			return;
		}
		do
			r = writev(n->tap_fd, c->iov, (int)c->nout);
		while (r < 0 && errno == EINTR);
		if (r < 0) {
			/* the interface is down or its queue is full: dropped,
			 * as a wire would */
			n->tx_errors++;
		} else {
			n->tx_packets++;
			n->tx_bytes += c->out_len - NET_HDR_LEN;
		}
		virtq_push(&d->vq[NET_TXQ], c->head, 0);
	}
	virtio_queue_done(d, NET_TXQ);
}

static void net_notify(struct virtio_dev *d, unsigned q)
{
	struct net *n = (struct net *)d;

	if (q == NET_TXQ)
		net_tx(n);
	else if (q == NET_RXQ)
		net_rx(n);	/* new buffers: maybe for a waiting frame */
}

static void tap_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct net *n = w->data;

	pthread_mutex_lock(&n->vdev.lock);
	net_rx(n);
	pthread_mutex_unlock(&n->vdev.lock);
}

static void set_offloads(struct net *n, unsigned flags)
{
	if (!n->offloads || flags == n->tun_flags)
		return;
	if (ioctl(n->tap_fd, TUNSETOFFLOAD, flags) < 0) {
		log_warn("virtio %s: TUNSETOFFLOAD 0x%x on %s: %s", n->vdev.name,
			 flags, n->ifname, strerror(errno));
		return;
	}
	n->tun_flags = flags;
}

static int net_features_ok(struct virtio_dev *d)
{
	struct net *n = (struct net *)d;
	uint64_t f = d->driver_features;
	unsigned flags = 0;

	n->mergeable = f & VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF);
	if (f & VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM)) {
		flags |= TUN_F_CSUM;
		if (f & VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4))
			flags |= TUN_F_TSO4;
		if (f & VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6))
			flags |= TUN_F_TSO6;
		if (f & VIRTIO_BIT(VIRTIO_NET_F_GUEST_ECN))
			flags |= TUN_F_TSO_ECN;
	}
	set_offloads(n, flags);
	return 0;
}

static void net_reset(struct virtio_dev *d)
{
	struct net *n = (struct net *)d;

	n->frame_len = 0;
	n->mergeable = false;
	set_offloads(n, 0);	/* the next driver may take none */
}

static void net_info(struct virtio_dev *d, json_t *o)
{
	struct net *n = (struct net *)d;
	char mac[24];
	const uint8_t *m = n->conf.mac;

	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x",
		 m[0], m[1], m[2], m[3], m[4], m[5]);
	json_object_set_new(o, "tap", json_string(n->ifname));
	json_object_set_new(o, "mac", json_string(mac));
	json_object_set_new(o, "offloads", json_integer(n->tun_flags));
	json_object_set_new(o, "mergeable_rx", json_boolean(n->mergeable));
	json_object_set_new(o, "rx_packets", json_integer((json_int_t)n->rx_packets));
	json_object_set_new(o, "rx_bytes", json_integer((json_int_t)n->rx_bytes));
	json_object_set_new(o, "rx_dropped", json_integer((json_int_t)n->rx_dropped));
	json_object_set_new(o, "tx_packets", json_integer((json_int_t)n->tx_packets));
	json_object_set_new(o, "tx_bytes", json_integer((json_int_t)n->tx_bytes));
	json_object_set_new(o, "tx_errors", json_integer((json_int_t)n->tx_errors));
}

static void net_destroy(struct virtio_dev *d)
{
	struct net *n = (struct net *)d;

	if (n->tap_fd >= 0) {
		tap_watch(n, false);
		close(n->tap_fd);
	}
	free(n);
}

static const struct virtio_ops net_ops = {
	.type = "net",
	.device_id = VIRTIO_ID_NET,
	.features_ok = net_features_ok,
	.queue_notify = net_notify,
	.reset = net_reset,
	.info = net_info,
	.destroy = net_destroy,
};

/* Attach to the TAP named in conf, creating it when it does not exist. */
/* The TAP the supervisor attached for the VM's owner (the worker opens
 * no device itself): its name, its header size and offloads. */
static int tap_open(struct net *n, char *msg, size_t msglen)
{
	struct ifreq ifr;
	int hdr = NET_HDR_LEN, r;

	if (n->conf.fd < 0) {
		snprintf(msg, msglen, "TAP %s: no descriptor for it",
			 n->conf.tap[0] ? n->conf.tap : "(new)");
		return -EBADF;
	}
	n->tap_fd = n->conf.fd;
	fcntl(n->tap_fd, F_SETFL, fcntl(n->tap_fd, F_GETFL) | O_NONBLOCK);
	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(n->tap_fd, TUNGETIFF, &ifr) < 0) {
		r = -errno;
		snprintf(msg, msglen, "TAP: TUNGETIFF: %s", strerror(-r));
		return r;
	}
	snprintf(n->ifname, sizeof(n->ifname), "%s", ifr.ifr_name);
	if (ioctl(n->tap_fd, TUNSETVNETHDRSZ, &hdr) < 0) {
		r = -errno;
		snprintf(msg, msglen, "TAP %s: TUNSETVNETHDRSZ: %s", n->ifname,
			 strerror(-r));
		return r;
	}
	/* can the TAP take unchecksummed and TSO frames for the guest? */
	n->offloads = ioctl(n->tap_fd, TUNSETOFFLOAD,
			    TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN) == 0;
	if (n->offloads)
		ioctl(n->tap_fd, TUNSETOFFLOAD, 0);
	return 0;
}

int virtio_net_create(const struct virtio_env *env, unsigned index,
		      const struct virtio_net_conf *conf,
		      struct virtio_dev **out, char *msg, size_t msglen)
{
	struct virtio_net_config cfg;
	uint64_t features;
	struct net *n;
	char name[16];
	int r;

	n = calloc(1, sizeof(*n));
	if (!n) {
		snprintf(msg, msglen, "out of memory");
		return -ENOMEM;
	}
	n->conf = *conf;
	n->tap_fd = -1;
	r = tap_open(n, msg, msglen);
	if (r < 0) {
		log_error("%s", msg);
		net_destroy(&n->vdev);
		return r;
	}
	features = VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_STATUS) |
		   VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF) | VIRTIO_BIT(VIRTIO_NET_F_CSUM) |
		   VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6) |
		   VIRTIO_BIT(VIRTIO_NET_F_HOST_ECN);
	if (n->offloads)
		features |= VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM) |
			    VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) |
			    VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6) |
			    VIRTIO_BIT(VIRTIO_NET_F_GUEST_ECN);
	snprintf(name, sizeof(name), "net%u", index);
	r = virtio_dev_init(&n->vdev, &net_ops, name, env->slot, 2, features,
			    env->loop, env->mem);
	if (r < 0) {
		snprintf(msg, msglen, "virtio %s: %s", name, strerror(-r));
		virtio_dev_close(&n->vdev);
		net_destroy(&n->vdev);
		return r;
	}
	ev_io_init(&n->tap_watch, tap_cb, n->tap_fd, EV_READ);
	n->tap_watch.data = n;
	memset(&cfg, 0, sizeof(cfg));
	memcpy(cfg.mac, n->conf.mac, sizeof(cfg.mac));
	cfg.status = htole16(VIRTIO_NET_S_LINK_UP);
	cfg.max_virtqueue_pairs = htole16(1);
	memcpy(n->vdev.config, &cfg, sizeof(cfg));
	n->vdev.config_len = sizeof(cfg);
	log_info("virtio %s: TAP %s, MAC %02x:%02x:%02x:%02x:%02x:%02x%s", name,
		 n->ifname, cfg.mac[0], cfg.mac[1], cfg.mac[2], cfg.mac[3],
		 cfg.mac[4], cfg.mac[5], n->offloads ? ", offloads" : "");
	*out = &n->vdev;
	return 0;
}
