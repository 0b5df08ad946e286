// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/events.h"
#include "daemon/watch.h"
#include "util/jsonutil.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

static int connect_unix(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/* ---- the worker process ---- */

/* exit.json: what a worker that is not our child says about its end */
static void read_exit_file(struct vm_entry *e, int *code, char *reason, size_t len)
{
	char path[PATH_MAX + 16];
	json_t *j;

	snprintf(path, sizeof(path), "%s/exit.json", e->dir);
	j = json_load_file(path, 0, NULL);
	*code = -1;
	if (j) {
		*code = (int)json_integer_value(json_object_get(j, "code"));
		snprintf(reason, len, "%s",
			 json_string_value(json_object_get(j, "reason")) ?: "");
	}
	json_decref(j);
}

static void pidfd_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct vm_entry *e = w->data;
	char reason[160] = "";
	int status = 0, code;
	bool waited;

	waited = waitpid(e->pid, &status, WNOHANG) == e->pid;
	read_exit_file(e, &code, reason, sizeof(reason));
	watch_stop(e);
	e->pid = 0;
	if (waited)
		registry_worker_exited(e, status, reason);
	else if (code >= 0)
		registry_worker_exited(e, W_EXITCODE(code, 0), reason);
	else	/* not our child and it left no word: it was killed */
		registry_worker_exited(e, REGISTRY_STATUS_UNKNOWN,
				       "worker vanished without a word (killed?)");
}

int watch_start(struct vm_entry *e)
{
	int fd = (int)syscall(SYS_pidfd_open, e->pid, 0);

	if (fd < 0)
		return -errno;
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	e->pidfd = fd;
	ev_io_init(&e->pid_watcher, pidfd_cb, fd, EV_READ);
	e->pid_watcher.data = e;
	ev_io_start(e->d->loop, &e->pid_watcher);
	return 0;
}

void watch_stop(struct vm_entry *e)
{
	if (e->pidfd >= 0) {
		ev_io_stop(e->d->loop, &e->pid_watcher);
		close(e->pidfd);
		e->pidfd = -1;
	}
	watch_unlink(e);
}

/* ---- a line-reading link to one of the worker's sockets ---- */

static void link_close(struct vm_link *l, struct ev_loop *loop)
{
	if (l->fd >= 0) {
		ev_io_stop(loop, &l->watcher);
		close(l->fd);
	}
	l->fd = -1;
	l->len = 0;
}

/* Read what is there; call fn for each complete line.  -1 at EOF. */
static int link_read(struct vm_link *l, void (*fn)(struct vm_entry *, char *),
		     struct vm_entry *e)
{
	for (;;) {
		ssize_t n = read(l->fd, l->buf + l->len, sizeof(l->buf) - 1 - l->len);
		char *start, *nl;

		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		if (n == 0)
			return -1;
		l->len += (size_t)n;
		l->buf[l->len] = '\0';
		start = l->buf;
		while ((nl = memchr(start, '\n', l->len - (size_t)(start - l->buf)))) {
			*nl = '\0';
			fn(e, start);
			start = nl + 1;
		}
		l->len -= (size_t)(start - l->buf);
		memmove(l->buf, start, l->len);
		if (l->len == sizeof(l->buf) - 1) {
			l->buf[l->len] = '\0';	/* an endless line: cut it */
			fn(e, l->buf);
			l->len = 0;
		}
	}
}

static void event_line(struct vm_entry *e, char *line)
{
	json_t *msg = json_loads(line, 0, NULL);
	json_t *p = json_object_get(msg, "params");
	const char *kind = json_string_value(json_object_get(p, "kind"));

	if (!kind || strcmp(json_string_value(json_object_get(msg, "method")) ?: "",
			    "worker.event")) {
		json_decref(msg);
		return;
	}
	registry_worker_event(e, kind, p);
	json_decref(msg);
}

static void event_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct vm_entry *e = w->data;

	if (link_read(&e->events, event_line, e) < 0)
		link_close(&e->events, loop);
}

int watch_link(struct vm_entry *e)
{
	static const char req[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"worker.subscribe\"}\n";
	char path[PATH_MAX + 16];
	int fd;

	if (e->events.fd >= 0)
		return 0;
	snprintf(path, sizeof(path), "%s/control.sock", e->dir);
	fd = connect_unix(path);
	if (fd < 0)
		return fd;
	if (write(fd, req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1) {
		close(fd);
		return -EIO;
	}
	e->events.fd = fd;
	e->events.len = 0;
	ev_io_init(&e->events.watcher, event_cb, fd, EV_READ);
	e->events.watcher.data = e;
	ev_io_start(e->d->loop, &e->events.watcher);
	watch_console_update(e);
	return 0;
}

void watch_unlink(struct vm_entry *e)
{
	link_close(&e->events, e->d->loop);
	link_close(&e->console, e->d->loop);
}

/* ---- console lines as events ---- */

static void console_line(struct vm_entry *e, char *line)
{
	size_t n = strlen(line);

	if (n && line[n - 1] == '\r')
		line[--n] = '\0';
	events_emit(e->d, e->name, EVENT_CONSOLE,
		    json_pack("{s:o}", "line", json_string_lossy(line, n)));
}

static void console_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct vm_entry *e = w->data;

	if (link_read(&e->console, console_line, e) < 0)
		link_close(&e->console, loop);
}

void watch_console_update(struct vm_entry *e)
{
	bool want = e->pid && events_want_console(e->d, e->name);
	char path[PATH_MAX + 16];
	int fd;

	if (!want) {
		link_close(&e->console, e->d->loop);
		return;
	}
	if (e->console.fd >= 0)
		return;
	snprintf(path, sizeof(path), "%s/console.sock", e->dir);
	fd = connect_unix(path);
	if (fd < 0)
		return;
	/* we only read: the worker keeps sending after our half-close */
	shutdown(fd, SHUT_WR);
	e->console.fd = fd;
	e->console.len = 0;
	ev_io_init(&e->console.watcher, console_cb, fd, EV_READ);
	e->console.watcher.data = e;
	ev_io_start(e->d->loop, &e->console.watcher);
}
