// SPDX-License-Identifier: MIT
/*
 * virtio-blk on a raw image file (or block device), virtio 1.x 5.2.
 *
 * Requests run on the worker's loop with preadv/pwritev straight between
 * the file and guest memory.  A kick takes the whole ring (at most one
 * ring's worth) as one batch: reads or writes of adjacent sectors become
 * one transfer, every chain goes back once the batch is done, and the
 * driver gets one interrupt for all of it (when it wants one: EVENT_IDX or
 * NO_INTERRUPT, see virtq.c).  FLUSH, DISCARD and WRITE_ZEROES end the
 * transfer being merged before they run, so a FLUSH syncs every write
 * taken before it.  Durability: VIRTIO_BLK_F_FLUSH is offered and
 * a flush is fdatasync(); a driver that does not take FLUSH assumes writes
 * are stable when they complete, so then every write is followed by
 * fdatasync (write-through).  Nothing is acknowledged before the kernel has
 * it: a worker killed after a guest sync loses none of the synced data.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>

#include "devices/virtio_devs.h"
#include "util/log.h"

#define SECTOR			512ULL
#define BLK_SEG_MAX		(VIRTIO_QUEUE_SIZE - 2)	/* header and status take two */
#define BLK_DWZ_MAX_SEGS	32
#define BLK_DWZ_MAX_SECTORS	(1u << 22)		/* 2 GiB per range */
#define BLK_RUN_MAX_BYTES	(8u << 20)	/* one merged transfer at most */

/* a request taken from the ring in this batch, until it goes back */
struct blk_req {
	uint16_t head;
	bool in_run;			/* its data is part of the open run */
	bool write;
	uint8_t st;			/* VIRTIO_BLK_S_* */
	uint8_t *status;		/* the chain's last writable byte */
	uint32_t len;			/* bytes written into the chain */
	size_t bytes;			/* data bytes (reads and writes) */
	uint64_t end;			/* where its data ends in the run */
};

/*
 * Reads (or writes) of adjacent sectors taken in one batch, as one
 * preadv/pwritev: the requests' data iovecs one after the other.
 */
struct blk_run {
	unsigned nreq;			/* members, from reqs[first] on */
	unsigned first;
	bool write;
	uint64_t sector;		/* where it starts */
	uint64_t bytes;
	unsigned nseg;
	struct iovec iov[VIRTQ_MAX_SEGS];
};

struct blk {
	struct virtio_dev vdev;
	int fd;
	struct virtio_blk_conf conf;
	bool discard;			/* the file system punches holes */
	bool writethrough;		/* FLUSH not negotiated */
	uint64_t capacity;		/* in sectors */
	unsigned logged;		/* I/O errors logged, to cap the log */
	uint64_t requests, reads, writes, flushes, discards, write_zeroes;
	uint64_t bytes_read, bytes_written, io_errors, unsupported;
	uint64_t batches, transfers, merged;
	unsigned batch_max;
	struct virtq_chain chain;
	unsigned nreq;
	struct blk_req reqs[VIRTIO_QUEUE_SIZE];
	struct blk_run run;
	uint8_t zeroes[64 << 10];
};

static uint8_t blk_io_error(struct blk *b, const char *what, int err)
{
	b->io_errors++;
	if (b->logged++ < 8)
		log_warn("virtio %s: %s %s: %s", b->vdev.name, what, b->conf.path,
			 strerror(err));
	return VIRTIO_BLK_S_IOERR;
}

static bool blk_in_range(const struct blk *b, uint64_t sector, uint64_t bytes)
{
	return bytes % SECTOR == 0 && sector <= b->capacity &&
	       bytes / SECTOR <= b->capacity - sector;
}

static uint8_t blk_sync(struct blk *b)
{
	if (fdatasync(b->fd) < 0 && errno != EINVAL)
		return blk_io_error(b, "fdatasync", errno);
	return VIRTIO_BLK_S_OK;
}

/*
 * preadv/pwritev all of v[0, n) at pos (v is used up); a read past EOF
 * reads zeroes.  *done: the bytes moved before a failure (all on success).
 */
static uint8_t blk_transfer(struct blk *b, struct iovec *v, unsigned n,
			    uint64_t pos, bool write, uint64_t *done)
{
	uint64_t start = pos;

	*done = 0;
	while (n) {
		int cnt = n > IOV_MAX ? IOV_MAX : (int)n;
		ssize_t r = write ? pwritev(b->fd, v, cnt, (off_t)pos)
				  : preadv(b->fd, v, cnt, (off_t)pos);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			*done = pos - start;
			return blk_io_error(b, write ? "pwritev" : "preadv", errno);
		}
		if (r == 0) {
			*done = pos - start;
			if (write)
				return blk_io_error(b, "pwritev", ENOSPC);
			for (unsigned i = 0; i < n; i++) {
				memset(v[i].iov_base, 0, v[i].iov_len);
				*done += v[i].iov_len;
			}
			return VIRTIO_BLK_S_OK;
		}
		pos += (uint64_t)r;
		while (n && (size_t)r >= v->iov_len) {
			r -= (ssize_t)v->iov_len;
			v++;
			n--;
		}
		if (n && r) {
			v->iov_base = (uint8_t *)v->iov_base + r;
			v->iov_len -= (size_t)r;
		}
	}
	*done = pos - start;
	return VIRTIO_BLK_S_OK;
}

/*
 * The open run as one transfer; then each member's status: OK when all its
 * data moved (and, write-through, was synced), else IOERR.
 */
static void blk_run_finish(struct blk *b)
{
	struct blk_run *run = &b->run;
	unsigned failed = 0;
	uint64_t done;
	uint8_t st;

	if (!run->nreq)
		return;
	st = blk_transfer(b, run->iov, run->nseg, run->sector * SECTOR,
			  run->write, &done);
	if (st == VIRTIO_BLK_S_OK && run->write && b->writethrough &&
	    blk_sync(b) != VIRTIO_BLK_S_OK)
		done = 0;
	b->transfers++;
	for (unsigned i = run->first; i < b->nreq; i++) {
		struct blk_req *r = &b->reqs[i];

		if (!r->in_run)
			continue;
		r->in_run = false;
		if (r->end > done || (done == 0 && st != VIRTIO_BLK_S_OK)) {
			r->st = VIRTIO_BLK_S_IOERR;
			failed++;
			continue;
		}
		r->st = VIRTIO_BLK_S_OK;
		if (r->write) {
			b->writes++;
			b->bytes_written += r->bytes;
		} else {
			b->reads++;
			b->bytes_read += r->bytes;
			r->len += (uint32_t)r->bytes;
		}
	}
	/* blk_io_error counted the failure once: the others are counted here */
	if (failed > 1)
		b->io_errors += failed - 1;
	run->nreq = 0;
	run->nseg = 0;
	run->bytes = 0;
}

/*
 * A read or write of [sector, +len) whose data is [off, off+len) of
 * iov[0, n): onto the open run when it continues it, else the run is
 * finished and a new one opens.  Its status comes with the run's.
 */
static void blk_rw(struct blk *b, struct blk_req *r, const struct iovec *iov,
		   unsigned n, size_t off, size_t len, uint64_t sector, bool write)
{
	struct blk_run *run = &b->run;
	unsigned segs = 0;
	size_t got;

	if (!blk_in_range(b, sector, len)) {
		r->st = blk_io_error(b, write ? "write beyond the end of" :
				     "read beyond the end of", EINVAL);
		return;
	}
	/* data iovecs: at most the chain's, which are at most VIRTQ_MAX_SEGS */
	for (size_t i = 0, skip = 0; i < n; i++) {
		if (skip + iov[i].iov_len > off)
			segs++;
		skip += iov[i].iov_len;
	}
	if (run->nreq && (run->write != write ||
			  run->sector + run->bytes / SECTOR != sector ||
			  run->nseg + segs > VIRTQ_MAX_SEGS ||
			  run->bytes + len > BLK_RUN_MAX_BYTES))
		blk_run_finish(b);
	if (!run->nreq) {
		run->first = (unsigned)(r - b->reqs);
		run->write = write;
		run->sector = sector;
	} else {
		b->merged++;
	}
	run->nseg += iov_slice(iov, n, off, len, run->iov + run->nseg,
			       VIRTQ_MAX_SEGS - run->nseg, &got);
	run->bytes += got;
	run->nreq++;
	r->in_run = true;
	r->write = write;
	r->bytes = got;
	r->end = run->bytes;
}

static int punch(struct blk *b, uint64_t pos, uint64_t len)
{
	return fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			 (off_t)pos, (off_t)len) < 0 ? -errno : 0;
}

static uint8_t write_zeroes(struct blk *b, uint64_t pos, uint64_t len, bool unmap)
{
	if (unmap && b->discard && punch(b, pos, len) == 0)
		return VIRTIO_BLK_S_OK;
	if (fallocate(b->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
		      (off_t)pos, (off_t)len) == 0)
		return VIRTIO_BLK_S_OK;
	while (len) {
		size_t l = len > sizeof(b->zeroes) ? sizeof(b->zeroes) : (size_t)len;
		ssize_t r = pwrite(b->fd, b->zeroes, l, (off_t)pos);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return blk_io_error(b, "writing zeroes to", r < 0 ? errno : ENOSPC);
		pos += (uint64_t)r;
		len -= (uint64_t)r;
	}
	return VIRTIO_BLK_S_OK;
}

/* DISCARD and WRITE_ZEROES: a list of {sector, num_sectors, flags} */
static uint8_t blk_ranges(struct blk *b, const struct virtq_chain *c,
			  size_t len, uint32_t type)
{
	struct virtio_blk_discard_write_zeroes r;
	size_t n = len / sizeof(r);

	if (b->conf.readonly || (type == VIRTIO_BLK_T_DISCARD && !b->discard)) {
		b->unsupported++;
		return VIRTIO_BLK_S_UNSUPP;
	}
	if (!n || len % sizeof(r) || n > BLK_DWZ_MAX_SEGS)
		return blk_io_error(b, "malformed range list for", EINVAL);
	for (size_t i = 0; i < n; i++) {
		uint64_t sector, count;
		uint32_t flags;
		uint8_t st;

		iov_to_buf(c->iov, c->nout, sizeof(struct virtio_blk_outhdr) + i * sizeof(r),
			   &r, sizeof(r));
		sector = le64toh(r.sector);
		count = le32toh(r.num_sectors);
		flags = le32toh(r.flags);
		if (count > BLK_DWZ_MAX_SECTORS || !blk_in_range(b, sector, count * SECTOR))
			return blk_io_error(b, "range beyond the end of", EINVAL);
		if (type == VIRTIO_BLK_T_DISCARD) {
			if (flags) {
				b->unsupported++;
				return VIRTIO_BLK_S_UNSUPP;
			}
			/* advisory: a hole that cannot be punched stays data */
			punch(b, sector * SECTOR, count * SECTOR);
			b->discards++;
			continue;
		}
		if (flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) {
			b->unsupported++;
			return VIRTIO_BLK_S_UNSUPP;
		}
		st = write_zeroes(b, sector * SECTOR, count * SECTOR,
				  flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
		if (st != VIRTIO_BLK_S_OK)
			return st;
		b->write_zeroes++;
	}
	if (type == VIRTIO_BLK_T_WRITE_ZEROES && b->writethrough)
		return blk_sync(b);
	return VIRTIO_BLK_S_OK;
}

/*
 * One request: header (16 bytes, device-readable), data, status byte (the
 * last writable byte).  Fills r: its status now, or later with the run it
 * joined.  -1 when the chain is no request at all (the device is failed).
 */
static int blk_request(struct blk *b, unsigned q, const struct virtq_chain *c,
		       struct blk_req *r)
{
	const struct iovec *in = c->iov + c->nout, *last;
	struct virtio_blk_outhdr hdr;
	size_t hlen = sizeof(hdr);
	size_t din, dout;
	uint64_t sector;
	uint32_t type;

	if (c->out_len < hlen || c->in_len < 1) {
		virtio_dev_fail(&b->vdev, "queue %u: chain %u: no request header "
				"or status byte (%zu readable, %zu writable bytes)",
				q, c->head, c->out_len, c->in_len);
		return -1;
	}
	iov_to_buf(c->iov, c->nout, 0, &hdr, hlen);
	type = le32toh(hdr.type);
	sector = le64toh(hdr.sector);
	din = c->in_len - 1;
	dout = c->out_len - hlen;
	b->requests++;
	/* in_len >= 1, and buffers are never empty (virtq.c skips those):
	 * the last one ends with the status byte */
	last = &in[c->nin - 1];
	r->head = c->head;
	r->in_run = false;
	r->status = (uint8_t *)last->iov_base + last->iov_len - 1;
	r->len = 1;
	r->st = VIRTIO_BLK_S_OK;
	switch (type) {
	case VIRTIO_BLK_T_IN:
		blk_rw(b, r, in, c->nin, 0, din, sector, false);
		break;
	case VIRTIO_BLK_T_OUT:
		if (b->conf.readonly) {
			r->st = VIRTIO_BLK_S_IOERR;
			b->io_errors++;
			break;
		}
		blk_rw(b, r, c->iov, c->nout, hlen, dout, sector, true);
		break;
	case VIRTIO_BLK_T_FLUSH:
		/* every write taken before it is done before the sync */
		blk_run_finish(b);
		r->st = b->conf.readonly ? VIRTIO_BLK_S_OK : blk_sync(b);
		b->flushes++;
		break;
	case VIRTIO_BLK_T_GET_ID: {
		size_t n = din < VIRTIO_BLK_SERIAL_LEN ? din : VIRTIO_BLK_SERIAL_LEN;
		char id[VIRTIO_BLK_SERIAL_LEN] = { 0 };

		memcpy(id, b->conf.serial, strnlen(b->conf.serial, sizeof(id)));
		r->len += (uint32_t)iov_from_buf(in, c->nin, 0, id, n);
		break;
	}
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		/* in order with the reads and writes around them */
		blk_run_finish(b);
		r->st = blk_ranges(b, c, dout, type);
		break;
	default:
		r->st = VIRTIO_BLK_S_UNSUPP;
		b->unsupported++;
		break;
	}
	return 0;
}

/*
 * A kick: take what the ring holds (at most one ring's worth, so that a
 * driver that keeps adding cannot hold the loop), run it with adjacent
 * reads and writes merged, then give every chain back and interrupt once.
 */
static void blk_notify(struct virtio_dev *d, unsigned q)
{
	struct blk *b = (struct blk *)d;
	struct virtq *vq = &d->vq[q];
	unsigned limit = vq->num < VIRTIO_QUEUE_SIZE ? vq->num : VIRTIO_QUEUE_SIZE;

	b->nreq = 0;
	while (b->nreq < limit && virtio_pop(d, q, &b->chain) > 0)
		if (blk_request(b, q, &b->chain, &b->reqs[b->nreq++]) < 0) {
			b->nreq--;
			break;
		}
	blk_run_finish(b);
	if (!b->nreq)
		return;
	b->batches++;
	if (b->nreq > b->batch_max)
		b->batch_max = b->nreq;
	for (unsigned i = 0; i < b->nreq; i++) {
		*b->reqs[i].status = b->reqs[i].st;
		virtq_push(vq, b->reqs[i].head, b->reqs[i].len);
	}
	b->nreq = 0;
	virtio_queue_done(d, q);
	if (!d->broken && virtq_has_work(vq))
		virtio_queue_again(d, q);
}

static int blk_features_ok(struct virtio_dev *d)
{
	struct blk *b = (struct blk *)d;

	b->writethrough = !(d->driver_features & VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));
	return 0;
}

static void blk_info(struct virtio_dev *d, json_t *o)
{
	struct blk *b = (struct blk *)d;
	bool negotiated = d->driver_features != 0;

	json_object_set_new(o, "path", json_string(b->conf.path));
	json_object_set_new(o, "readonly", json_boolean(b->conf.readonly));
	json_object_set_new(o, "serial", json_string(b->conf.serial));
	json_object_set_new(o, "capacity", json_integer((json_int_t)(b->capacity * SECTOR)));
	json_object_set_new(o, "cache", json_string(
		negotiated && b->writethrough ? "writethrough" : "writeback+flush"));
	json_object_set_new(o, "discard", json_boolean(b->discard));
	json_object_set_new(o, "requests", json_integer((json_int_t)b->requests));
	json_object_set_new(o, "reads", json_integer((json_int_t)b->reads));
	json_object_set_new(o, "writes", json_integer((json_int_t)b->writes));
	json_object_set_new(o, "flushes", json_integer((json_int_t)b->flushes));
	json_object_set_new(o, "discards", json_integer((json_int_t)b->discards));
	json_object_set_new(o, "write_zeroes", json_integer((json_int_t)b->write_zeroes));
	json_object_set_new(o, "bytes_read", json_integer((json_int_t)b->bytes_read));
	json_object_set_new(o, "bytes_written", json_integer((json_int_t)b->bytes_written));
	json_object_set_new(o, "io_errors", json_integer((json_int_t)b->io_errors));
	json_object_set_new(o, "unsupported", json_integer((json_int_t)b->unsupported));
	json_object_set_new(o, "batches", json_integer((json_int_t)b->batches));
	json_object_set_new(o, "batch_max", json_integer((json_int_t)b->batch_max));
	json_object_set_new(o, "transfers", json_integer((json_int_t)b->transfers));
	json_object_set_new(o, "merged", json_integer((json_int_t)b->merged));
}

static void blk_destroy(struct virtio_dev *d)
{
	struct blk *b = (struct blk *)d;

	if (b->fd >= 0) {
		if (!b->conf.readonly)
			fdatasync(b->fd);
		close(b->fd);
	}
	free(b);
}

static const struct virtio_ops blk_ops = {
	.type = "blk",
	.device_id = VIRTIO_ID_BLOCK,
	.features_ok = blk_features_ok,
	.queue_notify = blk_notify,
	.info = blk_info,
	.destroy = blk_destroy,
};

static int blk_open(struct blk *b, char *msg, size_t msglen)
{
	const char *path = b->conf.path;
	struct stat st;
	uint64_t bytes;

	/* the plan's descriptor (opened by the supervisor as the VM's owner,
	 * or passed by it): this device owns it now */
	b->fd = b->conf.fd;
	if (b->fd < 0) {
		snprintf(msg, msglen, "disk %s: no descriptor for it", path);
		return -EBADF;
	}
	if ((fcntl(b->fd, F_GETFL) & O_ACCMODE) == O_RDONLY && !b->conf.readonly) {
		snprintf(msg, msglen, "disk %s: opened read-only, asked read-write", path);
		return -EACCES;
	}
	/* two writers on one image corrupt it: refuse a second VM */
	if (flock(b->fd, (b->conf.readonly ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
		int r = -errno;

		snprintf(msg, msglen, "disk %s: %s", path, r == -EWOULDBLOCK
			 ? "in use by another VM" : strerror(-r));
		return r;
	}
	if (fstat(b->fd, &st) < 0) {
		snprintf(msg, msglen, "disk %s: %s", path, strerror(errno));
		return -errno;
	}
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(b->fd, BLKGETSIZE64, &bytes) < 0) {
			snprintf(msg, msglen, "disk %s: BLKGETSIZE64: %s", path,
				 strerror(errno));
			return -errno;
		}
	} else if (S_ISREG(st.st_mode)) {
		bytes = (uint64_t)st.st_size;
		/* a hole punched past the end changes nothing: it tells
		 * whether the file system can discard */
		b->discard = !b->conf.readonly &&
			     punch(b, (bytes + 4095) & ~4095ULL, 4096) == 0;
	} else {
		snprintf(msg, msglen, "disk %s: not a regular file or block device", path);
		return -EINVAL;
	}
	b->capacity = bytes / SECTOR;
	return 0;
}

int virtio_blk_create(const struct virtio_env *env, unsigned index,
		      const struct virtio_blk_conf *conf,
		      struct virtio_dev **out, char *msg, size_t msglen)
{
	struct virtio_blk_config cfg;
	uint64_t features;
	struct blk *b;
	char name[16];
	int r;

	b = calloc(1, sizeof(*b));
	if (!b) {
		snprintf(msg, msglen, "out of memory");
		return -ENOMEM;
	}
	b->fd = -1;
	b->conf = *conf;
	if (!b->conf.queues)
		b->conf.queues = 1;
	r = blk_open(b, msg, msglen);
	if (r < 0) {
		log_error("%s", msg);
		blk_destroy(&b->vdev);
		return r;
	}
	features = VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) |
		   VIRTIO_BIT(VIRTIO_BLK_F_FLUSH);
	if (b->conf.readonly)
		features |= VIRTIO_BIT(VIRTIO_BLK_F_RO);
	else
		features |= VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES);
	if (b->discard)
		features |= VIRTIO_BIT(VIRTIO_BLK_F_DISCARD);
	if (b->conf.queues > 1)
		features |= VIRTIO_BIT(VIRTIO_BLK_F_MQ);

	snprintf(name, sizeof(name), "blk%u", index);
	r = virtio_dev_init(&b->vdev, &blk_ops, name, env->slot, b->conf.queues,
			    features, env->loop, env->mem);
	if (r < 0) {
		snprintf(msg, msglen, "virtio %s: %s", name, strerror(-r));
		virtio_dev_close(&b->vdev);
		blk_destroy(&b->vdev);
		return r;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.capacity = htole64(b->capacity);
	cfg.seg_max = htole32(BLK_SEG_MAX);
	cfg.blk_size = htole32(SECTOR);
	cfg.num_queues = htole16((uint16_t)b->conf.queues);
	if (b->discard) {
		cfg.max_discard_sectors = htole32(BLK_DWZ_MAX_SECTORS);
		cfg.max_discard_seg = htole32(BLK_DWZ_MAX_SEGS);
		cfg.discard_sector_alignment = htole32(8);
	}
	if (!b->conf.readonly) {
		cfg.max_write_zeroes_sectors = htole32(BLK_DWZ_MAX_SECTORS);
		cfg.max_write_zeroes_seg = htole32(BLK_DWZ_MAX_SEGS);
		cfg.write_zeroes_may_unmap = b->discard;
	}
	memcpy(b->vdev.config, &cfg, sizeof(cfg));
	b->vdev.config_len = sizeof(cfg);
	b->writethrough = true;		/* until the driver takes FLUSH */
	log_info("virtio %s: %s, %llu sectors%s%s", name, b->conf.path,
		 (unsigned long long)b->capacity, b->conf.readonly ? ", read-only" : "",
		 b->discard ? ", discard" : "");
	*out = &b->vdev;
	return 0;
}
