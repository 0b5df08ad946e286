// SPDX-License-Identifier: MIT
/*
 * libarmvm — newline-delimited JSON-RPC 2.0 client for armvmd.
 *
 * The socket is non-blocking and every wait goes through poll(), so one
 * deadline covers both sending the request and reading the answer.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "libarmvm.h"

/* longest line accepted from the daemon, without its '\n' */
#define ARMVM_MAX_LINE	(64u << 20)
#define READ_CHUNK	65536

struct armvm {
	int fd;
	int dead;		/* sticky -errno once the stream is unusable */
	bool skipping;		/* discarding the tail of an oversized line */
	json_int_t next_id;
	char *buf;
	size_t cap;
	size_t start;		/* first unconsumed byte */
	size_t end;		/* end of buffered data */
	size_t scan;		/* [start, scan) is known to hold no '\n' */
	json_t *queue;		/* notifications read while waiting for a reply */
};

const char *armvm_default_socket(void)
{
	const char *s = getenv("ARMVMD_SOCKET");

	return s && *s ? s : ARMVM_DEFAULT_SOCKET;
}

static int64_t clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* deadline -1 means none */
static int64_t deadline_from(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : clock_ms() + timeout_ms;
}

static int deadline_left(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - clock_ms();
	if (left <= 0)
		return 0;
	return left > INT32_MAX ? INT32_MAX : (int)left;
}

/* Wait for events on fd until deadline: 0 when ready, -ETIMEDOUT, -errno. */
static int conn_wait(struct armvm *c, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = c->fd, .events = events };
	int r;

	for (;;) {
		r = poll(&pfd, 1, deadline_left(deadline));
		if (r > 0)
			return 0;
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

static int connect_wait(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	socklen_t len = sizeof(int);
	int r, soerr = 0;

	do {
		r = poll(&pfd, 1, -1);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		return -errno;
	return -soerr;
}

struct armvm *armvm_connect(const char *path, int *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct armvm *c;
	int fd, r, flags;

	if (!path)
		path = armvm_default_socket();
	if (!*path) {
		r = -EINVAL;
		goto fail;
	}
	if (strlen(path) >= sizeof(sa.sun_path)) {
		r = -ENAMETOOLONG;
		goto fail;
	}
	strcpy(sa.sun_path, path);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		goto fail;
	}
	/* an interrupted connect() keeps going in the background */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = errno == EINTR ? connect_wait(fd) : -errno;
		if (r < 0)
			goto fail_fd;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		r = -errno;
		goto fail_fd;
	}

	c = calloc(1, sizeof(*c));
	if (!c) {
		r = -ENOMEM;
		goto fail_fd;
	}
	c->queue = json_array();
	if (!c->queue) {
		free(c);
		r = -ENOMEM;
		goto fail_fd;
	}
	c->fd = fd;
	c->next_id = 1;
	if (err)
		*err = 0;
	return c;

fail_fd:
	close(fd);
fail:
	if (err)
		*err = r;
	return NULL;
}

void armvm_close(struct armvm *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	json_decref(c->queue);
	free(c->buf);
	free(c);
}

int armvm_fd(const struct armvm *c)
{
	return c ? c->fd : -1;
}

/*
 * The first write carries the descriptors (SCM_RIGHTS): Linux hands them
 * to the daemon with the read that holds the request's first bytes.  Once
 * a byte is out they are sent; the rest of a partial write goes without.
 */
static ssize_t send_first(int fd, const char *data, size_t len, const int *fds,
			  unsigned nfds)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * ARMVM_MAX_FDS)];
	} ctl;
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *h;

	if (!nfds)
		return send(fd, data, len, MSG_NOSIGNAL);
	memset(&ctl, 0, sizeof(ctl));
	m.msg_control = ctl.buf;
	m.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
	h = CMSG_FIRSTHDR(&m);
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
	memcpy(CMSG_DATA(h), fds, sizeof(int) * nfds);
	return sendmsg(fd, &m, MSG_NOSIGNAL);
}

static int conn_send(struct armvm *c, const char *data, size_t len,
		     const int *fds, unsigned nfds, int64_t deadline)
{
	size_t off = 0;
	ssize_t n;
	int r;

	while (off < len) {
		n = off ? send(c->fd, data + off, len - off, MSG_NOSIGNAL)
			: send_first(c->fd, data, len, fds, nfds);
		if (n >= 0) {
			off += n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			r = conn_wait(c, POLLOUT, deadline);
			if (r == 0)
				continue;
		} else {
			r = errno == EPIPE ? -ECONNRESET : -errno;
		}
		/* half a request on the wire: nothing later can be framed */
		if (off > 0 || r == -ECONNRESET)
			c->dead = r == -ECONNRESET ? r : -EPIPE;
		return r;
	}
	return 0;
}

static int conn_send_msg(struct armvm *c, json_t *msg, const int *fds,
			 unsigned nfds, int64_t deadline)
{
	char *s, *line;
	size_t len;
	int r;

	s = json_dumps(msg, JSON_COMPACT);
	if (!s)
		return -EINVAL;
	len = strlen(s);
	line = realloc(s, len + 2);
	if (!line) {
		free(s);
		return -ENOMEM;
	}
	line[len++] = '\n';
	line[len] = '\0';
	r = conn_send(c, line, len, fds, nfds, deadline);
	free(line);
	return r;
}

/* Make room for at least READ_CHUNK more bytes. */
static int conn_reserve(struct armvm *c)
{
	size_t used = c->end - c->start;
	size_t ncap;
	char *nbuf;

	if (c->cap - c->end >= READ_CHUNK)
		return 0;
	if (c->start > 0) {
		memmove(c->buf, c->buf + c->start, used);
		c->scan -= c->start;
		c->start = 0;
		c->end = used;
		if (c->cap - c->end >= READ_CHUNK)
			return 0;
	}
	ncap = c->cap ? c->cap * 2 : READ_CHUNK;
	while (ncap - used < READ_CHUNK)
		ncap *= 2;
	if (ncap > ARMVM_MAX_LINE + 1 + READ_CHUNK)
		ncap = ARMVM_MAX_LINE + 1 + READ_CHUNK;
	nbuf = realloc(c->buf, ncap);
	if (!nbuf)
		return -ENOMEM;
	c->buf = nbuf;
	c->cap = ncap;
	return 0;
}

/* Read once whatever is available, waiting until deadline. */
static int conn_fill(struct armvm *c, int64_t deadline)
{
	ssize_t n;
	int r;

	r = conn_reserve(c);
	if (r < 0)
		return r;
	for (;;) {
		n = recv(c->fd, c->buf + c->end, c->cap - c->end, 0);
		if (n > 0) {
			c->end += n;
			return 0;
		}
		if (n == 0) {
			c->dead = -ECONNRESET;
			return -ECONNRESET;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			r = errno == EPIPE ? -ECONNRESET : -errno;
			if (r == -ECONNRESET)
				c->dead = r;
			return r;
		}
		r = conn_wait(c, POLLIN, deadline);
		if (r < 0)
			return r;
	}
}

static bool line_blank(const char *s, size_t len)
{
	while (len--) {
		if (*s != ' ' && *s != '\t' && *s != '\r')
			return false;
		s++;
	}
	return true;
}

/*
 * Next complete message: 1 and a new reference in *msg, -ETIMEDOUT,
 * -EMSGSIZE (the rest of that line is then skipped), -EPROTO for a line
 * that is not JSON, -ECONNRESET or another -errno.
 */
static int conn_read_msg(struct armvm *c, json_t **msg, int64_t deadline)
{
	json_error_t jerr;
	char *nl;
	size_t len;
	int r;

	for (;;) {
		nl = c->scan < c->end ?
			memchr(c->buf + c->scan, '\n', c->end - c->scan) : NULL;
		if (c->skipping) {
			if (nl) {
				c->start = c->scan = nl - c->buf + 1;
				c->skipping = false;
				continue;
			}
			c->start = c->end = c->scan = 0;
		} else if (nl) {
			len = nl - (c->buf + c->start);
			r = 0;
			if (len > ARMVM_MAX_LINE) {
				r = -EMSGSIZE;
			} else if (!line_blank(c->buf + c->start, len)) {
				*msg = json_loadb(c->buf + c->start, len, 0,
						  &jerr);
				r = *msg ? 1 : -EPROTO;
			}
			c->start = c->scan = nl - c->buf + 1;
			if (r)
				return r;
			continue;
		} else {
			c->scan = c->end;
			if (c->end - c->start > ARMVM_MAX_LINE) {
				c->start = c->end = c->scan = 0;
				c->skipping = true;
				return -EMSGSIZE;
			}
		}
		r = conn_fill(c, deadline);
		if (r < 0)
			return r;
	}
}

static bool msg_is_notification(json_t *msg)
{
	return json_is_object(msg) && json_object_get(msg, "method");
}

static int fill_error(json_t *err, struct armvm_error *e)
{
	json_t *code, *message, *data;

	if (!json_is_object(err))
		return -EPROTO;
	code = json_object_get(err, "code");
	message = json_object_get(err, "message");
	data = json_object_get(err, "data");
	if (!json_is_integer(code))
		return -EPROTO;
	if (!e)
		return ARMVM_RPC_ERROR;
	e->code = (int)json_integer_value(code);
	snprintf(e->message, sizeof(e->message), "%s",
		 json_is_string(message) ? json_string_value(message) : "");
	e->data = data ? json_incref(data) : NULL;
	return ARMVM_RPC_ERROR;
}

static bool params_valid(json_t *params)
{
	return !params || json_is_object(params) || json_is_array(params);
}

int armvm_call_fds(struct armvm *c, const char *method, json_t *params,
		   const int *fds, unsigned nfds, json_t **result,
		   struct armvm_error *e, int timeout_ms)
{
	int64_t deadline = deadline_from(timeout_ms);
	json_t *req, *msg, *id, *res;
	json_int_t my_id;
	int r;

	if (result)
		*result = NULL;
	if (e)
		memset(e, 0, sizeof(*e));
	if (!c || !method || !params_valid(params) || (nfds && !fds))
		return -EINVAL;
	if (nfds > ARMVM_MAX_FDS)
		return -E2BIG;
	if (c->dead)
		return c->dead;

	my_id = c->next_id++;
	req = json_pack("{s:s, s:I, s:s}", "jsonrpc", "2.0", "id", my_id,
			"method", method);
	if (!req)
		return -ENOMEM;
	if (params && json_object_set(req, "params", params) < 0) {
		json_decref(req);
		return -ENOMEM;
	}
	r = conn_send_msg(c, req, fds, nfds, deadline);
	json_decref(req);
	/*
	 * A daemon that refuses a request (too large, say) answers before it
	 * closes; read that answer rather than report a bare reset.
	 */
	if (r < 0 && r != -ECONNRESET)
		return r;

	for (;;) {
		r = conn_read_msg(c, &msg, deadline);
		if (r < 0)
			return r;
		if (msg_is_notification(msg)) {
			if (json_array_append_new(c->queue, msg) < 0)
				return -ENOMEM;
			continue;
		}
		id = json_object_get(msg, "id");
		/* an id of null answers a request the daemon could not read */
		if (!(json_is_integer(id) && json_integer_value(id) == my_id) &&
		    !(json_is_null(id) && json_object_get(msg, "error"))) {
			/* late answer to an earlier call that timed out */
			json_decref(msg);
			continue;
		}
		break;
	}

	if ((res = json_object_get(msg, "error"))) {
		r = fill_error(res, e);
	} else if ((res = json_object_get(msg, "result"))) {
		if (result)
			*result = json_incref(res);
		r = ARMVM_OK;
	} else {
		r = -EPROTO;
	}
	json_decref(msg);
	return r;
}

int armvm_call_timeout(struct armvm *c, const char *method, json_t *params,
		       json_t **result, struct armvm_error *e, int timeout_ms)
{
	return armvm_call_fds(c, method, params, NULL, 0, result, e, timeout_ms);
}

json_t *armvm_file_param(int index, const char *path)
{
	if (index < 0)
		return NULL;
	if (!path)
		return json_pack("{s:i}", "fd", index);
	return json_pack("{s:i, s:s}", "fd", index, "path", path);
}

int armvm_call(struct armvm *c, const char *method, json_t *params,
	       json_t **result, struct armvm_error *e)
{
	return armvm_call_timeout(c, method, params, result, e, -1);
}

int armvm_notify(struct armvm *c, const char *method, json_t *params)
{
	json_t *msg;
	int r;

	if (!c || !method || !params_valid(params))
		return -EINVAL;
	if (c->dead)
		return c->dead;
	msg = json_pack("{s:s, s:s}", "jsonrpc", "2.0", "method", method);
	if (!msg)
		return -ENOMEM;
	if (params && json_object_set(msg, "params", params) < 0) {
		json_decref(msg);
		return -ENOMEM;
	}
	r = conn_send_msg(c, msg, NULL, 0, -1);
	json_decref(msg);
	return r;
}

int armvm_next_notification(struct armvm *c, json_t **msg, int timeout_ms)
{
	int64_t deadline = deadline_from(timeout_ms);
	json_t *m;
	int r;

	if (!c || !msg)
		return -EINVAL;
	*msg = NULL;
	if (json_array_size(c->queue) > 0) {
		*msg = json_incref(json_array_get(c->queue, 0));
		json_array_remove(c->queue, 0);
		return 1;
	}
	for (;;) {
		r = conn_read_msg(c, &m, deadline);
		if (r == -ETIMEDOUT)
			return 0;
		if (r < 0)
			return r;
		if (msg_is_notification(m)) {
			*msg = m;
			return 1;
		}
		json_decref(m);
	}
}

void armvm_error_clear(struct armvm_error *e)
{
	if (!e)
		return;
	json_decref(e->data);
	e->data = NULL;
	e->code = 0;
	e->message[0] = '\0';
}

const char *armvm_strerror(int r, const struct armvm_error *e)
{
	if (r == ARMVM_OK)
		return "success";
	if (r == ARMVM_RPC_ERROR) {
		if (e && e->message[0])
			return e->message;
		return "armvmd returned an error";
	}
	switch (r) {
	case -ETIMEDOUT:
		return "timed out waiting for armvmd";
	case -ECONNRESET:
		return "armvmd closed the connection";
	case -EMSGSIZE:
		return "message from armvmd exceeds the 64 MiB line limit";
	case -EPROTO:
		return "armvmd sent a malformed message";
	case -EPIPE:
		return "connection unusable after an interrupted request";
	}
	return r < 0 ? strerror(-r) : "unknown result";
}
