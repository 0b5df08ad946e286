// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "rpc/limits.h"
#include "rpc/server.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/log.h"

#define READ_CHUNK		16384	/* bytes asked of one recv */
#define READS_PER_WAKEUP	4	/* then the loop serves the others */
#define ACCEPTS_PER_WAKEUP	64
#define ACCEPT_RETRY_S		0.25	/* out of descriptors: accept again after */
#define RATELIMIT_S		10.	/* one log line per cause per this */
#define KEEP_OUTPUT		16384	/* a drained output buffer over this is freed */
#define MAX_FD_BATCHES		4	/* descriptor-carrying sends waiting for their line */

enum client_timer {
	TIMER_NONE,
	TIMER_PARTIAL,			/* an incomplete line waits: idle_partial_s */
	TIMER_GRACE,			/* told an error: time to read it */
};

struct client {
	struct server *srv;		/* NULL once the server is closed */
	struct client *next, **pprev;	/* srv->clients, while alive */
	struct client *next_dead;	/* srv->dead, once dead */
	unsigned long id;
	int fd;
	ev_io read_watcher;
	ev_io write_watcher;
	ev_timer timer;
	enum client_timer timer_mode;
	char *in;
	size_t in_len, in_cap, in_scanned;
	bool backlog;			/* complete lines may wait in `in` */
	char *out;
	size_t out_len, out_off, out_cap;
	size_t accounted;		/* its share of srv->out_total */
	bool closing;			/* close once the output is flushed */
	bool failed;			/* told an error: takes no more output */
	bool dead;			/* socket closed; memory freed by the sweep */
	bool told;			/* on_close was called */
	unsigned refs;			/* deferred answers, the line being run */
	bool in_process;		/* answers are flushed after the line */
	pid_t pid;
	uid_t uid;
	struct server_peer_cred cred;
	/* descriptors received, each batch tagged with the input stream
	 * offset of the last byte read with it: the line holding that byte
	 * is the request they came with */
	uint64_t in_base;		/* stream offset of in[0] */
	struct fd_batch {
		uint64_t at;
		unsigned n;
		bool truncated;		/* more than SERVER_MAX_FDS came */
		int fds[SERVER_MAX_FDS];
	} batches[MAX_FD_BATCHES];
	unsigned nbatches;
	int *call_fds;			/* the request being run's */
	unsigned call_nfds;
};

static void client_flush(struct client *c);
static void client_update_reading(struct client *c);
static void accept_resume(struct server *srv);

static const struct armvmd_limits *lim(const struct server *srv)
{
	return srv->limits ? srv->limits : limits_defaults();
}

static size_t pending(const struct client *c)
{
	return c->out_len - c->out_off;
}

/* true when a line may be logged now; *skipped: how many were not since */
static bool ratelimit_ok(struct server *srv, struct server_ratelimit *rl,
			 unsigned *skipped)
{
	ev_tstamp now = ev_now(srv->loop);

	if (rl->last && now - rl->last < RATELIMIT_S) {
		rl->suppressed++;
		return false;
	}
	rl->last = now;
	*skipped = rl->suppressed;
	rl->suppressed = 0;
	return true;
}

/* --- freeing only where nobody walks: the sweep --- */

static void client_destroy(struct client *c)
{
	free(c->in);
	free(c->out);
	free(c);
}

/*
 * Tell on_close of every client that died since the last sweep, then free
 * those no deferred answer holds.  on_close may end other clients: they
 * join the list at its head and are told in the same sweep.
 */
static void sweep_now(struct server *srv)
{
	struct client **pp, *c;
	bool again = true;

	while (again) {
		again = false;
		for (c = srv->dead; c; c = c->next_dead) {
			if (c->told)
				continue;
			c->told = true;
			if (srv->on_close)
				srv->on_close(srv, c);
			again = true;
			break;
		}
	}
	for (pp = &srv->dead; (c = *pp);) {
		if (!c->refs) {
			*pp = c->next_dead;
			client_destroy(c);
		} else {
			pp = &c->next_dead;
		}
	}
}

/* runs before the loop next waits: no callback of ours is on the stack */
static void sweep_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct server *srv = w->data;
	struct client *c, *next;

	ev_prepare_stop(loop, w);
	sweep_now(srv);
	if (srv->resume_readers) {
		srv->resume_readers = false;
		for (c = srv->clients; c; c = next) {
			next = c->next;
			client_update_reading(c);
		}
	}
}

static void sweep_soon(struct server *srv)
{
	ev_prepare_start(srv->loop, &srv->sweep);
}

static void accept_retry_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	accept_resume(t->data);
}

static void server_ready(struct server *srv)
{
	if (srv->ready)
		return;
	ev_prepare_init(&srv->sweep, sweep_cb);
	srv->sweep.data = srv;
	ev_timer_init(&srv->accept_retry, accept_retry_cb, ACCEPT_RETRY_S, 0.);
	srv->accept_retry.data = srv;
	srv->ready = true;
}

/* keep srv->out_total right after any change of c's output */
static void client_account(struct client *c)
{
	struct server *srv = c->srv;
	size_t now = c->dead ? 0 : pending(c);

	srv->out_total = srv->out_total - c->accounted + now;
	c->accounted = now;
	if (srv->out_total > lim(srv)->max_buffered_total) {
		srv->over_total = true;
	} else if (srv->over_total) {
		/* the readers paused for the total may go on */
		srv->over_total = false;
		srv->resume_readers = true;
		sweep_soon(srv);
	}
}

static void close_fds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
}

/* descriptors nobody will run a request with */
static void drop_batches(struct client *c, unsigned upto)
{
	for (unsigned i = 0; i < upto && i < c->nbatches; i++)
		close_fds(c->batches[i].fds, c->batches[i].n);
	if (upto >= c->nbatches) {
		c->nbatches = 0;
		return;
	}
	memmove(c->batches, c->batches + upto, (c->nbatches - upto) * sizeof(c->batches[0]));
	c->nbatches -= upto;
}

/*
 * The client is gone: its socket is closed and nothing more is sent or
 * read, but the memory stays until the sweep (the caller, or a walk above
 * it, may still hold c).
 */
static void client_kill(struct client *c)
{
	struct server *srv = c->srv;

	if (c->dead)
		return;
	c->dead = true;
	ev_io_stop(srv->loop, &c->read_watcher);
	ev_io_stop(srv->loop, &c->write_watcher);
	ev_timer_stop(srv->loop, &c->timer);
	close(c->fd);
	c->fd = -1;
	*c->pprev = c->next;
	if (c->next)
		c->next->pprev = c->pprev;
	srv->nclients--;
	/* the buffers too are freed by the sweep: a line being run may
	 * still point into the input */
	c->in_len = c->in_scanned = 0;
	drop_batches(c, MAX_FD_BATCHES);
	c->out_len = c->out_off = 0;
	c->backlog = false;
	client_account(c);
	c->next_dead = srv->dead;
	srv->dead = c;
	sweep_soon(srv);
	log_debug("client %lu gone", c->id);
	/* a descriptor is free again */
	if (srv->accept_paused)
		accept_resume(srv);
}

static void client_ref(void *conn)
{
	((struct client *)conn)->refs++;
}

static void client_unref(void *conn)
{
	struct client *c = conn;

	if (--c->refs)
		return;
	if (!c->srv)
		client_destroy(c);	/* outlived its server: told, unlinked */
	else if (c->dead)
		sweep_soon(c->srv);
	else if (c->closing && !c->in_process)
		client_flush(c);	/* the last answer is out: now it may go */
}

static const struct armvmd_limits *client_limits(void *conn)
{
	struct client *c = conn;

	return c->srv ? lim(c->srv) : NULL;
}

/* --- output --- */

/* Queue text and a newline, whatever the caps (the caller checked). */
static int client_append(struct client *c, const char *text, size_t len)
{
	/* what was sent is dropped before the buffer grows */
	if (c->out_off && c->out_len + len + 1 > c->out_cap) {
		memmove(c->out, c->out + c->out_off, pending(c));
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (buf_reserve(&c->out, &c->out_cap, c->out_len + len + 1) < 0)
		return -ENOMEM;
	memcpy(c->out + c->out_len, text, len);
	c->out[c->out_len + len] = '\n';
	c->out_len += len + 1;
	client_account(c);
	return 0;
}

/* Drop the output not begun yet; a line partly sent is finished first. */
static void client_drop_output(struct client *c)
{
	size_t keep = c->out_off;

	if (keep && keep < c->out_len && c->out[keep - 1] != '\n') {
		char *nl = memchr(c->out + keep, '\n', c->out_len - keep);

		keep = nl ? (size_t)(nl - c->out) + 1 : c->out_len;
	}
	c->out_len = keep;
	client_account(c);
}

static void client_arm_timer(struct client *c, enum client_timer mode)
{
	struct ev_loop *loop = c->srv->loop;

	ev_timer_stop(loop, &c->timer);
	c->timer_mode = mode;
	if (mode == TIMER_NONE)
		return;
	ev_timer_set(&c->timer, lim(c->srv)->idle_partial_s, 0.);
	ev_timer_start(loop, &c->timer);
}

/*
 * Tell the client why it is being closed (a response with id null: data
 * stolen), read nothing more from it, and close it once that is read or
 * idle_partial_s has passed.  drop: the output it did not read goes first.
 */
static void client_fail(struct client *c, int code, const char *message,
			json_t *data, bool drop)
{
	json_t *e;
	char *text;

	if (c->dead || c->failed) {
		json_decref(data);
		return;
	}
	c->failed = true;
	c->closing = true;
	c->backlog = false;
	if (drop)
		client_drop_output(c);
	e = rpc_error_response(NULL, code, message, data);
	text = e ? json_dumps(e, JSON_COMPACT) : NULL;
	json_decref(e);
	if (text && client_append(c, text, strlen(text)) < 0) {
		free(text);
		client_kill(c);
		return;
	}
	free(text);
	ev_io_stop(c->srv->loop, &c->read_watcher);
	client_arm_timer(c, TIMER_GRACE);
	if (!c->in_process)
		client_flush(c);
}

/* Try to write what is pending; the write watcher runs only meanwhile. */
static void client_flush(struct client *c)
{
	struct ev_loop *loop;

	if (c->dead)
		return;
	loop = c->srv->loop;
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off,
				 c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			log_debug("client %lu: send: %s", c->id, strerror(errno));
			client_kill(c);
			return;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_len) {
		c->out_off = c->out_len = 0;
		if (c->out_cap > KEEP_OUTPUT) {
			free(c->out);
			c->out = NULL;
			c->out_cap = 0;
		}
		ev_io_stop(loop, &c->write_watcher);
		client_account(c);
		/* a client that stopped sending still gets its deferred
		 * answers; one told an error gets no more */
		if (c->closing && (!c->refs || c->failed)) {
			client_kill(c);
			return;
		}
	} else {
		ev_io_start(loop, &c->write_watcher);
		client_account(c);
	}
	client_update_reading(c);
}

/* Queue one JSON text and its newline.  -1 if c takes no more output. */
static int client_send(struct client *c, json_t *msg)
{
	const struct armvmd_limits *l;
	char *text;
	size_t len;

	if (c->dead || c->failed)
		return -1;
	l = lim(c->srv);
	text = json_dumps(msg, JSON_COMPACT);
	if (!text) {
		log_error("client %lu: cannot encode a response", c->id);
		return 0;
	}
	len = strlen(text);
	if (pending(c) + len + 1 > l->max_buffered) {
		free(text);
		log_warn("client %lu (pid %d, uid %d) reads nothing: over %llu bytes "
			 "wait for it; closing it", c->id, (int)c->pid, (int)c->uid,
			 (unsigned long long)l->max_buffered);
		client_fail(c, ARMVM_E_LIMIT,
			    "Too much output waiting to be read: closing the connection",
			    json_pack("{s:s, s:I}", "limit", "max-buffered",
				      "max", (json_int_t)l->max_buffered), true);
		return -1;
	}
	if (client_append(c, text, len) < 0) {
		free(text);
		client_kill(c);
		return -1;
	}
	free(text);
	return 0;
}

int server_send(void *conn, json_t *msg)
{
	struct client *c = conn;

	if (client_send(c, msg) < 0)
		return -1;
	if (!c->in_process)
		client_flush(c);
	return c->dead ? -1 : 0;
}

void server_peer(const void *conn, pid_t *pid, uid_t *uid)
{
	const struct client *c = conn;

	*pid = c ? c->pid : -1;
	*uid = c ? c->uid : (uid_t)-1;
}

const struct server_peer_cred *server_peer_cred(const void *conn)
{
	return conn ? &((const struct client *)conn)->cred : NULL;
}

bool server_peer_in_group(const struct server_peer_cred *p, gid_t gid)
{
	if (!p || !p->known)
		return false;
	if (p->gid == gid)
		return true;
	for (unsigned i = 0; i < p->ngroups; i++)
		if (p->groups[i] == gid)
			return true;
	return false;
}

int *server_call_fds(void *conn, unsigned *n)
{
	struct client *c = conn;

	*n = c && c->call_fds ? c->call_nfds : 0;
	return *n ? c->call_fds : NULL;
}

static void peer_read(int fd, struct server_peer_cred *p)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	memset(p, 0, sizeof(*p));
	p->pid = -1;
	p->uid = (uid_t)-1;
	p->gid = (gid_t)-1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return;
	p->pid = cred.pid;
	p->uid = cred.uid;
	p->gid = cred.gid;
	p->known = true;
	len = sizeof(p->groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, p->groups, &len) == 0) {
		p->ngroups = len / sizeof(gid_t);
	} else if (errno == ERANGE) {
		/* more than we keep: the first SERVER_PEER_GROUPS of them */
		gid_t *all = malloc(len);

		if (all && getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, all, &len) == 0) {
			memcpy(p->groups, all, sizeof(p->groups));
			p->ngroups = SERVER_PEER_GROUPS;
		}
		free(all);
	}
}

/* answers from the codec, now or when a deferred call completes */
static void client_send_answer(void *conn, json_t *msg)
{
	struct client *c = conn;

	if (client_send(c, msg) == 0 && !c->in_process)
		client_flush(c);
}

static const struct rpc_conn_ops client_ops = {
	.send = client_send_answer,
	.ref = client_ref,
	.unref = client_unref,
	.limits = client_limits,
};

/* --- input --- */

/* May the client's next request run (and its socket be read)? */
static bool client_may_work(const struct client *c)
{
	const struct armvmd_limits *l = lim(c->srv);
	size_t p = pending(c);

	if (c->dead || c->closing || p > l->pause_output)
		return false;
	/* past the total, only clients that read all their answers go on */
	return !p || c->srv->out_total <= l->max_buffered_total;
}

/* back-pressure: a client that does not read its answers is not read */
static void client_update_reading(struct client *c)
{
	struct ev_loop *loop;

	if (c->dead)
		return;
	loop = c->srv->loop;
	if (client_may_work(c)) {
		ev_io_start(loop, &c->read_watcher);
		/* lines read before the pause run without new input */
		if (c->backlog)
			ev_feed_event(loop, &c->read_watcher, EV_CUSTOM);
	} else {
		ev_io_stop(loop, &c->read_watcher);
	}
}

static void client_too_large(struct client *c)
{
	json_int_t max = (json_int_t)lim(c->srv)->max_line;

	log_warn("client %lu (pid %d, uid %d): request line over %lld bytes, closing",
		 c->id, (int)c->pid, (int)c->uid, (long long)max);
	client_fail(c, ARMVM_E_TOO_LARGE, "Request too large",
		    json_pack("{s:s, s:I, s:I}", "limit", "max-line", "max", max,
			      "max_bytes", max), false);
}

/*
 * The descriptors of the line at stream offsets lo..hi into fds (NULL:
 * closed): those that came with an earlier line nobody ran are closed.
 * Returns how many, or -1 when more than SERVER_MAX_FDS came.
 */
static int line_fds(struct client *c, uint64_t lo, uint64_t hi, int *fds)
{
	unsigned taken = 0, n = 0;
	bool over = false;

	while (taken < c->nbatches && c->batches[taken].at <= hi) {
		struct fd_batch *b = &c->batches[taken++];

		if (b->at < lo || !fds) {
			if (b->at < lo)
				log_debug("client %lu: %u descriptors without a request, closed",
					  c->id, b->n);
			continue;
		}
		over |= b->truncated || n + b->n > SERVER_MAX_FDS;
		for (unsigned i = 0; i < b->n; i++) {
			if (!over && n < SERVER_MAX_FDS) {
				fds[n++] = b->fds[i];
				b->fds[i] = -1;
			}
		}
	}
	drop_batches(c, taken);
	if (over) {
		close_fds(fds, n);
		return -1;
	}
	return (int)n;
}

/* One request line, with the descriptors that came with it. */
static void run_line(struct client *c, const char *line, size_t len, uint64_t lo,
		     uint64_t hi)
{
	int fds[SERVER_MAX_FDS];
	int n = line_fds(c, lo, hi, fds);

	if (n < 0) {
		json_t *req = json_loadb(line, len, 0, NULL);
		json_t *id = json_object_get(req, "id");
		json_t *e = rpc_error_response(id, ARMVM_E_LIMIT, "Too many descriptors",
					       json_pack("{s:s, s:i}", "limit", "max-fds",
							 "max", SERVER_MAX_FDS));

		log_warn("client %lu (pid %d, uid %d): more than %d descriptors with "
			 "one request, refused", c->id, (int)c->pid, (int)c->uid,
			 SERVER_MAX_FDS);
		if (id)
			client_send(c, e);
		json_decref(e);
		json_decref(req);
		return;
	}
	c->call_fds = n ? fds : NULL;
	c->call_nfds = (unsigned)n;
	rpc_handle_line(c->srv->table, c->srv->ctx, c, &client_ops, line, len);
	c->call_fds = NULL;
	c->call_nfds = 0;
	close_fds(fds, (unsigned)n);
}

/*
 * Run the complete lines of the input while the client may take more
 * work; the rest waits (backlog) until it reads its answers.  -1 if c died.
 */
static int client_process(struct client *c)
{
	const struct armvmd_limits *l = lim(c->srv);
	size_t start = 0;

	c->backlog = false;
	c->in_process = true;
	client_ref(c);
	while (!c->closing) {
		char *nl;
		size_t end, len;

		if (!client_may_work(c)) {
			c->backlog = c->in_len > start;
			break;
		}
		nl = memchr(c->in + c->in_scanned, '\n', c->in_len - c->in_scanned);
		if (!nl) {
			c->in_scanned = c->in_len;
			break;
		}
		end = (size_t)(nl - c->in);
		len = end - start;
		if (len > l->max_line) {
			client_too_large(c);
			break;
		}
		/* blank lines (and a lone \r) are keep-alives, not requests */
		if (len && !(len == 1 && c->in[start] == '\r'))
			run_line(c, c->in + start, len, c->in_base + start, c->in_base + end);
		else
			line_fds(c, c->in_base + start, c->in_base + end, NULL);
		start = end + 1;
		c->in_scanned = start;
	}
	c->in_process = false;
	if (c->dead || c->failed) {
		c->in_len = c->in_scanned = 0;
		drop_batches(c, MAX_FD_BATCHES);
	} else if (start) {
		memmove(c->in, c->in + start, c->in_len - start);
		c->in_len -= start;
		c->in_scanned -= start;
		c->in_base += start;
	}
	if (!c->closing && !c->backlog && c->in_len > l->max_line)
		client_too_large(c);
	/* an incomplete line may wait idle_partial_s, from its first byte */
	if (!c->dead && !c->failed) {
		if (c->in_len && !c->backlog) {
			if (start || c->timer_mode != TIMER_PARTIAL)
				client_arm_timer(c, TIMER_PARTIAL);
		} else if (c->timer_mode == TIMER_PARTIAL) {
			client_arm_timer(c, TIMER_NONE);
		}
	}
	client_unref(c);
	return c->dead ? -1 : 0;
}

/*
 * One read of up to READ_CHUNK bytes and the descriptors that came with
 * them (Linux hands over one send's descriptors per read, with its last
 * bytes read here).  Too many waiting batches end the client.
 */
static ssize_t client_recv(struct client *c)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * (SERVER_MAX_FDS + 1))];
	} ctl;
	struct iovec iov = { .iov_base = c->in + c->in_len, .iov_len = READ_CHUNK };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	struct fd_batch b = { .n = 0 };
	ssize_t n = recvmsg(c->fd, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);

	if (n < 0)
		return n;
	b.truncated = (m.msg_flags & MSG_CTRUNC) != 0;
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
		const unsigned char *p;
		unsigned k;

		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		k = (unsigned)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		p = CMSG_DATA(h);
		for (unsigned i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, p + i * sizeof(int), sizeof(fd));
			if (b.n < SERVER_MAX_FDS) {
				b.fds[b.n++] = fd;
			} else {
				b.truncated = true;
				close(fd);
			}
		}
	}
	if (!b.n && !b.truncated)
		return n;
	if (c->nbatches == MAX_FD_BATCHES) {
		close_fds(b.fds, b.n);
		log_warn("client %lu (pid %d, uid %d): descriptors for more than %d "
			 "requests at once, closing", c->id, (int)c->pid, (int)c->uid,
			 MAX_FD_BATCHES);
		client_fail(c, ARMVM_E_LIMIT, "Too many descriptors waiting",
			    json_pack("{s:s, s:i}", "limit", "max-fd-batches", "max",
				      MAX_FD_BATCHES), false);
		errno = EAGAIN;		/* no more reading; the error goes out */
		return -1;
	}
	/* a send of descriptors with no byte is not possible on a stream */
	b.at = c->in_base + c->in_len + (uint64_t)(n ? n - 1 : 0);
	c->batches[c->nbatches++] = b;
	return n;
}

static void client_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client *c = w->data;

	if (c->dead)
		return;
	if (c->backlog && client_process(c) < 0)
		return;
	for (int i = 0; i < READS_PER_WAKEUP && !c->backlog && client_may_work(c); i++) {
		ssize_t n;

		if (buf_reserve(&c->in, &c->in_cap, c->in_len + READ_CHUNK) < 0) {
			client_kill(c);
			return;
		}
		n = client_recv(c);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			client_kill(c);
			return;
		}
		if (n == 0) {
			/* a half-written request dies with its client; answers
			 * to complete ones still go out (the peer may only
			 * have shut down its writing side) */
			if (c->in_len)
				log_debug("client %lu left mid-request (%zu bytes)",
					  c->id, c->in_len);
			c->in_len = c->in_scanned = 0;
			drop_batches(c, MAX_FD_BATCHES);
			c->closing = true;
			client_arm_timer(c, TIMER_NONE);
			ev_io_stop(loop, &c->read_watcher);
			break;
		}
		c->in_len += (size_t)n;
		if (client_process(c) < 0)
			return;
	}
	/* an idle client holds no input buffer */
	if (!c->in_len && !c->dead) {
		free(c->in);
		c->in = NULL;
		c->in_cap = 0;
	}
	client_flush(c);
}

static void client_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	client_flush(w->data);
}

static void client_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct client *c = t->data;
	double max = lim(c->srv)->idle_partial_s;

	if (c->timer_mode == TIMER_GRACE) {
		log_debug("client %lu did not read its error in %g s", c->id, max);
		client_kill(c);
		return;
	}
	c->timer_mode = TIMER_NONE;
	log_warn("client %lu (pid %d, uid %d): a request line incomplete for %g s, "
		 "closing", c->id, (int)c->pid, (int)c->uid, max);
	client_fail(c, ARMVM_E_LIMIT, "Request line incomplete for too long",
		    json_pack("{s:s, s:f}", "limit", "idle-partial", "max", max),
		    false);
}

/* --- connections --- */

bool server_output_pending(const struct server *srv)
{
	for (const struct client *c = srv->clients; c; c = c->next)
		if (!c->dead && !c->failed && c->out_off < c->out_len)
			return true;
	return false;
}

static unsigned clients_of(const struct server *srv, uid_t uid)
{
	unsigned n = 0;

	for (const struct client *c = srv->clients; c; c = c->next)
		n += c->uid == uid;
	return n;
}

/* Past a cap: one error line, then the close. */
static void refuse(struct server *srv, int fd, const char *limit, unsigned max,
		   pid_t pid, uid_t uid)
{
	char msg[96], line[512];
	unsigned skipped = 0;
	json_t *e;
	char *text;
	int n;

	if (strcmp(limit, "max-clients"))
		snprintf(msg, sizeof(msg), "Too many connections of uid %d", (int)uid);
	else
		snprintf(msg, sizeof(msg), "Too many connections");
	e = rpc_error_response(NULL, ARMVM_E_LIMIT, msg,
			       json_pack("{s:s, s:i}", "limit", limit, "max", (int)max));
	text = e ? json_dumps(e, JSON_COMPACT) : NULL;
	json_decref(e);
	n = snprintf(line, sizeof(line), "%s\n", text ? text : "");
	free(text);
	if (n > 1 && (size_t)n < sizeof(line) &&
	    send(fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_debug("refused client: send: %s", strerror(errno));
	shutdown(fd, SHUT_WR);
	close(fd);
	if (ratelimit_ok(srv, &srv->rl_refuse, &skipped))
		log_warn("refusing a connection (pid %d, uid %d): %s %u reached "
			 "(%u refused since the last message)", (int)pid, (int)uid,
			 limit, max, skipped);
}

int server_add_client(struct server *srv, int fd)
{
	const struct armvmd_limits *l = lim(srv);
	struct server_peer_cred cred;
	pid_t pid;
	uid_t uid;
	struct client *c;

	server_ready(srv);
	peer_read(fd, &cred);
	pid = cred.pid;
	uid = cred.uid;
	if (srv->nclients >= l->max_clients) {
		refuse(srv, fd, "max-clients", l->max_clients, pid, uid);
		return -EMFILE;
	}
	if (clients_of(srv, uid) >= l->max_clients_per_uid) {
		refuse(srv, fd, "max-clients-per-uid", l->max_clients_per_uid, pid, uid);
		return -EMFILE;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->srv = srv;
	c->fd = fd;
	c->id = ++srv->next_client_id;
	c->pid = pid;
	c->uid = uid;
	c->cred = cred;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	ev_io_init(&c->read_watcher, client_read_cb, fd, EV_READ);
	ev_io_init(&c->write_watcher, client_write_cb, fd, EV_WRITE);
	ev_timer_init(&c->timer, client_timer_cb, 0., 0.);
	c->read_watcher.data = c;
	c->write_watcher.data = c;
	c->timer.data = c;
	c->next = srv->clients;
	if (c->next)
		c->next->pprev = &c->next;
	c->pprev = &srv->clients;
	srv->clients = c;
	srv->nclients++;
	ev_io_start(srv->loop, &c->read_watcher);
	log_debug("client %lu connected (pid %d, uid %d)", c->id, (int)c->pid,
		  (int)c->uid);
	return 0;
}

static void accept_resume(struct server *srv)
{
	srv->accept_paused = false;
	ev_timer_stop(srv->loop, &srv->accept_retry);
	if (srv->listen_fd >= 0)
		ev_io_start(srv->loop, &srv->accept_watcher);
}

/* Out of descriptors (or accept broken): wait rather than spin. */
static void accept_pause(struct server *srv, int err)
{
	unsigned skipped = 0;

	ev_io_stop(srv->loop, &srv->accept_watcher);
	srv->accept_paused = true;
	ev_timer_stop(srv->loop, &srv->accept_retry);
	ev_timer_set(&srv->accept_retry, ACCEPT_RETRY_S, 0.);
	ev_timer_start(srv->loop, &srv->accept_retry);
	if (ratelimit_ok(srv, &srv->rl_accept, &skipped))
		log_warn("accept: %s (%u clients): new connections wait; retrying "
			 "every %g s or when a client leaves (%u times since the "
			 "last message)", strerror(err), srv->nclients,
			 ACCEPT_RETRY_S, skipped);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct server *srv = w->data;

	for (int i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
		int fd = accept4(srv->listen_fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				accept_pause(srv, errno);
			return;
		}
		server_add_client(srv, fd);
	}
}

int server_adopt(struct server *srv, struct ev_loop *loop, int fd,
		 const struct rpc_table *table, void *ctx)
{
	srv->loop = loop;
	srv->table = table;
	srv->ctx = ctx;
	srv->listen_fd = fd;
	server_ready(srv);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	ev_io_init(&srv->accept_watcher, accept_cb, fd, EV_READ);
	srv->accept_watcher.data = srv;
	ev_io_start(loop, &srv->accept_watcher);
	return 0;
}

/* the directory the socket goes into */
static int mkdir_parents(const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	return mkdir_p(dir, 0755);
}

/* Is someone accepting on path?  1 yes, 0 no (stale), <0 error. */
static int socket_is_live(const struct sockaddr_un *addr)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int r;

	if (fd < 0)
		return -errno;
	r = connect(fd, (const struct sockaddr *)addr, sizeof(*addr));
	r = r == 0 ? 1 : (errno == ECONNREFUSED || errno == ENOENT) ? 0 : -errno;
	close(fd);
	return r;
}

int server_listen(struct server *srv, struct ev_loop *loop, const char *path,
		  mode_t mode, const struct rpc_table *table, void *ctx)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	r = mkdir_parents(path);
	if (r < 0)
		return log_errno(r, "creating the directory of %s", path);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return log_errno(-errno, "socket");
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		r = -errno;
		if (r == -EADDRINUSE) {
			r = socket_is_live(&addr);
			if (r > 0) {
				close(fd);
				log_error("%s: another armvmd is serving there", path);
				return -EADDRINUSE;
			}
			log_info("%s: removing a stale socket", path);
			unlink(path);
			r = bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ? -errno : 0;
		}
		if (r < 0) {
			close(fd);
			return log_errno(r, "bind %s", path);
		}
	}
	/* the socket we just made, not whatever a symlink there names */
	r = fs_share_at(AT_FDCWD, path, (gid_t)-1, mode);
	if (r < 0)
		log_warn("mode of %s: %s", path, strerror(-r));
	if (listen(fd, 128) < 0) {
		r = -errno;
		unlink(path);
		close(fd);
		return log_errno(r, "listen %s", path);
	}
	if (stat(path, &st) == 0) {
		srv->dev = st.st_dev;
		srv->ino = st.st_ino;
	}
	snprintf(srv->path, sizeof(srv->path), "%s", path);
	return server_adopt(srv, loop, fd, table, ctx);
}

int server_set_group(struct server *srv, const char *group, const gid_t *gid)
{
	int r;

	if (!srv->path[0])
		return 0;
	if (!gid) {
		log_warn("group '%s' does not exist: %s stays root-only (0600)",
			 group, srv->path);
		fs_share_at(AT_FDCWD, srv->path, (gid_t)-1, 0600);
		return -ENOENT;
	}
	r = share_with_group(srv->path, *gid, 0660);
	return r < 0 ? log_errno(r, "giving %s to group '%s'", srv->path, group) : 0;
}

void server_close(struct server *srv)
{
	struct stat st;

	while (srv->clients)
		client_kill(srv->clients);
	if (srv->listen_fd >= 0 && srv->loop) {
		ev_io_stop(srv->loop, &srv->accept_watcher);
		close(srv->listen_fd);
	}
	srv->listen_fd = -1;
	if (srv->ready) {
		ev_timer_stop(srv->loop, &srv->accept_retry);
		srv->accept_paused = false;
		sweep_now(srv);
		ev_prepare_stop(srv->loop, &srv->sweep);
		/* held by deferred calls still to answer: freed when they are */
		for (struct client *c = srv->dead; c; c = c->next_dead)
			c->srv = NULL;
		srv->dead = NULL;
	}
	/* a newer daemon may have taken the path over: leave its socket be;
	 * an activated socket belongs to systemd */
	if (srv->path[0] && !srv->socket_activated && stat(srv->path, &st) == 0 &&
	    st.st_dev == srv->dev && st.st_ino == srv->ino)
		unlink(srv->path);
	srv->path[0] = '\0';
}
