// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/console.h"
#include "util/fs.h"
#include "util/log.h"

static uint64_t console_log_limit = CONSOLE_LOG_MAX_DEFAULT;

void console_set_log_limit(uint64_t bytes)
{
	console_log_limit = bytes && bytes < CONSOLE_LOG_MAX_MIN ? CONSOLE_LOG_MAX_MIN : bytes;
}

static void client_drop(struct console_client *cl)
{
	ev_io_stop(cl->con->loop, &cl->watcher);
	close(cl->fd);
	cl->fd = -1;
}

/*
 * console.log is full: its contents go to console.log.1 (dropping the
 * older ones) and console.log starts over.  Descriptors only (the worker
 * opens no path): a copy of at most log_max bytes, on the loop; the ring
 * that worker.console reads is not touched.  Without an older file, or if
 * the copy fails, the log starts over in place rather than grow.
 */
static void log_rotate(struct console *con)
{
	if (con->log_old_fd >= 0 && log_copy_rotate(con->log_fd, con->log_old_fd) == 0) {
		con->log_size = 0;
		return;
	}
	if (ftruncate(con->log_fd, 0) == 0) {
		if (con->log_old_fd >= 0)
			log_warn("console log: cannot rotate it (%s); started over",
				 strerror(errno));
		con->log_size = 0;
		return;
	}
	log_error("console log: cannot rotate it nor start over (%s); no longer written",
		  strerror(errno));
	close(con->log_fd);
	con->log_fd = -1;
}

static void log_out(struct console *con, const char *buf, size_t len)
{
	size_t off = 0;

	if (con->log_max) {
		/* a chunk larger than the whole log: its newest part */
		if (len > con->log_max) {
			buf += len - con->log_max;
			len = (size_t)con->log_max;
		}
		if (con->log_size && con->log_size + len > con->log_max)
			log_rotate(con);
		if (con->log_fd < 0)
			return;
	}
	while (off < len) {
		ssize_t n = write(con->log_fd, buf + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	con->log_size += off;
}

/* On the loop: move pending output to the log file and the clients. */
static void console_drain(struct ev_loop *loop, ev_async *w, int revents)
{
	struct console *con = w->data;
	char *buf;
	size_t len;

	pthread_mutex_lock(&con->lock);
	buf = con->pending;
	len = con->pending_len;
	con->pending = NULL;
	con->pending_len = 0;
	pthread_mutex_unlock(&con->lock);
	if (!buf)
		return;
	if (con->log_fd >= 0)
		log_out(con, buf, len);
	for (int i = 0; i < CONSOLE_MAX_CLIENTS; i++) {
		struct console_client *cl = &con->clients[i];

		/* an attached terminal that cannot keep up loses output
		 * rather than stalling the guest; the log has it all */
		if (cl->fd >= 0 &&
		    send(cl->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
		    errno != EAGAIN && errno != EWOULDBLOCK)
			client_drop(cl);
	}
	free(buf);
}

void console_flush(struct console *con)
{
	if (con->loop)
		console_drain(con->loop, &con->wake, 0);
}

void console_write(struct console *con, const uint8_t *buf, size_t len)
{
	bool wake;

	pthread_mutex_lock(&con->lock);
	for (size_t i = 0; i < len; i++)
		con->ring[(con->total + i) % CONSOLE_RING_SIZE] = (char)buf[i];
	con->total += len;
	wake = con->pending_len == 0;
	if (con->pending_len + len <= CONSOLE_PENDING_MAX) {
		char *n = realloc(con->pending, con->pending_len + len);

		if (n) {
			memcpy(n + con->pending_len, buf, len);
			con->pending = n;
			con->pending_len += len;
		} else {
			con->dropped += len;
		}
	} else {
		con->dropped += len;
	}
	pthread_mutex_unlock(&con->lock);
	if (wake)
		ev_async_send(con->loop, &con->wake);
}

char *console_tail(struct console *con, size_t max, size_t *len,
		   uint64_t *total)
{
	char *out;
	uint64_t n, start;

	pthread_mutex_lock(&con->lock);
	n = con->total < CONSOLE_RING_SIZE ? con->total : CONSOLE_RING_SIZE;
	if (n > max)
		n = max;
	start = con->total - n;
	out = malloc(n + 1);
	if (out) {
		for (uint64_t i = 0; i < n; i++)
			out[i] = con->ring[(start + i) % CONSOLE_RING_SIZE];
		out[n] = '\0';
		*len = n;
	}
	if (total)
		*total = con->total;
	pthread_mutex_unlock(&con->lock);
	return out;
}

size_t console_input_take(struct console *con, uint8_t *buf, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&con->lock);
	while (n < max && con->inq_len) {
		buf[n++] = con->inq[con->inq_head];
		con->inq_head = (con->inq_head + 1) % CONSOLE_INPUT_MAX;
		con->inq_len--;
	}
	pthread_mutex_unlock(&con->lock);
	return n;
}

static void client_read(struct ev_loop *loop, ev_io *w, int revents)
{
	struct console_client *cl = w->data;
	struct console *con = cl->con;
	uint8_t buf[512];
	ssize_t n = recv(cl->fd, buf, sizeof(buf), 0);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		client_drop(cl);
		return;
	}
	if (n == 0) {
		/* done typing, maybe not done reading: keep sending output */
		ev_io_stop(loop, &cl->watcher);
		return;
	}
	pthread_mutex_lock(&con->lock);
	for (ssize_t i = 0; i < n; i++) {
		if (con->inq_len == CONSOLE_INPUT_MAX) {
			con->input_dropped += (uint64_t)(n - i);
			break;
		}
		con->inq[(con->inq_head + con->inq_len) % CONSOLE_INPUT_MAX] = buf[i];
		con->inq_len++;
	}
	pthread_mutex_unlock(&con->lock);
	if (con->input_ready)
		con->input_ready(con->input_opaque);
}

static void console_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct console *con = w->data;
	int fd = accept4(con->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	for (int i = 0; i < CONSOLE_MAX_CLIENTS; i++) {
		struct console_client *cl = &con->clients[i];

		if (cl->fd >= 0)
			continue;
		cl->fd = fd;
		cl->con = con;
		ev_io_init(&cl->watcher, client_read, fd, EV_READ);
		cl->watcher.data = cl;
		ev_io_start(loop, &cl->watcher);
		return;
	}
	log_warn("console: too many attached clients");
	close(fd);
}

int console_init_fd(struct console *con, struct ev_loop *loop, int log_fd, int old_fd)
{
	struct stat st;

	memset(con, 0, sizeof(*con));
	pthread_mutex_init(&con->lock, NULL);
	con->listen_fd = -1;
	for (int i = 0; i < CONSOLE_MAX_CLIENTS; i++)
		con->clients[i].fd = -1;
	con->log_fd = -1;
	con->log_old_fd = -1;
	con->log_max = console_log_limit;
	if (log_fd >= 0) {
		if (fstat(log_fd, &st) < 0 || !S_ISREG(st.st_mode) ||
		    (old_fd >= 0 && (fstat(old_fd, &st) < 0 || !S_ISREG(st.st_mode))))
			return log_errno(-EINVAL, "console log: not a regular file");
		fstat(log_fd, &st);
		con->log_size = (uint64_t)st.st_size;
		con->log_fd = log_fd;
		con->log_old_fd = old_fd;
	}
	ev_async_init(&con->wake, console_drain);
	con->wake.data = con;
	ev_async_start(loop, &con->wake);
	con->loop = loop;	/* set up: console_close has work to do */
	return 0;
}

int console_init(struct console *con, struct ev_loop *loop, const char *log_path)
{
	char dir[PATH_MAX], old[300];
	const char *slash, *name;
	int dfd, fd = -1, ofd = -1;

	if (!log_path)
		return console_init_fd(con, loop, -1, -1);
	slash = strrchr(log_path, '/');
	name = slash ? slash + 1 : log_path;
	if (slash)
		snprintf(dir, sizeof(dir), "%.*s", slash == log_path ? 1 :
			 (int)(slash - log_path), log_path);
	if (snprintf(old, sizeof(old), "%s.1", name) >= (int)sizeof(old))
		return log_errno(-ENAMETOOLONG, "console log %s", log_path);
	dfd = fs_opendir_at(AT_FDCWD, slash ? dir : ".");
	if (dfd < 0)
		return log_errno(dfd, "console log %s", log_path);
	/* O_NONBLOCK: a FIFO planted there must not stall the loop */
	fd = openat(dfd, name, O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK |
		    O_NOCTTY | O_CLOEXEC, 0640);
	if (fd >= 0) {
		unlinkat(dfd, old, 0);
		ofd = openat(dfd, old, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY |
			     O_CLOEXEC, 0640);
	}
	close(dfd);
	if (fd < 0)
		return log_errno(-errno, "console log %s", log_path);
	if (console_init_fd(con, loop, fd, ofd) < 0) {
		close(fd);
		if (ofd >= 0)
			close(ofd);
		return -EINVAL;
	}
	return 0;
}

int console_listen_fd(struct console *con, int fd)
{
	if (listen(fd, 4) < 0)
		return -errno;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	con->listen_fd = fd;
	ev_io_init(&con->accept_watcher, console_accept, fd, EV_READ);
	con->accept_watcher.data = con;
	ev_io_start(con->loop, &con->accept_watcher);
	return 0;
}

int console_listen(struct console *con, const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(fd, 4) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	/* no symlink followed (gid -1: the group stays) */
	fs_share_at(AT_FDCWD, path, (gid_t)-1, 0660);
	con->listen_fd = fd;
	ev_io_init(&con->accept_watcher, console_accept, fd, EV_READ);
	con->accept_watcher.data = con;
	ev_io_start(con->loop, &con->accept_watcher);
	return 0;
}

void console_close(struct console *con)
{
	if (!con->loop)
		return;		/* never initialised */
	console_drain(con->loop, &con->wake, 0);
	for (int i = 0; i < CONSOLE_MAX_CLIENTS; i++)
		if (con->clients[i].fd >= 0)
			client_drop(&con->clients[i]);
	if (con->listen_fd >= 0) {
		ev_io_stop(con->loop, &con->accept_watcher);
		close(con->listen_fd);
		con->listen_fd = -1;
	}
	ev_async_stop(con->loop, &con->wake);
	if (con->log_fd >= 0)
		close(con->log_fd);
	con->log_fd = -1;
	if (con->log_old_fd >= 0)
		close(con->log_old_fd);
	con->log_old_fd = -1;
	con->loop = NULL;
}
