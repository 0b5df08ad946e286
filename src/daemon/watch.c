// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/events.h"
#include "daemon/watch.h"
#include "rpc/worker_proto.h"
#include "util/jsonutil.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/* the worker of a VM that is gone, until it has ended */
struct reaper {
	struct reaper *next;
	struct daemon *d;
	pid_t pid;
	uid_t uid;			/* its worker uid: no other until it is gone */
	int pidfd;
	ev_io watcher;
};

bool watch_reaping_uid(const struct daemon *d, uid_t uid)
{
	for (const struct reaper *r = d->reaping; r; r = r->next)
		if (r->uid == uid)
			return true;
	return false;
}

static int connect_unix(const char *path);

/* Connect to one of e's sockets: a socket, not a symlink to anything. */
static int connect_vm(struct vm_entry *e, const char *name)
{
	char path[PATH_MAX + 32];
	struct stat st;
	int dirfd = vm_dirfd(e);

	if (dirfd < 0)
		return -ENOENT;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISSOCK(st.st_mode))
		return -ENOTSOCK;
	snprintf(path, sizeof(path), "%s/%s", e->dir, name);
	return connect_unix(path);
}

static int connect_unix(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

/* ---- the worker process ---- */

bool watch_exit_word(struct vm_entry *e, int *code, char *reason, size_t len)
{
	int dirfd = vm_dirfd(e), err;
	size_t n = 0;
	char *text = dirfd < 0 ? NULL : fs_read_at(dirfd, "exit.json", 65536, &n, &err);
	json_t *j = text ? json_loadb(text, n, 0, NULL) : NULL;

	free(text);
	*code = -1;
	if (reason && len)
		reason[0] = '\0';
	if (!json_is_integer(json_object_get(j, "code"))) {
		json_decref(j);
		return false;
	}
	*code = (int)json_integer_value(json_object_get(j, "code"));
	if (reason && len)
		snprintf(reason, len, "%s",
			 json_string_value(json_object_get(j, "reason")) ?: "");
	json_decref(j);
	return true;
}

static void pidfd_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct vm_entry *e = w->data;
	const struct watch_ops *ops = e->d->watch_ops;
	char reason[160] = "";
	int status = 0, code;
	bool waited;

	/* the answers and events it sent before it ended come first: a
	 * guest that powers off at once has still been started */
	rpc_link_drain(e->link);
	waited = waitpid(e->pid, &status, WNOHANG) == e->pid;
	watch_exit_word(e, &code, reason, sizeof(reason));
	watch_stop(e);
	e->pid = 0;
	if (waited)
		ops->exited(e, status, reason);
	else if (code >= 0)
		ops->exited(e, W_EXITCODE(code, 0), reason);
	else	/* not our child and it left no word: it was killed */
		ops->exited(e, REGISTRY_STATUS_UNKNOWN,
			    "worker vanished without a word (killed?)");
}

int watch_start(struct vm_entry *e)
{
	int fd;

	if (e->pidfd >= 0)
		return 0;
	fd = (int)syscall(SYS_pidfd_open, e->pid, 0);
	if (fd < 0)
		return -errno;
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	e->pidfd = fd;
	ev_io_init(&e->pid_watcher, pidfd_cb, fd, EV_READ);
	e->pid_watcher.data = e;
	ev_io_start(e->d->loop, &e->pid_watcher);
	return 0;
}

static void link_close(struct vm_link *l, struct ev_loop *loop)
{
	if (l->fd >= 0) {
		ev_io_stop(loop, &l->watcher);
		close(l->fd);
	}
	l->fd = -1;
	l->len = 0;
}

void watch_stop(struct vm_entry *e)
{
	struct rpc_link *l = e->link;

	if (e->pidfd >= 0) {
		ev_io_stop(e->d->loop, &e->pid_watcher);
		close(e->pidfd);
		e->pidfd = -1;
	}
	/* pending calls fail now, while e is still whole */
	e->link = NULL;
	rpc_link_free(l);
	link_close(&e->console, e->d->loop);
}

int watch_signal(struct vm_entry *e, int sig)
{
	if (e->pidfd >= 0) {
		if (syscall(SYS_pidfd_send_signal, e->pidfd, sig, NULL, 0) == 0)
			return 0;
		return -errno;
	}
	if (e->pid > 0 && kill(e->pid, sig) == 0)
		return 0;
	return -errno;
}

static void reaper_free(struct daemon *d, struct reaper *r)
{
	for (struct reaper **pp = &d->reaping; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	ev_io_stop(d->loop, &r->watcher);
	close(r->pidfd);
	free(r);
}

static void reaper_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct reaper *r = w->data;
	int status;

	/* a child is reaped; an adopted worker is init's to reap */
	waitpid(r->pid, &status, WNOHANG);
	log_debug("worker %d of a removed VM has ended", (int)r->pid);
	if (r->d->cgroup.ok)
		cgroup_sweep(&r->d->cgroup);
	reaper_free(r->d, r);
}

void watch_abandon(struct vm_entry *e)
{
	struct daemon *d = e->d;
	struct reaper *r;

	if (!e->pid) {
		watch_stop(e);
		return;
	}
	watch_signal(e, SIGKILL);
	r = calloc(1, sizeof(*r));
	if (r && e->pidfd >= 0) {
		r->d = d;
		r->pid = e->pid;
		r->uid = e->worker_uid;
		r->pidfd = e->pidfd;
		ev_io_stop(d->loop, &e->pid_watcher);
		e->pidfd = -1;
		ev_io_init(&r->watcher, reaper_cb, r->pidfd, EV_READ);
		r->watcher.data = r;
		ev_io_start(d->loop, &r->watcher);
		r->next = d->reaping;
		d->reaping = r;
	} else {
		free(r);
	}
	e->pid = 0;
	watch_stop(e);
}

void watch_reapers_free(struct daemon *d)
{
	while (d->reaping)
		reaper_free(d, d->reaping);
}

/* ---- the worker link ---- */

static void link_notify(void *ctx, const char *method, json_t *params)
{
	struct vm_entry *e = ctx;
	const char *kind = json_string_value(json_object_get(params, "kind"));

	if (kind && !strcmp(method, WORKER_M_EVENT))
		e->d->watch_ops->event(e, kind, params);
}

static void link_closed(void *ctx, int err)
{
	struct vm_entry *e = ctx;

	/* the pidfd says whether the worker ended; a worker that only
	 * dropped its end gets a new link with the next call */
	log_debug("VM %s: worker link closed (%s)", e->name,
		  err ? strerror(-err) : "end of file");
}

static void link_timeout(void *ctx, const char *method, double seconds)
{
	struct vm_entry *e = ctx;
	char why[160];

	snprintf(why, sizeof(why), "its worker did not answer %s within %g s",
		 method, seconds);
	e->d->watch_ops->responsive(e, false, why);
}

static void link_answered(void *ctx)
{
	struct vm_entry *e = ctx;

	if (e->unresponsive)
		e->d->watch_ops->responsive(e, true, "its worker answers again");
}

static const struct rpc_link_ops worker_link_ops = {
	.notify = link_notify,
	.closed = link_closed,
	.timeout = link_timeout,
	.answered = link_answered,
};

int watch_link(struct vm_entry *e)
{
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	int fd, r;

	if (rpc_link_open(e->link))
		return 0;
	rpc_link_free(e->link);
	e->link = NULL;
	fd = connect_vm(e, "control.sock");
	if (fd < 0)
		return fd;
	/* the listening worker's credentials: a re-adopted worker's pid */
	if (!e->pid && getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0)
		e->pid = cred.pid;
	e->link = rpc_link_new(e->d->loop, fd, &worker_link_ops, e);
	if (!e->link) {
		close(fd);
		return -ENOMEM;
	}
	/* events come on the same link; the answer matters to nobody */
	r = rpc_link_call(e->link, WORKER_M_SUBSCRIBE, NULL,
			  registry_worker_timeout(e->d), NULL, NULL);
	watch_console_update(e);
	return r;
}

int watch_call(struct vm_entry *e, const char *method, json_t *params,
	       rpc_link_reply_fn fn, void *arg)
{
	return watch_call_fds(e, method, params, NULL, 0, fn, arg);
}

int watch_call_fds(struct vm_entry *e, const char *method, json_t *params,
		   const int *fds, unsigned nfds, rpc_link_reply_fn fn, void *arg)
{
	int r;

	if (!rpc_link_open(e->link)) {
		r = e->pid ? watch_link(e) : -ENOTCONN;
		if (r < 0) {
			for (unsigned i = 0; i < nfds; i++)
				close(fds[i]);
			return r;
		}
	}
	return rpc_link_call_fds(e->link, method, params, fds, nfds,
				 registry_worker_timeout(e->d), fn, arg);
}

/* ---- console lines as events ---- */

/* Read what is there; call fn for each complete line.  -1 at EOF. */
static int line_read(struct vm_link *l, void (*fn)(struct vm_entry *, char *),
		     struct vm_entry *e)
{
	for (int rounds = 0; rounds < 16; rounds++) {
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
	return 0;
}

static void console_line(struct vm_entry *e, char *line)
{
	size_t n = strlen(line);

	if (n && line[n - 1] == '\r')
		line[--n] = '\0';
	events_emit(e->d, e->name, e->owner, EVENT_CONSOLE,
		    json_pack("{s:o}", "line", json_string_lossy(line, n)));
}

static void console_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct vm_entry *e = w->data;

	if (line_read(&e->console, console_line, e) < 0)
		link_close(&e->console, loop);
}

void watch_console_update(struct vm_entry *e)
{
	bool want = e->pid && events_want_console(e->d, e->name, e->owner);
	int fd;

	if (!want) {
		link_close(&e->console, e->d->loop);
		return;
	}
	if (e->console.fd >= 0)
		return;
	fd = connect_vm(e, "console.sock");
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
