/* SPDX-License-Identifier: MIT */
/* The supervisor's one handle: everything the daemon owns hangs off it. */
#ifndef ARMVMD_DAEMON_H
#define ARMVMD_DAEMON_H

#include <ev.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>

#include "arm64/plan.h"
#include "rpc/limits.h"
#include "rpc/rpc.h"
#include "rpc/server.h"
#include "daemon/files.h"
#include "daemon/cgroup.h"
#include "util/fs.h"
#include "util/log.h"

/*
 * VM states, written down once.  Allowed transitions:
 *   creating -> created -> running <-> paused
 *   created, running, paused -> stopped (-> creating again on vm.start)
 *   any state with a worker -> crashed (the worker died)
 *   any -> destroyed (gone from the registry and the state directory)
 * Which methods each state allows is in the method table (.states).
 */
enum vm_state {
	VM_CREATING,		/* worker setting the VM up */
	VM_CREATED,		/* set up, vCPUs not started */
	VM_RUNNING,
	VM_PAUSED,		/* vCPUs parked; console still readable */
	VM_STOPPED,		/* no worker; the definition stays */
	VM_CRASHED,		/* the worker died unexpectedly */
	VM_NSTATES,
};

#define VM_S(s)		(1u << (s))
#define VM_S_ANY	((1u << VM_NSTATES) - 1)

const char *vm_state_name(enum vm_state s);
json_t *vm_states_json(unsigned mask);

/* jailed workers' uids and gids (--worker-ids): far above users' and
 * containers' subordinate ranges */
#define WORKER_IDS_FIRST	1879048192u	/* 0x70000000 */
#define WORKER_IDS_COUNT	65536u

/* the worker's sockets live in RUNTIME_DIR/vms/NAME/: sun_path is 108 bytes */
#define RUNTIME_DIR_MAX	48

/* a line-reading connection to one of a worker's sockets */
struct vm_link {
	int fd;
	ev_io watcher;
	size_t len;
	char buf[4096];
};

struct rpc_link;

/* a call waiting for the VM's worker to end (vm.stop) */
struct vm_waiter {
	struct vm_waiter *next;
	struct rpc_call *call;
};

struct vm_entry {
	struct daemon *d;
	struct vm_entry *next;
	unsigned long serial;		/* unique for this daemon: jobs find it by it */
	char name[64];
	char dir[PATH_MAX];		/* its runtime directory, for messages and the worker */
	int dirfd;			/* the same, open (vm_dirfd), or -1 */
	uid_t owner;			/* who created it (peer uid) */
	struct server_peer_cred owner_cred;	/* with gid and groups (known: at create) */
	struct plan_files kept;		/* descriptors passed with vm.create (vmfiles.h) */
	uid_t worker_uid;		/* its worker's own uid (0: none yet) */
	int scope_go;			/* the worker waits on it for its scope; -1 */
	json_t *params;			/* the accepted vm.create parameters */
	struct vm_plan *plan;
	enum vm_state state;
	char reason[160];		/* why it is in that state */
	pid_t pid;			/* worker, 0 when none */
	int pidfd;			/* tells when the worker ends */
	ev_io pid_watcher;
	struct rpc_link *link;		/* requests to the worker, its events */
	json_t *live;			/* the live state it pushed last, or NULL */
	double live_at;			/* when (ev_now) */
	json_t *cg_stats;		/* its cgroup's figures as last read, or NULL */
	double cg_stats_at;		/* when (ev_now) */
	pid_t cg_stats_pid;		/* of which worker */
	int proto;			/* the worker's protocol version */
	bool unresponsive;		/* a call missed its deadline */
	struct vm_link console;		/* console lines, while subscribed */
	ev_io status_watcher;
	ev_timer setup_timer;		/* the status line is late: kill */
	int status_fd;
	char status_buf[2048];
	size_t status_len;
	ev_timer kill_timer;		/* a stop that the worker ignores: SIGKILL */
	bool kill_requested;		/* its end was asked for: not a crash */
	struct rpc_call *pending;	/* the create/start waiting for the worker */
	struct vm_waiter *stopping;	/* calls answered when the worker is gone */
	bool graceful_stop;		/* a power-key stop is under way */
	bool start_when_ready;
	bool defined;			/* came up once: keep it if a restart fails */
	bool adopting;			/* a previous daemon's worker, being taken over */
	time_t created_at;
	struct timespec started_at;
	/* when the last create/start request arrived, for the boot timer */
	struct timespec start_req_mono, start_req_real;
};

/* vm.info's cgroup figures are read again after this long (seconds) */
#define REGISTRY_CGROUP_STATS_S	1.0

struct subscriber;
struct reaper;
struct pool;
struct watch_ops;

struct daemon {
	struct ev_loop *loop;
	struct armvmd_limits limits;	/* every bound a client meets (limits.h) */
	char runtime_dir[RUNTIME_DIR_MAX + 1];
	char state_dir[PATH_MAX];
	json_t *state_problems;		/* state files set aside, for daemon.info */
	struct subscriber *subscribers;	/* events.subscribe connections */
	time_t started;
	char self_exe[PATH_MAX];
	enum log_level log_level;
	struct vm_entry *vms;
	unsigned long next_vm_number;
	bool have_group;		/* --group exists: VM consoles are shared */
	gid_t group;			/* with it (root:group, dir 0750, socket 0660) */
	bool have_admin_group;		/* --admin-group: its members may drive and */
	gid_t admin_group;		/* look inside every VM (authz.h) */
	char admin_group_name[64];
	unsigned long next_serial;	/* of vm_entry */
	struct reaper *reaping;		/* workers of removed VMs, until they end */
	const struct watch_ops *watch_ops;	/* how watch.c reports to the registry */
	unsigned adopting;		/* re-adoptions still waiting for an answer */
	void (*adopted)(struct daemon *d);	/* called once they are all done */
	bool stopping;			/* shutting down: start nothing */
	struct jobs *jobs;		/* slow work off the loop (jobs.h) */
	int state_dirfd;		/* STATE_DIR/vms (state_init), else -1 */
	int runtime_dirfd;		/* RUNTIME_DIR (runtime_init), else -1 */
	int vms_dirfd;			/* RUNTIME_DIR/vms (runtime_init), else -1 */
	/* containment (docs/SECURITY.md) */
	struct files_policy files_policy;	/* --allow-block-devices, --allow-tap */
	bool sandbox;			/* jailed workers; --no-sandbox turns it off */
	bool test_seccomp_trip;		/* --test-seccomp-trip: workers make a forbidden call */
	uid_t worker_id_first;		/* --worker-ids FIRST:COUNT */
	unsigned worker_id_count;
	int worker_exe_fd;		/* armvmd-worker, O_PATH, held from the start */
	char worker_exe[PATH_MAX];
	struct cgroup_base cgroup;	/* the workers' cgroups (cgroup.h) */
	bool scopes;			/* ... or transient systemd scopes (scope.h) */
	struct pool *pool;		/* warm workers waiting for a VM (pool.h), or NULL */
	unsigned pool_size;		/* --pool */
};

/* The cgroup of e's worker: named by the VM and the worker's uid, so that
 * a new VM of the same name never meets a dying worker's cgroup. */
static inline void vm_cgroup_name(const struct vm_entry *e, char *buf, size_t len)
{
	snprintf(buf, len, "%s-%u", e->name, (unsigned)e->worker_uid);
}

/* e's runtime directory as a directory fd (opened when first needed,
 * without following a symlink); -1 when it does not exist. */
static inline int vm_dirfd(struct vm_entry *e)
{
	if (e->dirfd < 0)
		e->dirfd = fs_opendir_at(e->d->vms_dirfd, e->name);
	return e->dirfd < 0 ? -1 : e->dirfd;
}

/* registry.c */
struct vm_entry *registry_find(struct daemon *d, const char *name);
/* The entry named so if it is still the one with that serial (for work
 * that finishes after its VM may have been destroyed and re-created). */
struct vm_entry *registry_find_serial(struct daemon *d, const char *name,
				      unsigned long serial);
struct vm_entry *registry_add(struct daemon *d, const char *name);
/* A definition loaded from the state directory: a stopped VM. */
void registry_add_defined(struct daemon *d, const char *name, json_t *params,
			  time_t created_at, uid_t owner);
/* Take e out and free it; its worker, if any, is killed (not waited for). */
void registry_remove(struct vm_entry *e);
/* Let go of e: out of the registry and freed, its worker and files left
 * alone (a worker not ours to adopt; shutdown). */
void registry_forget(struct vm_entry *e);
/* Daemon shutdown: registry_forget every entry. */
void registry_forget_all(struct daemon *d);
/* Forget a VM for good, telling subscribers (state "destroyed"). */
void registry_destroy(struct vm_entry *e, const char *reason);
/* Spawn the worker for e (state creating) with the run's descriptors
 * (consumed: closed here either way); done() answers e->pending. */
int registry_spawn(struct vm_entry *e, struct plan_files *run, char *msg, size_t msglen);
/* Set a stopped or crashed VM up again: plan it (its files opened as its
 * owner, off the loop), admit it, spawn; e->pending (may be NULL) is
 * answered when it is up or failed. */
void registry_start(struct vm_entry *e);
/* Remove the sockets the daemon bound for e's worker (it ended, or it
 * never listened: a worker not ready when its daemon died must not be
 * found by the next one). */
void registry_unlink_sockets(struct vm_entry *e);
/* The real uid of process pid (a re-adopted worker's own), 0 if unknown. */
uid_t registry_worker_uid_of(pid_t pid);
/* End e's worker: SIGKILL after grace_s (0: now) unless it ends by itself.
 * Nothing waits: the pidfd reports the end. */
void registry_kill(struct vm_entry *e, double grace_s);
/* Save a definition (params, not yet e's) off the loop; then(d, e or NULL
 * when e was destroyed meanwhile, 0 or -errno, arg) on the loop. */
int registry_save(struct vm_entry *e, json_t *params,
		  void (*then)(struct daemon *d, struct vm_entry *e, int err, void *arg),
		  void *arg);
/* Remove a VM's runtime directory and the files in it (no symlink
 * followed), closing e->dirfd. */
void registry_remove_dir(struct vm_entry *e);
/* Answer call when e's worker has ended (vm.stop). */
int registry_wait_end(struct vm_entry *e, struct rpc_call *call);
void registry_set_state(struct vm_entry *e, enum vm_state s, const char *reason);
/* The worker missed a deadline (responsive false) or answered again. */
void registry_set_responsive(struct vm_entry *e, bool responsive, const char *why);
struct plan_host;
void registry_plan_host(struct plan_host *h);
/* The live state e's worker pushed (stolen; NULL: forget it). */
void registry_set_live(struct vm_entry *e, json_t *live);
json_t *vm_entry_json(struct vm_entry *e);
/* The same; brief leaves out the cgroup's figures (files to read). */
json_t *vm_entry_json_brief(struct vm_entry *e, bool brief);
/* A create/start request for e arrived now; the worker.start parameters
 * that pass that time on (the boot timer measures from it). */
void registry_note_start_request(struct vm_entry *e);
json_t *registry_start_params(const struct vm_entry *e);
/*
 * Plan spec off the loop, for who: its files opened as who (or taken from
 * copy, the kept descriptors' copies, which it consumes; NULL: none), then
 * the plan built from them (a gzip kernel is decompressed for it); then
 * done(d, arg, res) on the loop.  res->plan and res->files are the
 * callee's to free and close (registry_planned_free).
 */
struct registry_planned {
	int r;				/* 0 or -1 */
	struct vm_plan *plan;		/* NULL on failure */
	struct plan_files files;	/* the run's descriptors */
	int code;			/* on failure: the error to send */
	char message[400];
	json_t *data;
};
typedef void (*registry_planned_fn)(struct daemon *d, void *arg, struct registry_planned *res);
int registry_plan(struct daemon *d, json_t *spec, const struct server_peer_cred *who,
		  struct plan_files *copy, registry_planned_fn done, void *arg);
void registry_planned_free(struct registry_planned *res);
/* e's owner, as vmfiles opens paths for it: its creator's credentials
 * while this daemon runs, else looked up (off the loop) from its uid */
const struct server_peer_cred *registry_owner_cred(struct vm_entry *e);
/* Recompute e->plan from e->params, off the loop; NULL plan when it no
 * longer builds. */
void registry_replan(struct vm_entry *e);
/* The worker of e ended (wait status, and its own word when known);
 * REGISTRY_STATUS_UNKNOWN: it is gone and nobody knows how (reason says). */
#define REGISTRY_STATUS_UNKNOWN (-1)
/* Log who asked for what (peer credentials of the connection). */
void registry_audit(struct rpc_call *call, const char *what, const char *name);
/* The deadline of a call to a worker, in seconds. */
static inline double registry_worker_timeout(const struct daemon *d)
{
	return d->limits.worker_call_timeout_s > 0 ? d->limits.worker_call_timeout_s : 15.;
}

#endif
