// SPDX-License-Identifier: MIT
/* The warm pool of jailed workers waiting for a VM (pool.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arm64/layout.h"
#include "daemon/daemon.h"
#include "daemon/jail.h"
#include "daemon/pool.h"
#include "daemon/watch.h"
#include "rpc/handoff.h"
#include "rpc/worker_proto.h"
#include "util/log.h"

#define POOL_SEND_TIMEOUT_MS	2000
#define POOL_BACKOFF_MAX_S	30.

struct idle {
	struct idle *next;
	struct pool *pool;
	struct pool_worker w;
	int pidfd;
	ev_io watcher;			/* the pidfd: it ended */
};

struct pool {
	struct daemon *d;
	unsigned size;
	unsigned nidle;
	struct idle *idle;
	ev_timer refill;
	unsigned failures;		/* spawns in a row that failed */
	unsigned long spawned, taken, lost;
	long vm_type;			/* the last VM's KVM type: made ahead (-1: none) */
	char root[RUNTIME_DIR_MAX + 32];
};

static void refill_soon(struct pool *p, double after)
{
	if (p->nidle >= p->size || p->d->stopping)
		return;
	if (p->failures)
		after = 0.5 * (double)(1u << (p->failures > 6 ? 6 : p->failures));
	if (after > POOL_BACKOFF_MAX_S)
		after = POOL_BACKOFF_MAX_S;
	if (ev_is_active(&p->refill))
		return;
	ev_timer_set(&p->refill, after, 0.);
	ev_timer_start(p->d->loop, &p->refill);
}

static void cgroup_name(uid_t uid, char *buf, size_t len)
{
	/* a VM's cgroup is NAME-UID: a dot keeps these apart from every one */
	snprintf(buf, len, "pool.%u", (unsigned)uid);
}

static void idle_free(struct pool *p, struct idle *i)
{
	struct idle **pp = &p->idle;

	while (*pp && *pp != i)
		pp = &(*pp)->next;
	if (*pp) {
		*pp = i->next;
		p->nidle--;
	}
	ev_io_stop(p->d->loop, &i->watcher);
	if (i->pidfd >= 0)
		close(i->pidfd);
	free(i);
}

/* An idle worker ended: what it said (a jail step's error line), reaped. */
static void idle_ended(struct ev_loop *loop, ev_io *io, int revents)
{
	struct idle *i = io->data;
	struct pool *p = i->pool;
	char line[400];
	ssize_t n;
	int status = 0;

	(void)loop;
	(void)revents;
	n = recv(i->w.sock, line, sizeof(line) - 1, MSG_DONTWAIT);
	line[n > 0 ? n : 0] = '\0';
	if (n > 0 && line[n - 1] == '\n')
		line[n - 1] = '\0';
	waitpid(i->w.pid, &status, WNOHANG);
	log_warn("pooled worker %d ended while waiting (%s%d)%s%s", (int)i->w.pid,
		 WIFSIGNALED(status) ? "signal " : "exit ",
		 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
		 n > 0 ? ": " : "", n > 0 ? line : "");
	p->lost++;
	p->failures++;
	close(i->w.sock);
	if (i->w.cgname[0])
		cgroup_vm_remove(&p->d->cgroup, i->w.cgname);
	idle_free(p, i);
	refill_soon(p, 0.);
}

static int spawn_one(struct pool *p)
{
	struct daemon *d = p->d;
	char type[24];
	char *argv[] = { "armvmd-worker", "--pool-fd", "3", "--log-level",
			 d->log_level == LOG_DEBUG ? "debug" : "info", NULL, NULL, NULL, NULL,
			 NULL };
	struct jail_spec js = { .sandbox = d->sandbox, .exe_fd = d->worker_exe_fd,
				.cgroup_fd = -1, .go_fd = -1, .argv = argv };
	struct idle *i = calloc(1, sizeof(*i));
	int sv[2] = { -1, -1 }, null = -1, cgfd = -1, kvm = -1, r;
	char msg[400];

	if (!i)
		return -ENOMEM;
	i->pool = p;
	i->pidfd = -1;
	i->w.sock = -1;
	r = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (r < 0 || null < 0) {
		r = -errno;
		snprintf(msg, sizeof(msg), "socketpair or /dev/null: %s", strerror(-r));
		goto fail;
	}
	js.fds[0] = js.fds[1] = js.fds[2] = null;
	js.fds[3] = sv[1];
	js.nfds = 4;
	/* with /dev/kvm it makes the VM the last one was, ahead */
	if (p->vm_type >= 0 && (kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC)) >= 0) {
		snprintf(type, sizeof(type), "%ld", p->vm_type);
		js.fds[js.nfds++] = kvm;
		argv[5] = "--kvm-fd";
		argv[6] = "4";
		argv[7] = "--vm-type";
		argv[8] = type;
	}
	js.status_fd = 3;		/* a failed jail step is said on the socket */
	if (d->sandbox) {
		i->w.uid = pool_pick_uid(d);
		if (!i->w.uid) {
			r = -EAGAIN;
			snprintf(msg, sizeof(msg), "no worker uid left");
			goto fail;
		}
		js.uid = i->w.uid;
		js.gid = (gid_t)i->w.uid;
		js.root_dir = p->root;
		js.hostname = "armvm-pool";
		/* the most any VM's worker may have; its VM's bounds, lower,
		 * come with the spec */
		js.nofile = 128 + WORKER_POOL_MAX_FDS + 2 * LAYOUT_MAX_VCPUS_GICV3 + 16 * 32;
		js.nproc = LAYOUT_MAX_VCPUS_GICV3 + 4;
		if (d->cgroup.ok) {
			cgroup_name(i->w.uid, i->w.cgname, sizeof(i->w.cgname));
			cgroup_sweep(&d->cgroup);
			cgfd = cgroup_vm_create(&d->cgroup, i->w.cgname, POOL_MEM_MAX,
						POOL_PIDS_MAX, 100, msg, sizeof(msg));
			if (cgfd < 0) {
				r = cgfd;
				i->w.cgname[0] = '\0';
				goto fail;
			}
			js.cgroup_fd = cgfd;
		}
	}
	r = jail_spawn(&js, &i->w.pid, &i->pidfd, msg, sizeof(msg));
	if (r < 0)
		goto fail;
	close(sv[1]);
	close(null);
	if (kvm >= 0)
		close(kvm);
	if (cgfd >= 0)
		close(cgfd);
	i->w.sock = sv[0];
	if (i->pidfd < 0)
		i->pidfd = (int)syscall(SYS_pidfd_open, i->w.pid, 0);
	if (i->pidfd >= 0) {
		ev_io_init(&i->watcher, idle_ended, i->pidfd, EV_READ);
		i->watcher.data = i;
		ev_io_start(d->loop, &i->watcher);
	}
	i->next = p->idle;
	p->idle = i;
	p->nidle++;
	p->spawned++;
	log_debug("pooled worker %d spawned (uid %u)", (int)i->w.pid, (unsigned)i->w.uid);
	return 0;
fail:
	log_warn("cannot spawn a pooled worker: %s", msg);
	for (int k = 0; k < 2; k++)
		if (sv[k] >= 0)
			close(sv[k]);
	if (null >= 0)
		close(null);
	if (kvm >= 0)
		close(kvm);
	if (cgfd >= 0)
		close(cgfd);
	if (i->w.cgname[0])
		cgroup_vm_remove(&d->cgroup, i->w.cgname);
	free(i);
	return r;
}

/* one worker per iteration, and only while no VM is being set up: the
 * pool never competes with a create for the CPUs */
static void refill_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct pool *p = t->data;

	(void)loop;
	(void)revents;
	if (p->nidle >= p->size || p->d->stopping)
		return;
	for (struct vm_entry *e = p->d->vms; e; e = e->next)
		if (e->state == VM_CREATING) {
			refill_soon(p, 0.05);
			return;
		}
	if (spawn_one(p) < 0)
		p->failures++;
	else
		p->failures = 0;
	refill_soon(p, 0.);
}

int pool_init(struct daemon *d, unsigned size)
{
	struct pool *p;

	if (!size)
		return 0;
	if (d->worker_exe_fd < 0)
		return 0;
	if (d->sandbox && d->scopes) {
		/* a scope is made for a pid before it may run: not for one
		 * that waits already (docs/PERFORMANCE.md) */
		log_info("no warm pool: workers' cgroups are systemd scopes");
		return 0;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->d = d;
	p->vm_type = -1;
	p->size = size > POOL_SIZE_MAX ? POOL_SIZE_MAX : size;
	snprintf(p->root, sizeof(p->root), "%s/pool-root", d->runtime_dir);
	if (mkdir(p->root, 0755) < 0 && errno != EEXIST) {
		log_warn("no warm pool: %s: %s", p->root, strerror(errno));
		free(p);
		return -errno;
	}
	ev_timer_init(&p->refill, refill_cb, 0., 0.);
	p->refill.data = p;
	d->pool = p;
	refill_soon(p, 0.);
	log_info("warm pool of %u workers", p->size);
	return 0;
}

void pool_note_vm_type(struct daemon *d, unsigned long type)
{
	if (d->pool)
		d->pool->vm_type = (long)type;
}

uid_t pool_pick_uid(struct daemon *d)
{
	for (unsigned k = 0; k < d->worker_id_count; k++) {
		uid_t u = d->worker_id_first + k;
		bool used = watch_reaping_uid(d, u) || pool_has_uid(d, u);

		for (const struct vm_entry *o = d->vms; o && !used; o = o->next)
			used = o->worker_uid == u;
		if (!used)
			return u;
	}
	return 0;
}

bool pool_has_uid(const struct daemon *d, uid_t uid)
{
	for (struct idle *i = d->pool ? d->pool->idle : NULL; i; i = i->next)
		if (i->w.uid == uid)
			return true;
	return false;
}

bool pool_take(struct daemon *d, struct pool_worker *pw)
{
	struct pool *p = d->pool;
	struct idle *i = p ? p->idle : NULL;

	if (!i)
		return false;
	*pw = i->w;
	idle_free(p, i);
	p->taken++;
	refill_soon(p, 0.05);
	return true;
}

int pool_send(struct pool_worker *pw, const char *text, const int *fds, unsigned nfds)
{
	/* the worker is waiting in recvmsg: the line goes at once; a long
	 * one is waited for, within a bound */
	return handoff_send(pw->sock, text, fds, nfds, WORKER_POOL_MAX_FDS,
			    WORKER_POOL_MAX_SPEC, POOL_SEND_TIMEOUT_MS);
}

void pool_discard(struct daemon *d, struct pool_worker *pw)
{
	int status;

	/* it was never sent a VM: it has run nothing of a guest's, and
	 * ends at once */
	kill(pw->pid, SIGKILL);
	while (waitpid(pw->pid, &status, 0) < 0 && errno == EINTR)
		;
	pool_release(d, pw);
}

void pool_release(struct daemon *d, struct pool_worker *pw)
{
	if (pw->sock >= 0)
		close(pw->sock);
	pw->sock = -1;
	if (pw->cgname[0] && d->cgroup.ok)
		cgroup_vm_remove(&d->cgroup, pw->cgname);
	pw->cgname[0] = '\0';
}

json_t *pool_info(const struct daemon *d)
{
	const struct pool *p = d->pool;

	if (!p)
		return json_pack("{s:i, s:i}", "size", 0, "idle", 0);
	return json_pack("{s:i, s:i, s:I, s:I, s:I, s:i}", "size", (int)p->size,
			 "idle", (int)p->nidle, "spawned", (json_int_t)p->spawned,
			 "taken", (json_int_t)p->taken, "lost", (json_int_t)p->lost,
			 "failures", (int)p->failures);
}

void pool_free(struct daemon *d)
{
	struct pool *p = d->pool;

	if (!p)
		return;
	ev_timer_stop(d->loop, &p->refill);
	while (p->idle) {
		struct idle *i = p->idle;

		/* our end closes: it reads EOF and ends by itself */
		close(i->w.sock);
		idle_free(p, i);
	}
	free(p);
	d->pool = NULL;
}
