// SPDX-License-Identifier: MIT
/*
 * The virtio-mmio transport, the virtqueues and the request parsing of
 * every virtio device (blk read-write with two queues, blk read-only, net,
 * console, rng) over a fake guest RAM, driven by a small program: each
 * input is a list of operations that play the guest's driver (register
 * accesses, RAM writes, descriptors, avail entries, kicks) and the outside
 * world (frames arriving on the TAP, keys typed on the console).
 *
 * What KVM does in the worker is done here: kicks reach the device through
 * its eventfds on the loop (QueueNotify written through the bus, as when
 * no ioeventfd is registered), interrupts go to a counter, guest addresses
 * are checked against the one RAM buffer (allocated to size, so that ASan
 * sees any access past it).  The block devices' images are memfds; the
 * net device gets a socket pair in place of /dev/net/tun (the open and
 * ioctl wrappers below, linked with --wrap).
 *
 * Operation byte: device in bits 7..4 (modulo the five), kind in 3..0.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <net/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>

#include "devices/virtio_devs.h"
#include "fuzz.h"

#define RAM_BASE	0x80000000ULL
#define RAM_SIZE	(256u << 10)
#define DISK_SIZE	(64u << 10)
#define NDEV		5

enum op {
	OP_REG_WRITE,		/* off u16, value u32 */
	OP_REG_READ,		/* off u16, size u8 */
	OP_REG_ODD,		/* off u16, size u8, value u64: odd sizes, config */
	OP_RAM,			/* off u32, n u8, bytes */
	OP_INIT,		/* feature mask u64: reset .. FEATURES_OK */
	OP_QUEUE,		/* q u8, num u16, desc/avail/used u16 (x4 into RAM) */
	OP_DRIVER_OK,
	OP_DESC,		/* q u8, index u16, addr u16 (x4) or u64, len u32, flags u16, next u16 */
	OP_AVAIL,		/* q u8, head u16 */
	OP_NOTIFY,		/* q u16 */
	OP_FRAME,		/* n u16: bytes arriving on the TAP */
	OP_TYPE,		/* n u8: bytes typed on the console */
	OP_LOOP,
	OP_RESET,
	OP_INFO,
	OP_IRQ_ACK,
};

static uint8_t *ram;
static struct ev_loop *loop;
static struct virtio_dev *devs[NDEV];
static struct console con;
static int tap_fd = -1, tap_peer = -1;
static unsigned long irqs;

/* ---- what KVM and the TAP would be ---- */

static void *ram_map(void *opaque, uint64_t gpa, uint64_t len)
{
	if (gpa < RAM_BASE || gpa - RAM_BASE > RAM_SIZE ||
	    len > RAM_SIZE - (gpa - RAM_BASE))
		return NULL;
	return ram + (gpa - RAM_BASE);
}

static const struct virtq_mem gmem = { .map = ram_map };

static void irq_pulse(void *opaque, unsigned spi)
{
	irqs++;
}

int __real_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...);
int __real_ioctl(int fd, unsigned long req, ...);
int __wrap_ioctl(int fd, unsigned long req, ...);

int __wrap_open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;
	int sv[2];

	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	if (strcmp(path, "/dev/net/tun"))
		return __real_open(path, flags, mode);
	if (tap_fd >= 0) {
		errno = EBUSY;
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	tap_fd = sv[0];
	tap_peer = sv[1];
	return tap_fd;
}

int __wrap_ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fd != tap_fd || tap_fd < 0)
		return __real_ioctl(fd, req, arg);
	switch (req) {
	case TUNSETIFF:
	case TUNGETIFF: {
		struct ifreq *ifr = arg;

		if (!ifr->ifr_name[0])
			snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "fuzztap0");
		return 0;
	}
	case TUNSETVNETHDRSZ:
	case TUNSETOFFLOAD:
		return 0;
	default:
		errno = ENOTTY;
		return -1;
	}
}

/* ---- set-up ---- */

static int disk(const char *name)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, DISK_SIZE) < 0)
		fuzz_fail("memfd %s: %s", name, strerror(errno));
	return fd;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct virtio_blk_conf rw = { .queues = 2, .serial = "fuzz-rw" };
	struct virtio_blk_conf ro = { .readonly = true, .queues = 1, .serial = "fuzz-ro" };
	struct virtio_net_conf net = { .tap = "fuzz0", .mac = { 2, 0, 0, 0, 0, 1 } };
	struct virtio_env env = { .mem = &gmem };
	char msg[256];
	int fd_rw, fd_ro;

	fuzz_quiet();
	ram = malloc(RAM_SIZE);
	loop = ev_loop_new(EVFLAG_AUTO);
	if (!ram || !loop)
		fuzz_fail("RAM or loop");
	env.loop = loop;
	fd_rw = disk("disk-rw");
	fd_ro = disk("disk-ro");
	snprintf(rw.path, sizeof(rw.path), "disk-rw");
	snprintf(ro.path, sizeof(ro.path), "disk-ro");
	/* the devices take descriptors, as from the supervisor */
	rw.fd = fd_rw;
	ro.fd = fd_ro;
	net.fd = __wrap_open("/dev/net/tun", O_RDWR);
	if (net.fd < 0)
		fuzz_fail("the fake TAP: %s", strerror(errno));
	if (console_init(&con, loop, NULL) < 0)
		fuzz_fail("console_init");

	env.slot = 0;
	if (virtio_blk_create(&env, 0, &rw, &devs[0], msg, sizeof(msg)) < 0)
		fuzz_fail("%s", msg);
	env.slot = 1;
	if (virtio_blk_create(&env, 1, &ro, &devs[1], msg, sizeof(msg)) < 0)
		fuzz_fail("%s", msg);
	env.slot = 2;
	if (virtio_net_create(&env, 0, &net, &devs[2], msg, sizeof(msg)) < 0)
		fuzz_fail("%s", msg);
	env.slot = 3;
	if (virtio_console_create(&env, &con, &devs[3], msg, sizeof(msg)) < 0)
		fuzz_fail("%s", msg);
	env.slot = 4;
	if (virtio_rng_create(&env, &devs[4], msg, sizeof(msg)) < 0)
		fuzz_fail("%s", msg);
	for (unsigned i = 0; i < NDEV; i++) {
		devs[i]->base = 0x0a000000ULL + i * 0x200;
		devs[i]->spi = 16 + i;
		devs[i]->irq_pulse = irq_pulse;
	}
	/* the devices own their descriptors now */
	return 0;
}

/* ---- the driver ---- */

static void reg_write(struct virtio_dev *d, unsigned off, uint32_t v)
{
	uint32_t le = htole32(v);

	virtio_mmio_access(d, off, (uint8_t *)&le, 4, true);
}

static uint32_t reg_read(struct virtio_dev *d, unsigned off)
{
	uint32_t le;

	virtio_mmio_access(d, off, (uint8_t *)&le, 4, false);
	return le32toh(le);
}

static void run_loop(void)
{
	ev_run(loop, EVRUN_NOWAIT);
}

/* guest memory at gpa, len bytes, or NULL */
static void *guest(uint64_t gpa, uint64_t len)
{
	return ram_map(NULL, gpa, len);
}

static void op_init(struct virtio_dev *d, uint64_t mask)
{
	uint64_t offered;

	reg_write(d, VIRTIO_MMIO_STATUS, 0);
	reg_write(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	reg_write(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE |
		  VIRTIO_CONFIG_S_DRIVER);
	reg_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	offered = reg_read(d, VIRTIO_MMIO_DEVICE_FEATURES);
	reg_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	offered |= (uint64_t)reg_read(d, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	/* mask bit 63 clear: take what is offered and mask; set: anything */
	if (!(mask >> 63))
		mask &= offered;
	reg_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	reg_write(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)mask);
	reg_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	reg_write(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(mask >> 32));
	reg_write(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE |
		  VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
	(void)reg_read(d, VIRTIO_MMIO_STATUS);
}

static void op_queue(struct virtio_dev *d, struct fuzz_in *in)
{
	unsigned q = fuzz_u8(in);
	uint32_t num = fuzz_u16(in);
	uint64_t desc = RAM_BASE + 4ULL * fuzz_u16(in);
	uint64_t avail = RAM_BASE + 4ULL * fuzz_u16(in);
	uint64_t used = RAM_BASE + 4ULL * fuzz_u16(in);

	reg_write(d, VIRTIO_MMIO_QUEUE_SEL, q);
	(void)reg_read(d, VIRTIO_MMIO_QUEUE_NUM_MAX);
	reg_write(d, VIRTIO_MMIO_QUEUE_NUM, num);
	reg_write(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	reg_write(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	reg_write(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)avail);
	reg_write(d, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(avail >> 32));
	reg_write(d, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)used);
	reg_write(d, VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(used >> 32));
	reg_write(d, VIRTIO_MMIO_QUEUE_READY, 1);
}

static void op_desc(struct virtio_dev *d, struct fuzz_in *in)
{
	unsigned q = fuzz_u8(in) % VIRTIO_MAX_QUEUES;
	uint16_t index = fuzz_u16(in), a = fuzz_u16(in);
	uint64_t addr = a == 0xffff ? fuzz_u64(in) : RAM_BASE + 4ULL * a;
	struct virtq *vq = &d->vq[q];
	struct vring_desc desc = {
		.addr = htole64(addr),
		.len = htole32(fuzz_u32(in)),
		.flags = htole16(fuzz_u16(in)),
		.next = htole16(fuzz_u16(in)),
	};
	void *p;

	if (!vq->num)
		return;
	p = guest(vq->desc_gpa + 16ULL * (index % vq->num), sizeof(desc));
	if (p)
		memcpy(p, &desc, sizeof(desc));
}

static void op_avail(struct virtio_dev *d, struct fuzz_in *in)
{
	unsigned q = fuzz_u8(in) % VIRTIO_MAX_QUEUES;
	uint16_t head = fuzz_u16(in), idx;
	struct virtq *vq = &d->vq[q];
	uint16_t *ring;

	if (!vq->num)
		return;
	ring = guest(vq->avail_gpa, 4 + 2ULL * vq->num);
	if (!ring)
		return;
	idx = le16toh(ring[1]);
	ring[2 + idx % vq->num] = htole16(head);
	__atomic_store_n(&ring[1], htole16((uint16_t)(idx + 1)), __ATOMIC_RELEASE);
}

static void op_frame(struct fuzz_in *in)
{
	size_t n;
	const uint8_t *p = fuzz_take(in, fuzz_u16(in), &n);

	if (tap_peer >= 0 && n)
		(void)send(tap_peer, p, n, MSG_DONTWAIT);
}

static void op_type(struct fuzz_in *in)
{
	size_t n;
	const uint8_t *p = fuzz_take(in, fuzz_u8(in), &n);

	pthread_mutex_lock(&con.lock);
	for (size_t i = 0; i < n && con.inq_len < CONSOLE_INPUT_MAX; i++) {
		con.inq[(con.inq_head + con.inq_len) % CONSOLE_INPUT_MAX] = p[i];
		con.inq_len++;
	}
	pthread_mutex_unlock(&con.lock);
	if (con.input_ready)
		con.input_ready(con.input_opaque);
}

static void step(struct fuzz_in *in)
{
	uint8_t op = fuzz_u8(in);
	struct virtio_dev *d = devs[(op >> 4) % NDEV];
	uint8_t buf[8];
	unsigned off, len;
	uint64_t v;
	size_t n;
	const uint8_t *p;

	switch ((enum op)(op & 0x0f)) {
	case OP_REG_WRITE:
		off = fuzz_u16(in) & 0x1ff;
		reg_write(d, off, fuzz_u32(in));
		break;
	case OP_REG_READ:
		off = fuzz_u16(in) & 0x1ff;
		len = 1u << (fuzz_u8(in) & 3);
		virtio_mmio_access(d, off, buf, len, false);
		return;
	case OP_REG_ODD:
		off = fuzz_u16(in) & 0x1ff;
		len = 1u << (fuzz_u8(in) & 3);
		v = fuzz_u64(in);
		memcpy(buf, &v, sizeof(buf));
		virtio_mmio_access(d, off, buf, len, true);
		break;
	case OP_RAM:
		off = fuzz_u32(in) % RAM_SIZE;
		p = fuzz_take(in, fuzz_u8(in), &n);
		if (n > RAM_SIZE - off)
			n = RAM_SIZE - off;
		if (p)
			memcpy(ram + off, p, n);
		return;
	case OP_INIT:
		op_init(d, fuzz_u64(in));
		break;
	case OP_QUEUE:
		op_queue(d, in);
		break;
	case OP_DRIVER_OK:
		reg_write(d, VIRTIO_MMIO_STATUS, reg_read(d, VIRTIO_MMIO_STATUS) |
			  VIRTIO_CONFIG_S_DRIVER_OK);
		break;
	case OP_DESC:
		op_desc(d, in);
		return;
	case OP_AVAIL:
		op_avail(d, in);
		return;
	case OP_NOTIFY:
		reg_write(d, VIRTIO_MMIO_QUEUE_NOTIFY, fuzz_u16(in));
		break;
	case OP_FRAME:
		op_frame(in);
		break;
	case OP_TYPE:
		op_type(in);
		break;
	case OP_LOOP:
		break;
	case OP_RESET:
		virtio_dev_reset(d);
		break;
	case OP_INFO:
		json_decref(virtio_dev_info(d));
		return;
	case OP_IRQ_ACK:
		reg_write(d, VIRTIO_MMIO_INTERRUPT_ACK,
			  reg_read(d, VIRTIO_MMIO_INTERRUPT_STATUS));
		return;
	}
	run_loop();
}

/* What the transport promises whatever the driver did. */
static void check_dev(struct virtio_dev *d)
{
	for (unsigned q = 0; q < d->nqueues; q++) {
		const struct virtq *vq = &d->vq[q];

		if (vq->ready && (!vq->num || vq->num > VIRTIO_QUEUE_SIZE ||
				  (vq->num & (vq->num - 1))))
			fuzz_fail("%s queue %u ready with %u entries", d->name, q, vq->num);
		if (vq->ready && (uint16_t)(vq->used_idx - vq->signalled) > 0 &&
		    !vq->used)
			fuzz_fail("%s queue %u: used entries without a ring", d->name, q);
	}
	if (d->driver_features & ~d->features &&
	    (d->status & VIRTIO_CONFIG_S_FEATURES_OK))
		fuzz_fail("%s: FEATURES_OK with features it did not offer", d->name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	char frame[65536 + 128];

	memset(ram, 0, RAM_SIZE);
	while (in.len)
		step(&in);
	for (unsigned i = 0; i < NDEV; i++)
		check_dev(devs[i]);

	/* the next input starts from reset devices and an empty TAP */
	for (unsigned i = 0; i < NDEV; i++)
		virtio_dev_reset(devs[i]);
	while (tap_peer >= 0 && recv(tap_peer, frame, sizeof(frame), MSG_DONTWAIT) > 0)
		;
	while (tap_fd >= 0 && recv(tap_fd, frame, sizeof(frame), MSG_DONTWAIT) > 0)
		;
	pthread_mutex_lock(&con.lock);
	con.inq_head = con.inq_len = 0;
	pthread_mutex_unlock(&con.lock);
	run_loop();
	return 0;
}
