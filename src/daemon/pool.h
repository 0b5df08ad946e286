/* SPDX-License-Identifier: MIT */
/*
 * The warm pool: workers spawned into their jails before any VM needs
 * them (armvmd --pool N, default POOL_SIZE_DEFAULT; 0: none).  Each is an
 * exec'd armvmd-worker --pool-fd 3 with its own worker uid, its
 * namespaces, its empty root, no capabilities, and — with the daemon's
 * cgroups — a small cgroup of its own, waiting on its end of a socketpair.
 * vm.create takes one (pool_take) and sends it the spec and the VM's
 * descriptors (pool_send); the VM's cgroup and rlimits replace the pool's
 * before the worker reads them.  Taking one schedules a refill, made one
 * worker per loop iteration after the answers of the moment, with a
 * growing pause after failed spawns.  An idle worker that ends is reaped
 * and replaced.  Its seccomp filters are installed once its VM is set up,
 * as for any worker: the pool widens no allowlist.
 */
#ifndef ARMVMD_POOL_H
#define ARMVMD_POOL_H

#include <stdbool.h>
#include <sys/types.h>

#include <jansson.h>

#define POOL_SIZE_DEFAULT	2
#define POOL_SIZE_MAX		64
/* memory and tasks a worker may use while it waits */
#define POOL_MEM_MAX		(64u << 20)
#define POOL_PIDS_MAX		4

struct daemon;
struct pool;

struct pool_worker {
	pid_t pid;
	uid_t uid;			/* its worker uid (and gid) */
	int sock;			/* our end of its socketpair */
	char cgname[64];		/* its cgroup while it waits ("": none) */
};

/* Start the pool of size workers (0: none), filled from the loop. */
int pool_init(struct daemon *d, unsigned size);

/* A VM of KVM type type was set up: workers spawned from now on make
 * such a VM ahead, while they wait. */
void pool_note_vm_type(struct daemon *d, unsigned long type);

/* The lowest worker uid (--worker-ids) that no VM's worker, no worker
 * still dying and no pooled one has; 0 when all are taken.  The one rule
 * for handing out worker uids. */
uid_t pool_pick_uid(struct daemon *d);

/* Whether uid is one of the pool's workers' (not to be given again). */
bool pool_has_uid(const struct daemon *d, uid_t uid);

/* An idle worker, now the caller's (pool_release when done with it), or
 * false when none is ready or the pool cannot serve this daemon's mode. */
bool pool_take(struct daemon *d, struct pool_worker *pw);

/* Send the spec text (one line, without its newline) and nfds
 * descriptors (fds[i] becomes index i of spec.fds) to a taken worker.
 * 0 or -errno (the worker is gone: spawn one the usual way). */
int pool_send(struct pool_worker *pw, const char *text, const int *fds, unsigned nfds);

/* Forget a taken worker: our end of its socketpair closes (if it was
 * not sent its VM, it ends); its waiting cgroup is removed when empty. */
void pool_release(struct daemon *d, struct pool_worker *pw);

/* A taken worker that could not be sent its VM: killed, reaped, released. */
void pool_discard(struct daemon *d, struct pool_worker *pw);

/* daemon.info: {"size", "idle", "spawned", "taken", "failures"} */
json_t *pool_info(const struct daemon *d);

/* End the idle workers and free the pool (daemon shutdown). */
void pool_free(struct daemon *d);

#endif
