// SPDX-License-Identifier: MIT
/* A persistent, non-blocking JSON-RPC client link (see link.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "libarmvm.h"
#include "rpc/link.h"
#include "util/buf.h"

struct pending {
	struct pending *next;
	struct rpc_link *link;
	unsigned long id;
	char method[48];
	double timeout;
	ev_timer timer;
	rpc_link_reply_fn fn;
	void *arg;
};

struct rpc_link {
	struct ev_loop *loop;
	const struct rpc_link_ops *ops;
	void *ctx;
	int fd;
	ev_io rio, wio;
	char *in;
	size_t in_len, in_cap;
	char *out;
	size_t out_len, out_off, out_cap;
	struct pending *pending;
	size_t npending;
	unsigned long next_id;
	unsigned busy;			/* inside one of our callbacks */
	bool freeing;			/* rpc_link_free asked while busy */
	/* descriptors to go with the request line starting at out[at] */
	struct link_fds {
		struct link_fds *next;
		size_t at;
		unsigned n;
		int fds[RPC_LINK_MAX_FDS];
	} *fds_head, *fds_tail;
};

static void drop_fds(struct rpc_link *l)
{
	while (l->fds_head) {
		struct link_fds *f = l->fds_head;

		l->fds_head = f->next;
		for (unsigned i = 0; i < f->n; i++)
			close(f->fds[i]);
		free(f);
	}
	l->fds_tail = NULL;
}

static void link_shut(struct rpc_link *l, int err);

static struct pending *take_pending(struct rpc_link *l, unsigned long id)
{
	for (struct pending **pp = &l->pending; *pp; pp = &(*pp)->next) {
		struct pending *p = *pp;

		if (p->id == id) {
			*pp = p->next;
			l->npending--;
			ev_timer_stop(l->loop, &p->timer);
			return p;
		}
	}
	return NULL;
}

static void complete(struct pending *p, json_t *result,
		     const struct rpc_link_error *err)
{
	if (p->fn)
		p->fn(p->arg, result, err);
	free(p);
}

static void link_finish_free(struct rpc_link *l)
{
	/* a callback below that frees the link again finds it busy */
	l->busy = 1;
	l->freeing = true;
	link_shut(l, 0);
	drop_fds(l);
	while (l->pending) {
		struct pending *p = l->pending;
		struct rpc_link_error e = {
			.code = ARMVM_E_INTERNAL, .closed = true,
			.message = "the worker link closed before an answer",
		};

		l->pending = p->next;
		l->npending--;
		ev_timer_stop(l->loop, &p->timer);
		complete(p, NULL, &e);
	}
	free(l->in);
	free(l->out);
	free(l);
}

static void enter(struct rpc_link *l)
{
	l->busy++;
}

/* Leave a callback section; false if the link is gone now. */
static bool leave(struct rpc_link *l)
{
	if (--l->busy || !l->freeing)
		return true;
	link_finish_free(l);
	return false;
}

static void fail_all(struct rpc_link *l, const char *why)
{
	while (l->pending && !l->freeing) {
		struct pending *p = l->pending;
		struct rpc_link_error e = {
			.code = ARMVM_E_INTERNAL, .closed = true, .message = why,
		};

		l->pending = p->next;
		l->npending--;
		ev_timer_stop(l->loop, &p->timer);
		complete(p, NULL, &e);
	}
}

/* The connection is over: stop watching, close, tell. */
static void link_shut(struct rpc_link *l, int err)
{
	if (l->fd < 0)
		return;
	ev_io_stop(l->loop, &l->rio);
	ev_io_stop(l->loop, &l->wio);
	close(l->fd);
	l->fd = -1;
	l->out_len = l->out_off = 0;
	drop_fds(l);
	if (l->freeing)
		return;
	if (l->ops && l->ops->closed)
		l->ops->closed(l->ctx, err);
	fail_all(l, "the worker closed its link");
}

static void timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct pending *p = t->data;
	struct rpc_link *l = p->link;
	char msg[160];
	struct rpc_link_error e = { .code = ARMVM_E_TIMEOUT, .timed_out = true };

	if (!take_pending(l, p->id))
		return;
	snprintf(msg, sizeof(msg), "%s got no answer within %g s", p->method, p->timeout);
	e.message = msg;
	enter(l);
	if (l->ops && l->ops->timeout)
		l->ops->timeout(l->ctx, p->method, p->timeout);
	complete(p, NULL, &e);
	leave(l);
}

static void dispatch(struct rpc_link *l, const char *line, size_t len)
{
	json_t *msg = json_loadb(line, len, 0, NULL);
	json_t *id, *method;

	if (!json_is_object(msg)) {
		json_decref(msg);
		return;		/* not ours to understand: ignored */
	}
	method = json_object_get(msg, "method");
	id = json_object_get(msg, "id");
	if (json_is_string(method)) {
		if (l->ops && l->ops->notify)
			l->ops->notify(l->ctx, json_string_value(method),
				       json_object_get(msg, "params"));
	} else if (json_is_integer(id) && json_integer_value(id) > 0) {
		struct pending *p = take_pending(l, (unsigned long)json_integer_value(id));
		json_t *err = json_object_get(msg, "error");

		if (p) {
			if (l->ops && l->ops->answered)
				l->ops->answered(l->ctx);
			if (json_is_object(err)) {
				struct rpc_link_error e = {
					.code = (int)json_integer_value(json_object_get(err, "code")),
					.message = json_string_value(json_object_get(err, "message")),
					.data = json_object_get(err, "data"),
				};

				if (!e.code)
					e.code = ARMVM_E_INTERNAL;
				if (!e.message)
					e.message = "the worker answered with an error";
				complete(p, NULL, &e);
			} else {
				complete(p, json_object_get(msg, "result"), NULL);
			}
		}
		/* an answer to nobody (after its deadline): dropped */
	}
	json_decref(msg);
}

/* Answer every complete line; -1 when the link shut itself. */
static int process(struct rpc_link *l)
{
	size_t start = 0;

	for (;;) {
		char *nl = memchr(l->in + start, '\n', l->in_len - start);

		if (!nl)
			break;
		dispatch(l, l->in + start, (size_t)(nl - (l->in + start)));
		start = (size_t)(nl - l->in) + 1;
		if (l->freeing || l->fd < 0)
			return -1;
	}
	memmove(l->in, l->in + start, l->in_len - start);
	l->in_len -= start;
	if (l->in_len > RPC_LINK_MAX_LINE) {
		link_shut(l, -EMSGSIZE);
		return -1;
	}
	return 0;
}

int rpc_link_feed(struct rpc_link *l, const char *buf, size_t len)
{
	int r;

	if (l->freeing)
		return -1;
	if (buf_reserve(&l->in, &l->in_cap, l->in_len + len + 1) < 0) {
		enter(l);
		link_shut(l, -ENOMEM);
		leave(l);
		return -1;
	}
	memcpy(l->in + l->in_len, buf, len);
	l->in_len += len;
	enter(l);
	r = process(l);
	return leave(l) ? r : -1;
}

/* up to rounds reads of 64 KiB, each processed, until EAGAIN or the end */
static void read_some(struct rpc_link *l, int rounds)
{
	enter(l);
	for (int i = 0; i < rounds && l->fd >= 0 && !l->freeing; i++) {
		ssize_t n;

		if (buf_reserve(&l->in, &l->in_cap, l->in_len + 65536) < 0) {
			link_shut(l, -ENOMEM);
			break;
		}
		n = recv(l->fd, l->in + l->in_len, l->in_cap - l->in_len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				link_shut(l, -errno);
			break;
		}
		if (n == 0) {
			link_shut(l, 0);
			break;
		}
		l->in_len += (size_t)n;
		if (process(l) < 0)
			break;
	}
	leave(l);
}

static void read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	read_some(w->data, 16);
}

void rpc_link_drain(struct rpc_link *l)
{
	if (l && l->fd >= 0 && !l->freeing)
		read_some(l, (int)(RPC_LINK_MAX_LINE / 65536) + 1);
}

static void flush(struct rpc_link *l)
{
	while (l->fd >= 0 && l->out_off < l->out_len) {
		struct link_fds *f = l->fds_head;
		size_t upto = f && f->at > l->out_off ? f->at : l->out_len;
		ssize_t n;

		if (f && f->at == l->out_off) {
			/* this line's descriptors go with its first bytes */
			union {
				struct cmsghdr h;
				char buf[CMSG_SPACE(sizeof(int) * RPC_LINK_MAX_FDS)];
			} ctl;
			struct iovec iov = { .iov_base = l->out + l->out_off,
					     .iov_len = (f->next ? f->next->at : l->out_len) -
							l->out_off };
			struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
					    .msg_control = ctl.buf,
					    .msg_controllen = CMSG_SPACE(sizeof(int) * f->n) };
			struct cmsghdr *h = CMSG_FIRSTHDR(&m);

			memset(ctl.buf, 0, sizeof(ctl.buf));
			h->cmsg_level = SOL_SOCKET;
			h->cmsg_type = SCM_RIGHTS;
			h->cmsg_len = CMSG_LEN(sizeof(int) * f->n);
			memcpy(CMSG_DATA(h), f->fds, sizeof(int) * f->n);
			n = sendmsg(l->fd, &m, MSG_NOSIGNAL);
			if (n > 0) {
				l->fds_head = f->next;
				if (!l->fds_head)
					l->fds_tail = NULL;
				for (unsigned i = 0; i < f->n; i++)
					close(f->fds[i]);
				free(f);
			}
		} else {
			n = send(l->fd, l->out + l->out_off, upto - l->out_off, MSG_NOSIGNAL);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			link_shut(l, -errno);
			return;
		}
		l->out_off += (size_t)n;
	}
	if (l->fd < 0)
		return;
	if (l->out_off == l->out_len) {
		l->out_off = l->out_len = 0;
		ev_io_stop(l->loop, &l->wio);
	} else {
		ev_io_start(l->loop, &l->wio);
	}
}

static void write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct rpc_link *l = w->data;

	enter(l);
	flush(l);
	leave(l);
}

struct rpc_link *rpc_link_new(struct ev_loop *loop, int fd,
			      const struct rpc_link_ops *ops, void *ctx)
{
	struct rpc_link *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->loop = loop;
	l->ops = ops;
	l->ctx = ctx;
	l->fd = fd;
	if (fd >= 0) {
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		ev_io_init(&l->rio, read_cb, fd, EV_READ);
		ev_io_init(&l->wio, write_cb, fd, EV_WRITE);
		l->rio.data = l->wio.data = l;
		ev_io_start(loop, &l->rio);
	}
	return l;
}

struct rpc_link *rpc_link_connect(struct ev_loop *loop, const char *path,
				  const struct rpc_link_ops *ops, void *ctx,
				  int *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct rpc_link *l;
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		*err = -ENAMETOOLONG;
		return NULL;
	}
	memcpy(addr.sun_path, path, strlen(path) + 1);
	/* a Unix connect does not wait for the peer's accept(): a stopped
	 * worker's backlog takes it, and a full one says EAGAIN at once */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*err = -errno;
		return NULL;
	}
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		*err = -errno;
		close(fd);
		return NULL;
	}
	l = rpc_link_new(loop, fd, ops, ctx);
	if (!l) {
		close(fd);
		*err = -ENOMEM;
	}
	return l;
}

int rpc_link_call(struct rpc_link *l, const char *method, json_t *params,
		  double timeout_s, rpc_link_reply_fn fn, void *arg)
{
	return rpc_link_call_fds(l, method, params, NULL, 0, timeout_s, fn, arg);
}

int rpc_link_call_fds(struct rpc_link *l, const char *method, json_t *params,
		      const int *fds, unsigned nfds, double timeout_s,
		      rpc_link_reply_fn fn, void *arg)
{
	struct link_fds *att = NULL;
	struct pending *p;
	json_t *req;
	char *text;
	size_t len;

	if (nfds > RPC_LINK_MAX_FDS) {
		for (unsigned i = 0; i < nfds; i++)
			close(fds[i]);
		return -E2BIG;
	}
	if (nfds) {
		att = calloc(1, sizeof(*att));
		if (att) {
			att->n = nfds;
			memcpy(att->fds, fds, sizeof(int) * nfds);
		} else {
			for (unsigned i = 0; i < nfds; i++)
				close(fds[i]);
			return -ENOMEM;
		}
	}
	if (l->freeing || l->fd < 0 || l->out_len - l->out_off > RPC_LINK_MAX_QUEUED) {
		int r = l->freeing || l->fd < 0 ? -EPIPE : -ENOBUFS;

		if (att) {
			for (unsigned i = 0; i < att->n; i++)
				close(att->fds[i]);
			free(att);
		}
		return r;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		if (att) {
			for (unsigned i = 0; i < att->n; i++)
				close(att->fds[i]);
			free(att);
		}
		return -ENOMEM;
	}
	p->link = l;
	p->id = ++l->next_id;
	snprintf(p->method, sizeof(p->method), "%s", method);
	p->timeout = timeout_s;
	p->fn = fn;
	p->arg = arg;
	req = json_pack("{s:s, s:I, s:s}", "jsonrpc", "2.0", "id", (json_int_t)p->id,
			"method", method);
	if (req && params)
		json_object_set(req, "params", params);
	text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!text) {
		free(p);
		return -ENOMEM;
	}
	len = strlen(text);
	if (buf_reserve(&l->out, &l->out_cap, l->out_len + len + 1) < 0) {
		free(text);
		free(p);
		if (att) {
			for (unsigned i = 0; i < att->n; i++)
				close(att->fds[i]);
			free(att);
		}
		return -ENOMEM;
	}
	if (att) {
		att->at = l->out_len;
		if (l->fds_tail)
			l->fds_tail->next = att;
		else
			l->fds_head = att;
		l->fds_tail = att;
	}
	memcpy(l->out + l->out_len, text, len);
	l->out[l->out_len + len] = '\n';
	l->out_len += len + 1;
	free(text);
	ev_timer_init(&p->timer, timeout_cb, timeout_s > 0 ? timeout_s : 1e-3, 0.);
	p->timer.data = p;
	ev_timer_start(l->loop, &p->timer);
	p->next = l->pending;
	l->pending = p;
	l->npending++;
	/* the write may shut the link: the call then fails from the loop,
	 * never from inside this function */
	if (l->out_len - l->out_off == len + 1)
		ev_io_start(l->loop, &l->wio);
	return 0;
}

size_t rpc_link_pending(const struct rpc_link *l)
{
	return l->npending;
}

bool rpc_link_open(const struct rpc_link *l)
{
	return l && l->fd >= 0 && !l->freeing;
}

void rpc_link_free(struct rpc_link *l)
{
	if (!l)
		return;
	if (l->busy) {
		l->freeing = true;
		link_shut(l, 0);
		return;
	}
	l->freeing = true;
	link_finish_free(l);
}
