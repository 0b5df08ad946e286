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

#include "rpc/server.h"
#include "util/fs.h"
#include "util/log.h"

struct client {
	struct server *srv;
	struct client *next, **pprev;
	unsigned long id;
	int fd;
	ev_io read_watcher;
	ev_io write_watcher;
	char *in;
	size_t in_len, in_cap, in_scanned;
	char *out;
	size_t out_len, out_off, out_cap;
	bool closing;			/* close once the output is flushed */
	bool dead;			/* gone; kept while answers are pending */
	unsigned refs;			/* deferred answers still to come */
	bool in_process;		/* answers are flushed after the batch */
	pid_t pid;
	uid_t uid;
};

static void client_free(struct client *c)
{
	struct server *srv = c->srv;

	if (c->dead)
		return;
	if (srv->on_close)
		srv->on_close(srv, c);
	ev_io_stop(srv->loop, &c->read_watcher);
	ev_io_stop(srv->loop, &c->write_watcher);
	close(c->fd);
	*c->pprev = c->next;
	if (c->next)
		c->next->pprev = c->pprev;
	srv->nclients--;
	log_debug("client %lu gone", c->id);
	c->dead = true;
	free(c->in);
	free(c->out);
	c->in = c->out = NULL;
	/* a deferred call still holds a reference: it frees the rest */
	if (!c->refs)
		free(c);
}

static void client_ref(void *conn)
{
	((struct client *)conn)->refs++;
}

static void client_flush(struct client *c);

static void client_unref(void *conn)
{
	struct client *c = conn;

	if (--c->refs)
		return;
	if (c->dead)
		free(c);
	else if (c->closing && !c->in_process)
		client_flush(c);	/* the last answer is out: now it may go */
}

static int buf_reserve(char **buf, size_t *cap, size_t need)
{
	size_t ncap = *cap ? *cap : 4096;
	char *n;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	n = realloc(*buf, ncap);
	if (!n)
		return -ENOMEM;
	*buf = n;
	*cap = ncap;
	return 0;
}

/* Try to write what is pending; the write watcher runs only meanwhile. */
static void client_flush(struct client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off,
				 c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			log_debug("client %lu: send: %s", c->id, strerror(errno));
			client_free(c);
			return;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_len) {
		c->out_off = c->out_len = 0;
		ev_io_stop(c->srv->loop, &c->write_watcher);
		/* a client that stopped sending still gets its deferred answers */
		if (c->closing && !c->refs) {
			client_free(c);
			return;
		}
	} else {
		ev_io_start(c->srv->loop, &c->write_watcher);
	}
	/* back-pressure: a client that does not read its answers is not read */
	if (!c->closing) {
		if (c->out_len - c->out_off > SERVER_PAUSE_OUTPUT)
			ev_io_stop(c->srv->loop, &c->read_watcher);
		else
			ev_io_start(c->srv->loop, &c->read_watcher);
	}
}

/* Queue one JSON text and its newline.  Returns -1 if c was freed. */
static int client_send(struct client *c, json_t *msg)
{
	char *text;
	size_t len;

	if (c->dead)
		return -1;
	text = json_dumps(msg, JSON_COMPACT);
	if (!text) {
		log_error("client %lu: cannot encode a response", c->id);
		return 0;
	}
	len = strlen(text);
	if (c->out_len - c->out_off + len + 1 > SERVER_MAX_OUTPUT) {
		log_warn("client %lu (pid %d) reads nothing: dropping it",
			 c->id, (int)c->pid);
		free(text);
		client_free(c);
		return -1;
	}
	if (buf_reserve(&c->out, &c->out_cap, c->out_len + len + 1) < 0) {
		free(text);
		client_free(c);
		return -1;
	}
	memcpy(c->out + c->out_len, text, len);
	c->out[c->out_len + len] = '\n';
	c->out_len += len + 1;
	free(text);
	return 0;
}

int server_send(void *conn, json_t *msg)
{
	struct client *c = conn;

	if (c->dead || client_send(c, msg) < 0)
		return -1;
	if (!c->in_process)
		client_flush(c);
	return 0;
}

void server_peer(const void *conn, pid_t *pid, uid_t *uid)
{
	const struct client *c = conn;

	*pid = c ? c->pid : -1;
	*uid = c ? c->uid : (uid_t)-1;
}

/* answers from the codec, now or when a deferred call completes */
static void client_send_answer(void *conn, json_t *msg)
{
	struct client *c = conn;

	if (!c->dead && client_send(c, msg) == 0 && !c->in_process)
		client_flush(c);
}

static const struct rpc_conn_ops client_ops = {
	.send = client_send_answer,
	.ref = client_ref,
	.unref = client_unref,
};

static void client_too_large(struct client *c)
{
	json_t *e = rpc_error_response(NULL, ARMVM_E_TOO_LARGE,
		"Request too large",
		json_pack("{s:I}", "max_bytes", (json_int_t)SERVER_MAX_LINE));

	log_warn("client %lu (pid %d): request line over %u bytes, closing",
		 c->id, (int)c->pid, SERVER_MAX_LINE);
	ev_io_stop(c->srv->loop, &c->read_watcher);
	c->closing = true;
	c->in_len = 0;
	if (client_send(c, e) == 0)
		client_flush(c);
	json_decref(e);
}

/* Answer every complete line in the input buffer.  -1 if c was freed. */
/* Answer every complete line in the input buffer.  -1 if c was freed. */
static int client_process(struct client *c)
{
	size_t start = 0;

	/* answers of this read are queued and flushed once, afterwards */
	c->in_process = true;
	for (;;) {
		char *nl = memchr(c->in + c->in_scanned, '\n',
				  c->in_len - c->in_scanned);
		size_t end, len;

		if (!nl) {
			c->in_scanned = c->in_len;
			break;
		}
		end = (size_t)(nl - c->in);
		len = end - start;
		if (len > SERVER_MAX_LINE) {
			c->in_process = false;
			client_too_large(c);
			return -1;
		}
		/* blank lines (and a lone \r) are keep-alives, not requests */
		if (len && !(len == 1 && c->in[start] == '\r')) {
			client_ref(c);
			rpc_handle_line(c->srv->table, c->srv->ctx, c,
					&client_ops, c->in + start, len);
			if (c->dead) {
				client_unref(c);
				return -1;
			}
			client_unref(c);
		}
		start = end + 1;
		c->in_scanned = start;
	}
	c->in_process = false;
	if (start) {
		memmove(c->in, c->in + start, c->in_len - start);
		c->in_len -= start;
		c->in_scanned -= start;
	}
	if (c->in_len > SERVER_MAX_LINE) {
		client_too_large(c);
		return -1;
	}
	return 0;
}

static void client_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client *c = w->data;

	for (;;) {
		if (buf_reserve(&c->in, &c->in_cap, c->in_len + 65536) < 0) {
			client_free(c);
			return;
		}
		ssize_t n = recv(c->fd, c->in + c->in_len,
				 c->in_cap - c->in_len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			client_free(c);
			return;
		}
		if (n == 0) {
			/* a half-written request dies with its client; answers
			 * to complete ones still go out (the peer may only
			 * have shut down its writing side) */
			if (c->in_len)
				log_debug("client %lu left mid-request (%zu bytes)",
					  c->id, c->in_len);
			ev_io_stop(loop, &c->read_watcher);
			c->closing = true;
			break;
		}
		c->in_len += (size_t)n;
		if (client_process(c) < 0)
			return;
		if (c->closing || c->out_len - c->out_off > SERVER_PAUSE_OUTPUT)
			break;
	}
	client_flush(c);
}

static void client_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	client_flush(w->data);
}

int server_add_client(struct server *srv, int fd)
{
	struct client *c;
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (srv->nclients >= SERVER_MAX_CLIENTS) {
		log_warn("too many clients (%u): refusing one", srv->nclients);
		close(fd);
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
	c->pid = -1;
	c->uid = (uid_t)-1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
		c->pid = cred.pid;
		c->uid = cred.uid;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	ev_io_init(&c->read_watcher, client_read_cb, fd, EV_READ);
	ev_io_init(&c->write_watcher, client_write_cb, fd, EV_WRITE);
	c->read_watcher.data = c;
	c->write_watcher.data = c;
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

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct server *srv = w->data;

	for (;;) {
		int fd = accept4(srv->listen_fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("accept: %s", strerror(errno));
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
	chmod(path, mode);
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
		chmod(srv->path, 0600);
		return -ENOENT;
	}
	r = share_with_group(srv->path, *gid, 0660);
	return r < 0 ? log_errno(r, "giving %s to group '%s'", srv->path, group) : 0;
}

void server_close(struct server *srv)
{
	struct stat st;

	while (srv->clients)
		client_free(srv->clients);
	if (srv->listen_fd >= 0 && srv->loop) {
		ev_io_stop(srv->loop, &srv->accept_watcher);
		close(srv->listen_fd);
	}
	srv->listen_fd = -1;
	/* a newer daemon may have taken the path over: leave its socket be;
	 * an activated socket belongs to systemd */
	if (srv->path[0] && !srv->socket_activated && stat(srv->path, &st) == 0 &&
	    st.st_dev == srv->dev && st.st_ino == srv->ino)
		unlink(srv->path);
	srv->path[0] = '\0';
}
