// SPDX-License-Identifier: MIT
/*
 * The VM registry of the supervisor: one entry per VM, its worker process
 * spawned from here and watched with libev (status pipe; pidfd and event
 * link in watch.c), its state changes turned into events and persisted.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arm64/hostinfo.h"
#include "daemon/daemon.h"
#include "daemon/events.h"
#include "daemon/jobs.h"
#include "rpc/server.h"
#include "daemon/state.h"
#include "daemon/watch.h"
#include "daemon/vmfiles.h"
#include "daemon/jail.h"
#include "daemon/pool.h"
#include "daemon/scope.h"
#include "libarmvm.h"
#include "util/fs.h"
#include "rpc/worker_proto.h"

static const char *const state_names[] = {
	[VM_CREATING] = "creating",
	[VM_CREATED] = "created",
	[VM_RUNNING] = "running",
	[VM_PAUSED] = "paused",
	[VM_STOPPED] = "stopped",
	[VM_CRASHED] = "crashed",
};

const char *vm_state_name(enum vm_state s)
{
	return state_names[s];
}

json_t *vm_states_json(unsigned mask)
{
	json_t *a = json_array();

	for (int s = 0; s < VM_NSTATES; s++)
		if (mask & VM_S(s))
			json_array_append_new(a, json_string(state_names[s]));
	return a;
}

struct vm_entry *registry_find(struct daemon *d, const char *name)
{
	for (struct vm_entry *e = d->vms; e; e = e->next)
		if (!strcmp(e->name, name))
			return e;
	return NULL;
}

struct vm_entry *registry_find_serial(struct daemon *d, const char *name,
				      unsigned long serial)
{
	struct vm_entry *e = registry_find(d, name);

	return e && e->serial == serial ? e : NULL;
}

static void kill_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct vm_entry *e = t->data;

	if (e->pid) {
		log_warn("VM %s: worker %d did not end in time: SIGKILL", e->name,
			 (int)e->pid);
		watch_signal(e, SIGKILL);
	}
}

static void setup_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct vm_entry *e = t->data;

	log_warn("VM %s: its worker %d sent no status in %d s: killing it", e->name,
		 (int)e->pid, WORKER_SETUP_TIMEOUT_S);
	if (e->pending) {
		rpc_deferred_fail(e->pending, ARMVM_E_TIMEOUT,
				  json_pack("{s:s, s:s, s:i}", "name", e->name,
					    "method", "set-up", "timeout_s", WORKER_SETUP_TIMEOUT_S),
				  "the worker of VM '%s' did not finish setting it up in %d s",
				  e->name, WORKER_SETUP_TIMEOUT_S);
		e->pending = NULL;
	}
	registry_kill(e, 0);
}

static const struct watch_ops registry_watch_ops;

struct vm_entry *registry_add(struct daemon *d, const char *name)
{
	struct vm_entry *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	d->watch_ops = &registry_watch_ops;
	e->d = d;
	e->serial = ++d->next_serial;
	e->owner = (uid_t)-1;
	ev_timer_init(&e->kill_timer, kill_timer_cb, 1., 0.);
	e->kill_timer.data = e;
	ev_timer_init(&e->setup_timer, setup_timer_cb, WORKER_SETUP_TIMEOUT_S, 0.);
	e->setup_timer.data = e;
	e->status_fd = -1;
	e->pidfd = -1;
	e->console.fd = -1;
	e->dirfd = -1;
	e->scope_go = -1;
	plan_files_init(&e->kept);
	snprintf(e->name, sizeof(e->name), "%s", name);
	snprintf(e->dir, sizeof(e->dir), "%s/vms/%s", d->runtime_dir, name);
	e->created_at = time(NULL);
	e->next = d->vms;
	d->vms = e;
	return e;
}

void registry_remove_dir(struct vm_entry *e)
{
	int r;

	if (e->dirfd >= 0)
		close(e->dirfd);
	e->dirfd = -1;
	r = fs_remove_tree_at(e->d->vms_dirfd, e->name);
	if (r < 0 && r != -ENOENT)
		log_warn("removing %s: %s", e->dir, strerror(-r));
}

static void status_stop(struct vm_entry *e)
{
	ev_timer_stop(e->d->loop, &e->setup_timer);
	if (e->status_fd >= 0) {
		ev_io_stop(e->d->loop, &e->status_watcher);
		close(e->status_fd);
		e->status_fd = -1;
	}
}

static void fail_waiters(struct vm_entry *e, const char *why)
{
	if (e->pending) {
		rpc_deferred_fail(e->pending, ARMVM_E_NO_VM, NULL, "VM %s %s", e->name, why);
		e->pending = NULL;
	}
	while (e->stopping) {
		struct vm_waiter *w = e->stopping;

		e->stopping = w->next;
		rpc_deferred_fail(w->call, ARMVM_E_NO_VM, NULL, "VM %s %s", e->name, why);
		free(w);
	}
}

void registry_remove(struct vm_entry *e)
{
	struct vm_entry **pp;
	int r;

	for (pp = &e->d->vms; *pp; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	}
	ev_timer_stop(e->d->loop, &e->kill_timer);
	status_stop(e);
	fail_waiters(e, "was destroyed");
	/* its worker is killed, not waited for: a reaper collects it */
	watch_abandon(e);
	/* also when its first save is still under way: state.c removes the
	 * file again after that save */
	r = state_forget(e->d, e->name);
	if (r < 0 && r != -ENOENT)
		log_warn("VM %s: removing its definition: %s", e->name, strerror(-r));
	registry_remove_dir(e);
	plan_files_close(&e->kept);
	if (e->scope_go >= 0)
		close(e->scope_go);
	json_decref(e->params);
	json_decref(e->live);
	json_decref(e->cg_stats);
	free(e->plan);
	free(e);
}

void registry_forget(struct vm_entry *e)
{
	for (struct vm_entry **pp = &e->d->vms; *pp; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	}
	ev_timer_stop(e->d->loop, &e->kill_timer);
	status_stop(e);
	fail_waiters(e, "is still running, but the daemon lets go of it");
	watch_stop(e);
	if (e->dirfd >= 0)
		close(e->dirfd);
	plan_files_close(&e->kept);
	if (e->scope_go >= 0)
		close(e->scope_go);
	json_decref(e->params);
	json_decref(e->live);
	json_decref(e->cg_stats);
	free(e->plan);
	free(e);
}

void registry_forget_all(struct daemon *d)
{
	while (d->vms)
		registry_forget(d->vms);
}

void registry_set_state(struct vm_entry *e, enum vm_state s, const char *reason)
{
	enum vm_state prev = e->state;

	if (prev == s) {
		/* same state, new detail (a new worker setting up): no event */
		snprintf(e->reason, sizeof(e->reason), "%s", reason);
		return;
	}
	log_info("VM %s: %s -> %s (%s)", e->name, state_names[prev],
		 state_names[s], reason);
	e->state = s;
	snprintf(e->reason, sizeof(e->reason), "%s", reason);
	if (s == VM_RUNNING && prev != VM_PAUSED)
		clock_gettime(CLOCK_MONOTONIC, &e->started_at);
	events_emit(e->d, e->name, e->owner, EVENT_STATE,
		    json_pack("{s:s, s:s, s:s, s:b}", "state", state_names[s],
			      "previous", state_names[prev], "reason", reason,
			      "unresponsive", e->unresponsive));
}

void registry_set_responsive(struct vm_entry *e, bool responsive, const char *why)
{
	if (e->unresponsive == !responsive)
		return;
	e->unresponsive = !responsive;
	if (responsive)
		log_info("VM %s: %s", e->name, why);
	else
		log_warn("VM %s: unresponsive: %s", e->name, why);
	events_emit(e->d, e->name, e->owner, EVENT_STATE,
		    json_pack("{s:s, s:s, s:s, s:b}", "state", state_names[e->state],
			      "previous", state_names[e->state], "reason", why,
			      "unresponsive", e->unresponsive));
}


void registry_destroy(struct vm_entry *e, const char *reason)
{
	events_emit(e->d, e->name, e->owner, EVENT_STATE,
		    json_pack("{s:s, s:s, s:s}", "state", "destroyed",
			      "previous", state_names[e->state], "reason", reason));
	registry_remove(e);
}

void registry_audit(struct rpc_call *call, const char *what, const char *name)
{
	pid_t pid = -1;
	uid_t uid = (uid_t)-1;

	if (call->conn)
		server_peer(call->conn, &pid, &uid);
	log_info("uid %d (pid %d): %s %s", (int)uid, (int)pid, what, name ? name : "");
}

void registry_add_defined(struct daemon *d, const char *name, json_t *params,
			  time_t created_at, uid_t owner)
{
	struct vm_entry *e;

	if (registry_find(d, name))
		return;
	e = registry_add(d, name);
	if (!e)
		return;
	e->params = json_incref(params);
	e->created_at = created_at;
	e->owner = owner;
	e->defined = true;
	e->state = VM_STOPPED;
	snprintf(e->reason, sizeof(e->reason), "defined; not running");
	registry_replan(e);
}

struct plan_job {
	struct daemon *d;
	json_t *spec;			/* the job's own copy */
	struct server_peer_cred who;
	struct plan_files copy;		/* kept descriptors' copies, consumed */
	struct files_policy policy;
	struct plan_host host;
	struct registry_planned res;
	registry_planned_fn done;
	void *arg;
};

static void plan_work(void *arg)
{
	struct plan_job *j = arg;
	struct registry_planned *res = &j->res;
	struct files_refusal why = { 0 };
	struct layout_error err;

	res->r = -1;
	/* a VM of this daemon's past: its owner's groups as they are now */
	if (!j->who.known)
		files_cred_of_uid(j->who.uid, &j->who);
	if (vmfiles_open(j->spec, &j->who, &j->copy, &j->policy, &res->files, &why) < 0) {
		/* what the plan refuses before it looks at a file (an
		 * address space the host cannot give) is said first */
		struct plan_files none;
		struct vm_plan *probe = calloc(1, sizeof(*probe));

		plan_files_init(&none);
		if (probe && plan_build(j->spec, &j->host, &none, probe, &err) < 0 &&
		    !strstr(err.message, PLAN_NO_FD)) {
			free(probe);
			files_refusal_clear(&why);
			res->code = err.code;
			snprintf(res->message, sizeof(res->message), "%s", err.message);
			res->data = plan_error_data(&err);
			return;
		}
		free(probe);
		res->code = why.code;
		snprintf(res->message, sizeof(res->message), "%s", why.message);
		res->data = why.data;
		return;
	}
	res->plan = calloc(1, sizeof(*res->plan));
	if (!res->plan) {
		res->code = ARMVM_E_RESOURCE;
		snprintf(res->message, sizeof(res->message), "out of memory");
		return;
	}
	if (plan_build(j->spec, &j->host, &res->files, res->plan, &err) < 0) {
		res->code = err.code;
		snprintf(res->message, sizeof(res->message), "%s", err.message);
		res->data = plan_error_data(&err);
		free(res->plan);
		res->plan = NULL;
		return;
	}
	res->r = 0;
}

void registry_planned_free(struct registry_planned *res)
{
	free(res->plan);
	res->plan = NULL;
	plan_files_close(&res->files);
	json_decref(res->data);
	res->data = NULL;
}

static void plan_job_done(void *arg)
{
	struct plan_job *j = arg;

	if (j->res.r < 0)
		plan_files_close(&j->res.files);
	j->done(j->d, j->arg, &j->res);
	json_decref(j->spec);
	free(j);
}

int registry_plan(struct daemon *d, json_t *spec, const struct server_peer_cred *who,
		  struct plan_files *copy, registry_planned_fn done, void *arg)
{
	struct plan_job *j = calloc(1, sizeof(*j));

	if (!j) {
		if (copy)
			plan_files_close(copy);
		return -ENOMEM;
	}
	j->d = d;
	j->done = done;
	j->arg = arg;
	j->who = *who;
	j->policy = d->files_policy;
	plan_files_init(&j->copy);
	if (copy) {
		j->copy = *copy;
		plan_files_init(copy);
	}
	plan_files_init(&j->res.files);
	j->spec = json_deep_copy(spec);
	registry_plan_host(&j->host);
	if (!j->spec || jobs_submit(d->jobs, plan_work, plan_job_done, j) < 0) {
		plan_files_close(&j->copy);
		json_decref(j->spec);
		free(j);
		return -ENOMEM;
	}
	return 0;
}

const struct server_peer_cred *registry_owner_cred(struct vm_entry *e)
{
	if (!e->owner_cred.known) {
		/* looked up by the job (files_cred_of_uid) */
		memset(&e->owner_cred, 0, sizeof(e->owner_cred));
		e->owner_cred.uid = e->owner;
		e->owner_cred.gid = (gid_t)-1;
		e->owner_cred.pid = -1;
	}
	return &e->owner_cred;
}

struct replan_ctx {
	char name[64];
	unsigned long serial;
};

static void replanned(struct daemon *d, void *arg, struct registry_planned *res)
{
	struct replan_ctx *c = arg;
	struct vm_entry *e = registry_find_serial(d, c->name, c->serial);

	free(c);
	if (e && res->r < 0)
		log_warn("VM %s: its definition no longer plans: %s", e->name, res->message);
	if (e) {
		free(e->plan);
		e->plan = res->plan;
		res->plan = NULL;
	}
	registry_planned_free(res);
}

void registry_replan(struct vm_entry *e)
{
	struct replan_ctx *c = calloc(1, sizeof(*c));
	struct plan_files copy;

	if (!c)
		return;
	snprintf(c->name, sizeof(c->name), "%s", e->name);
	c->serial = e->serial;
	if (vmfiles_dup(&e->kept, &copy) < 0 ||
	    registry_plan(e->d, e->params, registry_owner_cred(e), &copy, replanned, c) < 0)
		free(c);
}

void registry_kill(struct vm_entry *e, double grace_s)
{
	if (!e->pid)
		return;
	e->kill_requested = true;
	if (grace_s <= 0) {
		ev_timer_stop(e->d->loop, &e->kill_timer);
		watch_signal(e, SIGKILL);
		return;
	}
	if (!ev_is_active(&e->kill_timer)) {
		ev_timer_set(&e->kill_timer, grace_s, 0.);
		ev_timer_start(e->d->loop, &e->kill_timer);
	}
}

int registry_wait_end(struct vm_entry *e, struct rpc_call *call)
{
	struct vm_waiter *w = calloc(1, sizeof(*w));

	if (!w || !call) {
		free(w);
		return -ENOMEM;
	}
	w->call = call;
	w->next = e->stopping;
	e->stopping = w;
	return 0;
}

static void answer_stopping(struct vm_entry *e)
{
	while (e->stopping) {
		struct vm_waiter *w = e->stopping;

		e->stopping = w->next;
		rpc_deferred_reply(w->call, vm_entry_json(e));
		free(w);
	}
}

static void answer_pending(struct vm_entry *e)
{
	if (e->pending) {
		rpc_deferred_reply(e->pending, vm_entry_json(e));
		e->pending = NULL;
	}
}

static json_t *hexstr(uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)v);
	return json_string(buf);
}

static json_t *files_json(struct vm_entry *e);
static json_t *sandbox_json(struct vm_entry *e, bool brief);

json_t *vm_entry_json(struct vm_entry *e)
{
	return vm_entry_json_brief(e, false);
}

json_t *vm_entry_json_brief(struct vm_entry *e, bool brief)
{
	json_t *o = json_pack("{s:s, s:s, s:s}", "name", e->name,
			      "state", vm_state_name(e->state), "reason", e->reason);
	char path[PATH_MAX + 16];

	if (e->pid)
		json_object_set_new(o, "pid", json_integer(e->pid));
	json_object_set_new(o, "unresponsive", json_boolean(e->unresponsive));
	if (e->owner != (uid_t)-1)
		json_object_set_new(o, "owner", json_integer(e->owner));
	if (e->plan) {
		json_object_set_new(o, "ipa_bits", json_integer(e->plan->ipa.bits));
		json_object_set_new(o, "ipa_reason", json_string(e->plan->ipa.reason));
		json_object_set_new(o, "highest_address", hexstr(e->plan->ipa.highest_address));
		json_object_set_new(o, "vcpus", json_integer(e->plan->cfg.vcpus));
		json_object_set_new(o, "arch", json_string(
			e->plan->cfg.arch == GUEST_AARCH32 ? "aarch32" : "aarch64"));
	}
	snprintf(path, sizeof(path), "%s/console.log", e->dir);
	json_object_set_new(o, "console_log", json_string(path));
	snprintf(path, sizeof(path), "%s/console.sock", e->dir);
	json_object_set_new(o, "console_socket", json_string(path));
	snprintf(path, sizeof(path), "%s/worker.log", e->dir);
	json_object_set_new(o, "worker_log", json_string(path));
	json_object_set_new(o, "created_at", json_integer(e->created_at));
	json_object_set_new(o, "files", files_json(e));
	json_object_set_new(o, "sandbox", sandbox_json(e, brief));
	return o;
}

/* Where the VM's files come from (vmfiles.h), and whether this daemon
 * still holds what came as descriptors. */
static json_t *files_json(struct vm_entry *e)
{
	const char *kind = vmfiles_kind(e->params);
	const int *f = &e->kept.kernel;
	bool held = false;

	for (size_t i = 0; i < sizeof(e->kept) / sizeof(int); i++)
		held |= f[i] >= 0;
	if (!strcmp(kind, "paths") || !strcmp(kind, "none"))
		return json_pack("{s:s, s:s}", "kind", kind, "opened_as", "owner");
	return json_pack("{s:s, s:b, s:s}", "kind", kind, "held", held,
			 "note", held ? "kept while the VM is defined in this daemon"
				      : "the descriptors were lost (daemon restart): create "
					"the VM again to set it up again");
}

static int open_cgroup_dir(const char *path)
{
	char full[300];

	snprintf(full, sizeof(full), "/sys/fs/cgroup%s", path);
	return open(full, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* The worker's confinement, as far as the supervisor set it up. */
static json_t *sandbox_json(struct vm_entry *e, bool brief)
{
	struct daemon *d = e->d;
	json_t *o = json_pack("{s:b}", "enabled", d->sandbox);

	if (!d->sandbox)
		return o;
	if (e->pid && e->worker_uid) {
		json_object_set_new(o, "uid", json_integer(e->worker_uid));
		json_object_set_new(o, "gid", json_integer(e->worker_uid));
	}
	if (brief)
		return o;	/* no cgroup files read */
	if (d->cgroup.ok && e->pid && e->worker_uid) {
		char cgname[96];
		double now = ev_now(d->loop);

		/* read at most every REGISTRY_CGROUP_STATS_S: a caller that
		 * polls does not make the daemon read six files each time */
		if (!e->cg_stats || e->cg_stats_pid != e->pid ||
		    now - e->cg_stats_at >= REGISTRY_CGROUP_STATS_S || now < e->cg_stats_at) {
			vm_cgroup_name(e, cgname, sizeof(cgname));
			json_decref(e->cg_stats);
			e->cg_stats = cgroup_vm_stats(&d->cgroup, cgname);
			e->cg_stats_at = now;
			e->cg_stats_pid = e->pid;
		}
		json_object_set(o, "cgroup", e->cg_stats ? e->cg_stats : json_null());
	} else if (d->scopes && e->pid && e->worker_uid) {
		char unit[128], path[256];
		int fd;

		fd = -1;
		if (scope_unit_name(e->name, e->worker_uid, unit, sizeof(unit)) == 0) {
			snprintf(path, sizeof(path), "/%s/%s", SCOPE_SLICE, unit);
			fd = open_cgroup_dir(path);
		}
		json_object_set_new(o, "cgroup", fd >= 0 ? cgroup_stats_fd(fd, path) : json_null());
		json_object_set_new(o, "scope", json_string(unit));
		if (fd >= 0)
			close(fd);
	}
	else
		json_object_set_new(o, "cgroup", json_null());
	return o;
}

void registry_note_start_request(struct vm_entry *e)
{
	clock_gettime(CLOCK_MONOTONIC, &e->start_req_mono);
	clock_gettime(CLOCK_REALTIME, &e->start_req_real);
}

json_t *registry_start_params(const struct vm_entry *e)
{
	json_int_t mono = (json_int_t)e->start_req_mono.tv_sec * 1000000000 +
			  e->start_req_mono.tv_nsec;
	json_int_t real = (json_int_t)e->start_req_real.tv_sec * 1000000000 +
			  e->start_req_real.tv_nsec;

	if (!mono)
		return NULL;
	return json_pack("{s:I, s:I}", "t0_mono_ns", mono, "t0_real_ns", real);
}

/* ---- from set-up to running ---- */

static void start_done(void *arg, json_t *result, const struct rpc_link_error *err)
{
	struct vm_entry *e = arg;

	if (!err) {
		registry_set_state(e, VM_RUNNING, "started");
		answer_pending(e);
	} else if (e->pending) {
		rpc_deferred_fail(e->pending, err->timed_out ? ARMVM_E_TIMEOUT : ARMVM_E_INTERNAL,
				  NULL, "VM %s was set up but did not start: %s", e->name,
				  err->message);
		e->pending = NULL;
	}
}

/* Set up, defined: start it if asked, else answer the create. */
static void worker_go(struct vm_entry *e)
{
	json_t *params;
	int r;

	if (!e->start_when_ready) {
		answer_pending(e);
		return;
	}
	params = registry_start_params(e);
	r = watch_call(e, WORKER_M_START, params, start_done, e);
	json_decref(params);
	if (r < 0 && e->pending) {
		rpc_deferred_fail(e->pending, ARMVM_E_INTERNAL, NULL,
				  "VM %s was set up but cannot be started: %s", e->name,
				  strerror(-r));
		e->pending = NULL;
	}
}

struct save_ctx {
	struct daemon *d;
	char name[64];
	unsigned long serial;
	void (*then)(struct daemon *d, struct vm_entry *e, int err, void *arg);
	void *arg;
};

static void save_done(void *p, int err)
{
	struct save_ctx *c = p;

	c->then(c->d, registry_find_serial(c->d, c->name, c->serial), err, c->arg);
	free(c);
}

int registry_save(struct vm_entry *e, json_t *params,
		  void (*then)(struct daemon *d, struct vm_entry *e, int err, void *arg),
		  void *arg)
{
	struct save_ctx *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	c->d = e->d;
	c->serial = e->serial;
	snprintf(c->name, sizeof(c->name), "%s", e->name);
	c->then = then;
	c->arg = arg;
	r = state_save(e->d, e->name, params, e->created_at, e->owner, save_done, c);
	if (r < 0)
		free(c);
	return r;
}

/* The first definition of a new VM is on disk (or could not be put there). */
static void first_save_done(struct daemon *d, struct vm_entry *e, int err, void *arg)
{
	if (!e)
		return;		/* destroyed meanwhile: its answer went out */
	if (err < 0) {
		/* a VM whose definition is not on disk would vanish with
		 * the daemon: it is not created */
		if (e->pending) {
			rpc_deferred_fail(e->pending, ARMVM_E_RESOURCE,
					  json_pack("{s:s, s:s}", "name", e->name,
						    "error", strerror(-err)),
					  "cannot save the definition of VM %s: %s",
					  e->name, strerror(-err));
			e->pending = NULL;
		}
		registry_remove(e);
		return;
	}
	e->defined = true;
	worker_go(e);
}

static void worker_ready(struct vm_entry *e, json_t *status)
{
	json_t *proto = json_object_get(status, "proto");
	int r;

	e->proto = proto ? (int)json_integer_value(proto) : 1;
	/* console.sock is its owner's and the admins' (set at spawn); the
	 * control socket stays root's */
	r = watch_link(e);
	if (r < 0)
		log_warn("VM %s: no link to its worker: %s", e->name, strerror(-r));
	registry_set_state(e, VM_CREATED, "set up by its worker");
	if (e->defined) {
		worker_go(e);
		return;
	}
	/* the definition outlives this daemon; the answer waits for it */
	r = registry_save(e, e->params, first_save_done, NULL);
	if (r < 0)
		first_save_done(e->d, e, r, NULL);
}

/* The worker's one status line: ok, or why the VM could not be set up.
 * Returns the message when it is complete (the caller decrefs). */
static json_t *status_read(struct vm_entry *e, bool *eof)
{
	ssize_t n = read(e->status_fd, e->status_buf + e->status_len,
			 sizeof(e->status_buf) - 1 - e->status_len);

	*eof = false;
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return NULL;
	if (n > 0) {
		e->status_len += (size_t)n;
		if (!memchr(e->status_buf, '\n', e->status_len) &&
		    e->status_len < sizeof(e->status_buf) - 1)
			return NULL;
	}
	*eof = true;
	e->status_buf[e->status_len] = '\0';
	return json_loads(e->status_buf, JSON_DISABLE_EOF_CHECK, NULL);
}

static void fail_setup(struct vm_entry *e, json_t *msg)
{
	json_t *err = json_object_get(msg, "error");

	if (!e->pending)
		return;
	/* the pid watcher removes the entry when the worker exits */
	rpc_deferred_fail(e->pending,
		err ? (int)json_integer_value(json_object_get(err, "code"))
		    : ARMVM_E_INTERNAL,
		err ? json_incref(json_object_get(err, "data")) : NULL,
		"%s", json_string_value(json_object_get(err, "message"))
			?: "the VM worker ended during set-up (see its log)");
	e->pending = NULL;
}

static void status_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct vm_entry *e = w->data;
	bool eof;
	json_t *msg = status_read(e, &eof);

	if (!eof)
		return;
	status_stop(e);
	if (json_is_true(json_object_get(msg, "ok")))
		worker_ready(e, msg);
	else
		fail_setup(e, msg);
	json_decref(msg);
}

/* ---- the end of a worker ---- */

static void describe_exit(const struct vm_entry *e, int status, char *buf, size_t len,
			  enum worker_outcome *outcome)
{
	const char *what;

	if (WIFSIGNALED(status)) {
		if (e->kill_requested && WTERMSIG(status) == SIGKILL) {
			snprintf(buf, len, "forced stop: the worker was killed");
			*outcome = WORKER_OUTCOME_STOPPED;
			return;
		}
		snprintf(buf, len, "worker killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
		*outcome = WORKER_OUTCOME_CRASHED;
		return;
	}
	*outcome = worker_exit_outcome(WEXITSTATUS(status), &what);
	if (*outcome == WORKER_OUTCOME_CRASHED && WEXITSTATUS(status) != WORKER_EXIT_SETUP &&
	    WEXITSTATUS(status) != WORKER_EXIT_GUEST_ERROR)
		snprintf(buf, len, "worker exited with status %d", WEXITSTATUS(status));
	else
		snprintf(buf, len, "%s", what);
}

void registry_unlink_sockets(struct vm_entry *e)
{
	static const char *const socks[] = { "control.sock", "console.sock", "hvc0.sock" };
	int dfd = vm_dirfd(e);

	if (dfd >= 0)
		for (unsigned i = 0; i < sizeof(socks) / sizeof(socks[0]); i++)
			unlinkat(dfd, socks[i], 0);
}

/* What a worker leaves behind: its sockets (bound by us) and its cgroup. */
static void worker_leftovers(struct vm_entry *e)
{
	registry_unlink_sockets(e);
	if (e->scope_go >= 0) {
		close(e->scope_go);
		e->scope_go = -1;
	}
	if (e->d->cgroup.ok)
		cgroup_sweep(&e->d->cgroup);
}

static void on_worker_exited(struct vm_entry *e, int status, const char *reason)
{
	enum worker_outcome outcome;
	char why[160];

	e->pid = 0;
	e->worker_uid = 0;
	registry_set_live(e, NULL);
	ev_timer_stop(e->d->loop, &e->kill_timer);
	worker_leftovers(e);
	if (status == REGISTRY_STATUS_UNKNOWN) {
		outcome = e->kill_requested ? WORKER_OUTCOME_STOPPED : WORKER_OUTCOME_CRASHED;
		snprintf(why, sizeof(why), "%s", e->kill_requested ? "forced stop" : reason);
	} else {
		describe_exit(e, status, why, sizeof(why), &outcome);
		/* the worker's own words are more precise than its exit code */
		if (reason && *reason && !WIFSIGNALED(status))
			snprintf(why, sizeof(why), "%s", reason);
	}
	e->kill_requested = false;
	e->graceful_stop = false;
	e->unresponsive = false;
	if (e->state == VM_CREATING) {
		if (e->status_fd >= 0) {
			bool eof;
			json_t *msg = status_read(e, &eof);

			status_stop(e);
			if (msg && !json_is_true(json_object_get(msg, "ok")))
				fail_setup(e, msg);
			json_decref(msg);
		}
		if (e->pending) {
			rpc_deferred_fail(e->pending, ARMVM_E_INTERNAL, NULL,
					  "VM %s: %s during set-up", e->name, why);
			e->pending = NULL;
		}
		log_warn("VM %s: %s during set-up", e->name, why);
		answer_stopping(e);
		/* a new VM that never came up is not kept (nothing
		 * half-created); a defined one keeps its definition */
		if (!e->defined) {
			registry_remove(e);
			return;
		}
		registry_set_state(e, VM_CRASHED, why);
		return;
	}
	status_stop(e);
	if (e->pending) {
		rpc_deferred_fail(e->pending, ARMVM_E_INTERNAL, NULL,
				  "VM %s: %s", e->name, why);
		e->pending = NULL;
	}
	if (outcome == WORKER_OUTCOME_DESTROY) {
		log_info("VM %s: destroyed by its policy", e->name);
		answer_stopping(e);
		registry_destroy(e, why);
		return;
	}
	registry_set_state(e, outcome == WORKER_OUTCOME_STOPPED ? VM_STOPPED : VM_CRASHED, why);
	answer_stopping(e);
}

/* A reset in place reads the boot images again: opened again as the
 * owner (a kernel rebuilt at the same path boots), off the loop. */
struct reload_job {
	struct daemon *d;
	char name[64];
	unsigned long serial;
	pid_t pid;
	json_t *spec;
	struct server_peer_cred who;
	struct plan_files copy, out;
	struct files_policy policy;
	struct files_refusal why;
	int r;
};

static void reload_work(void *arg)
{
	struct reload_job *j = arg;

	if (!j->who.known)
		files_cred_of_uid(j->who.uid, &j->who);
	j->r = vmfiles_open_payload(j->spec, &j->who, &j->copy, &j->policy, &j->out, &j->why);
}

static void reload_done(void *arg)
{
	struct reload_job *j = arg;
	struct vm_entry *e = registry_find_serial(j->d, j->name, j->serial);
	json_t *params = json_object();
	int fds[3];
	unsigned n = 0;
	int *slot[3] = { &j->out.kernel, &j->out.initrd, &j->out.dtb };
	static const char *const key[3] = { "kernel", "initrd", "dtb" };

	if (!e || e->pid != j->pid || j->r < 0 || !params) {
		if (e && j->r < 0)
			log_warn("VM %s: its boot images for the reset: %s (the worker "
				 "keeps its own)", e->name, j->why.message);
		goto out;
	}
	for (int i = 0; i < 3; i++) {
		if (*slot[i] < 0)
			continue;
		json_object_set_new(params, key[i], json_integer(n));
		fds[n++] = *slot[i];
		*slot[i] = -1;
	}
	/* the link owns them now, sent or not */
	if (watch_call_fds(e, WORKER_M_FILES, params, fds, n, NULL, NULL) < 0)
		log_warn("VM %s: cannot hand its worker the boot images for the reset",
			 e->name);
out:
	json_decref(params);
	files_refusal_clear(&j->why);
	plan_files_close(&j->out);
	json_decref(j->spec);
	free(j);
}

static void reload_payload(struct vm_entry *e)
{
	struct reload_job *j = calloc(1, sizeof(*j));

	if (!j)
		return;
	j->d = e->d;
	snprintf(j->name, sizeof(j->name), "%s", e->name);
	j->serial = e->serial;
	j->pid = e->pid;
	j->spec = json_deep_copy(e->params);
	j->who = *registry_owner_cred(e);
	j->policy = e->d->files_policy;
	plan_files_init(&j->out);
	if (!j->spec || vmfiles_dup(&e->kept, &j->copy) < 0 ||
	    jobs_submit(e->d->jobs, reload_work, reload_done, j) < 0) {
		plan_files_close(&j->copy);
		json_decref(j->spec);
		free(j);
	}
}

void registry_set_live(struct vm_entry *e, json_t *live)
{
	json_decref(e->live);
	e->live = live;
	e->live_at = ev_now(e->d->loop);
}

static void on_worker_event(struct vm_entry *e, const char *kind, json_t *params)
{
	const char *reason = json_string_value(json_object_get(params, "reason"));

	if (!strcmp(kind, "live")) {
		json_t *live = json_object_get(params, "live");

		registry_set_live(e, json_is_object(live) ? json_incref(live) : NULL);
		return;
	}
	/* whatever happened is not in the last push: ask until the next one */
	registry_set_live(e, NULL);
	if (!strcmp(kind, "reset-files")) {
		reload_payload(e);
	} else if (!strcmp(kind, "reboot")) {
		/* reset in place: still running, and the event says why */
		enum vm_state prev = e->state;

		snprintf(e->reason, sizeof(e->reason), "%s", reason ? reason : "rebooted");
		e->state = VM_RUNNING;
		log_info("VM %s: reset in place (%s)", e->name, e->reason);
		events_emit(e->d, e->name, e->owner, EVENT_STATE,
			    json_pack("{s:s, s:s, s:s, s:b}", "state", "running",
				      "previous", state_names[prev], "reason", e->reason,
				      "unresponsive", e->unresponsive));
	} else if (!strcmp(kind, "paused")) {
		registry_set_state(e, VM_PAUSED, "paused");
	} else if (!strcmp(kind, "resumed")) {
		registry_set_state(e, VM_RUNNING, "resumed");
	} else if (!strcmp(kind, "device")) {
		json_t *f = json_deep_copy(params);

		json_object_del(f, "kind");
		events_emit(e->d, e->name, e->owner, EVENT_DEVICE, f);
	}
}

static const struct watch_ops registry_watch_ops = {
	.exited = on_worker_exited,
	.event = on_worker_event,
	.responsive = registry_set_responsive,
};

void registry_plan_host(struct plan_host *h)
{
	const struct host_info *hi = hostinfo_get();

	memset(h, 0, sizeof(*h));
	h->limits.ipa_limit_bits = hi->ipa_limit_bits;
	h->limits.ipa_cap = hi->ipa_cap;
	h->gic_v2 = hi->gic_v2;
	h->gic_v3 = hi->gic_v3;
	h->el1_32bit = hi->el1_32bit;
	h->granules = hi->granules;
	h->hide_mops = hi->mops_probe == HOSTINFO_PROBE_UNDEFINED;
}

static int or_errno(int r)
{
	return r < 0 ? -errno : r;
}

/* the descriptors a worker inherits, in child numbering */
struct spawn_fds {
	struct jail_spec js;
	json_t *map;			/* spec.fds */
	int own[JAIL_MAX_FDS];		/* ours to close after the spawn */
	unsigned nown;
};

/* fd becomes the child's next descriptor, named name in spec.fds (NULL:
 * not named); ours to close afterwards when own */
static int spawn_add(struct spawn_fds *sf, const char *name, json_t *list, int fd, bool own)
{
	int n = (int)sf->js.nfds;

	if (fd < 0 || sf->js.nfds >= JAIL_MAX_FDS) {
		if (own && fd >= 0)
			close(fd);
		return fd < 0 ? -EBADF : -EMFILE;
	}
	sf->js.fds[sf->js.nfds++] = fd;
	if (own)
		sf->own[sf->nown++] = fd;
	if (list)
		json_array_append_new(list, json_integer(n));
	else if (name)
		json_object_set_new(sf->map, name, json_integer(n));
	return n;
}

/* Who may read what the guest wrote and type at it, through the files
 * of its directory: its owner and the admin group (root anyway). */
static void vm_file_access(const struct vm_entry *e, uid_t *uid, gid_t *gid)
{
	*uid = e->owner == (uid_t)-1 ? 0 : e->owner;
	*gid = e->d->have_admin_group ? e->d->admin_group : 0;
}

static int vm_file_share(struct vm_entry *e, const char *name, mode_t mode)
{
	uid_t uid;
	gid_t gid;
	int r;

	vm_file_access(e, &uid, &gid);
	if (!e->d->have_admin_group)
		mode &= 0700;		/* the owner's alone (and root's) */
	r = fs_share_at(e->dirfd, name, gid, mode);
	if (r == 0 && fchownat(e->dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		r = -errno;
	return r;
}

/* a log (append) or its older half (no append: the copy lands at 0) */
static int open_log(struct vm_entry *e, const char *name, bool older)
{
	int fd = openat(e->dirfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
			O_CLOEXEC | (older ? 0 : O_APPEND), 0640);
	struct stat st;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

/* A socket bound at name in the VM's directory, for the worker to listen on. */
static int bind_socket(struct vm_entry *e, const char *name)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/%s", e->dir, name) >=
	    (int)sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	unlinkat(e->dirfd, name, 0);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	/* root's alone until vm_file_share says otherwise (bind() left it
	 * at 0777 less the umask: writable, so connectable, by root only) */
	fs_share_at(e->dirfd, name, 0, 0600);
	return fd;
}

/* The worker's spec (spec.json; the message a pooled worker waits for),
 * one line: its parameters, the host facts, the bounds, its descriptors. */
static char *spec_text(struct vm_entry *e, json_t *fds, const struct jail_spec *js)
{
	struct plan_host h;
	json_t *spec;
	char *text;

	registry_plan_host(&h);
	spec = json_pack("{s:O, s:i, s:s, s:O, s:b, s:b, s:{s:i, s:b, s:b, s:b, s:b, s:i, s:b}, s:{s:I, s:I}}",
			 "params", e->params, "owner", (int)e->owner, "dir", e->dir,
			 "fds", fds, "sandbox", e->d->sandbox,
			 "test_seccomp_trip", e->d->test_seccomp_trip,
			 "host", "ipa_limit_bits", h.limits.ipa_limit_bits,
			 "ipa_cap", h.limits.ipa_cap, "gic_v2", h.gic_v2,
			 "gic_v3", h.gic_v3, "el1_32bit", h.el1_32bit,
			 "granules", (int)h.granules, "hide_mops", h.hide_mops,
			 "limits",
			 "console_log_bytes", (json_int_t)e->d->limits.console_log_bytes,
			 "worker_log_bytes", (json_int_t)e->d->limits.worker_log_bytes);
	if (spec && e->d->sandbox)
		json_object_set_new(spec, "rlimits",
				    json_pack("{s:I, s:I, s:I, s:I}",
					      "nofile", (json_int_t)js->nofile,
					      "nproc", (json_int_t)js->nproc,
					      "fsize", (json_int_t)js->fsize,
					      "as", (json_int_t)js->as));
	text = spec ? json_dumps(spec, JSON_COMPACT) : NULL;
	json_decref(spec);
	return text;
}

/* spec.json: read by a daemon re-adopting the worker.  The runtime
 * directory does not outlive the host: no fsync. */
static int write_spec(struct vm_entry *e, const char *text)
{
	return fs_write_replace_at(e->dirfd, "spec.json", text, strlen(text), 0640);
}

/* The bounds of a worker: its rlimits and its cgroup's. */
static void worker_bounds(struct vm_entry *e, const struct plan_files *run,
			  struct jail_spec *js, uint64_t *mem_max, unsigned *pids)
{
	const struct vm_plan *p = e->plan;
	unsigned vcpus = p ? p->cfg.vcpus : 1, nvirtio = p ? p->nvirtio : 0;
	uint64_t fsize = 2 * (e->d->limits.console_log_bytes + e->d->limits.worker_log_bytes) +
			 (16u << 20);
	struct stat st;

	/* no write past the end of a disk image, nor of a log */
	for (unsigned i = 0; p && i < p->ndisks; i++)
		if (run->disks[i] >= 0 && fstat(run->disks[i], &st) == 0 &&
		    S_ISREG(st.st_mode) && (uint64_t)st.st_size > fsize)
			fsize = (uint64_t)st.st_size;
	js->fsize = fsize;
	/* vCPU fds, ioeventfds and irqfds, console clients, the link */
	js->nofile = 128 + js->nfds + 2 * vcpus + 16 * nvirtio;
	/* threads count: the loop, the vCPUs, a spare for a reset */
	js->nproc = vcpus + 4;
	*pids = vcpus + 4;
	*mem_max = (p ? plan_guest_memory(p) : 0) + e->d->limits.worker_mem_allowance;
	/* no cgroup (systemd before 254): the address space bounds what a
	 * worker can take instead: its guest RAM (mapped with 2 MiB to spare
	 * per bank), the allowance, and a stack and some room per thread */
	if (!e->d->cgroup.ok && !e->d->scopes)
		js->as = *mem_max + (p ? p->cfg.nbanks : 1) * (2u << 20) +
			 (uint64_t)(vcpus + 2) * (16u << 20) + (256u << 20);
}

/* the scope of one worker, made by systemd off the loop (scope.h) */
struct scope_job {
	struct daemon *d;
	char name[64];
	unsigned long serial;
	pid_t pid;
	char unit[128], description[96];
	uint64_t mem_max, tasks, weight;
	int r;
	char msg[300];
};

static void scope_work(void *arg)
{
	struct scope_job *j = arg;

	j->r = scope_create(j->pid, j->unit, j->description, j->mem_max, j->tasks,
			    j->weight, j->msg, sizeof(j->msg));
}

static void scope_done(void *arg)
{
	struct scope_job *j = arg;
	struct vm_entry *e = registry_find_serial(j->d, j->name, j->serial);

	if (!e || e->pid != j->pid || e->scope_go < 0) {
		free(j);	/* gone meanwhile: its worker was killed */
		return;
	}
	if (j->r == 0 && write(e->scope_go, "1", 1) == 1) {
		log_debug("VM %s: worker %d in %s", e->name, (int)j->pid, j->unit);
	} else {
		log_error("VM %s: %s", e->name, j->msg);
		if (e->pending) {
			rpc_deferred_fail(e->pending, ARMVM_E_RESOURCE, NULL, "VM %s: %s",
					  e->name, j->msg);
			e->pending = NULL;
		}
	}
	/* closed either way: a worker that read no '1' ends */
	close(e->scope_go);
	e->scope_go = -1;
	free(j);
}

static int scope_start(struct vm_entry *e, pid_t pid, uint64_t mem_max, unsigned tasks,
		       unsigned weight)
{
	struct scope_job *j = calloc(1, sizeof(*j));

	if (j && scope_unit_name(e->name, e->worker_uid, j->unit, sizeof(j->unit)) == 0) {
		j->d = e->d;
		snprintf(j->name, sizeof(j->name), "%s", e->name);
		j->serial = e->serial;
		j->pid = pid;
		j->mem_max = mem_max;
		j->tasks = tasks;
		j->weight = weight > 10000 ? 10000 : weight;
		snprintf(j->description, sizeof(j->description), "armvmd worker of VM %s",
			 e->name);
		if (jobs_submit(e->d->jobs, scope_work, scope_done, j) == 0)
			return 0;
	}
	free(j);
	log_error("VM %s: cannot ask systemd for the worker's scope", e->name);
	return -1;
}

int registry_spawn(struct vm_entry *e, struct plan_files *run, char *msg, size_t msglen)
{
	struct daemon *d = e->d;
	struct spawn_fds sf = { .map = json_object() };
	char what[96], root[PATH_MAX + 8], host[64];
	char *argv[] = { "armvmd-worker", "--spec-fd", "3", "--log-level",
			 d->log_level == LOG_DEBUG ? "debug" : "info", NULL };
	const struct vm_plan *p = e->plan;
	json_t *disks = json_array(), *nets = json_array();
	int pipefd[2] = { -1, -1 }, gofd[2] = { -1, -1 }, fd, r, pidfd = -1, cgfd = -1;
	uint64_t mem_max = 0;
	unsigned pids = 0;
	struct pool_worker pw = { .sock = -1 };
	bool pooled = false;
	char *spec = NULL;
	pid_t pid;

	sf.js.status_fd = -1;
	sf.js.cgroup_fd = -1;
	sf.js.go_fd = -1;
	if (!sf.map || !disks || !nets) {
		r = -ENOMEM;
		snprintf(msg, msglen, "out of memory");
		goto out;
	}
	/* everything in the VM's directory through its fd, no symlink followed */
	if (e->dirfd < 0) {
		e->dirfd = fs_mkdir_open_at(d->vms_dirfd, e->name, 0750);
		if (e->dirfd < 0) {
			r = e->dirfd;
			e->dirfd = -1;
			snprintf(msg, msglen, "cannot make %s: %s", e->dir, strerror(-r));
			goto out;
		}
		if (d->have_group && (r = fs_share_at(d->vms_dirfd, e->name, d->group, 0750)) < 0)
			log_warn("giving %s to the daemon's group: %s", e->dir, strerror(-r));
	}
	/* the last run's word about its end must not be taken for this one's */
	unlinkat(e->dirfd, "exit.json", 0);

#define ADD(name, expr, own, what_) do {					\
		fd = (expr);							\
		if (fd < 0 || (r = spawn_add(&sf, name, NULL, fd, own)) < 0) {	\
			r = fd < 0 ? fd : r;					\
			snprintf(msg, msglen, "%s/%s: %s", e->dir, what_, strerror(-r)); \
			goto out;						\
		}								\
	} while (0)

	/* 0: nothing to read; 1 and 2: worker.log; 3: the spec, below */
	ADD(NULL, or_errno(open("/dev/null", O_RDONLY | O_CLOEXEC)), true, "/dev/null");
	ADD(NULL, open_log(e, "worker.log", false), true, "worker.log");
	r = spawn_add(&sf, NULL, NULL, sf.js.fds[1], false);
	sf.js.nfds++;			/* 3: the spec, set below */
	sf.js.fds[3] = -1;
	ADD("worker_log_old", open_log(e, "worker.log.1", true), true, "worker.log.1");
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		r = -errno;
		snprintf(msg, msglen, "pipe: %s", strerror(-r));
		goto out;
	}
	sf.js.status_fd = spawn_add(&sf, "status", NULL, pipefd[1], true);
	pipefd[1] = -1;
	ADD("exit", or_errno(openat(e->dirfd, "exit.json", O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
			       O_CLOEXEC, 0640)), true, "exit.json");
	ADD("kvm", or_errno(open("/dev/kvm", O_RDWR | O_CLOEXEC)), true, "/dev/kvm");
	ADD("control", bind_socket(e, "control.sock"), true, "control.sock");
	ADD("console_socket", bind_socket(e, "console.sock"), true, "console.sock");
	ADD("console_log", open_log(e, "console.log", false), true, "console.log");
	ADD("console_log_old", open_log(e, "console.log.1", true), true, "console.log.1");
	if (p && p->hvc) {
		ADD("hvc_socket", bind_socket(e, "hvc0.sock"), true, "hvc0.sock");
		ADD("hvc_log", open_log(e, "hvc0.log", false), true, "hvc0.log");
		ADD("hvc_log_old", open_log(e, "hvc0.log.1", true), true, "hvc0.log.1");
	}
	/* the guest's words and keys: its owner's and the admins' */
	vm_file_share(e, "console.sock", 0660);
	vm_file_share(e, "console.log", 0640);
	vm_file_share(e, "console.log.1", 0640);
	if (p && p->hvc) {
		vm_file_share(e, "hvc0.sock", 0660);
		vm_file_share(e, "hvc0.log", 0640);
		vm_file_share(e, "hvc0.log.1", 0640);
	}
	/* the run's files, opened as its owner or passed by them */
	if (run->kernel >= 0)
		spawn_add(&sf, "kernel", NULL, run->kernel, false);
	if (run->initrd >= 0)
		spawn_add(&sf, "initrd", NULL, run->initrd, false);
	if (run->dtb >= 0)
		spawn_add(&sf, "dtb", NULL, run->dtb, false);
	for (unsigned i = 0; p && i < p->ndisks; i++)
		spawn_add(&sf, NULL, disks, run->disks[i], false);
	for (unsigned i = 0; p && i < p->nnets; i++)
		spawn_add(&sf, NULL, nets, run->nets[i], false);
	json_object_set(sf.map, "disks", disks);
	json_object_set(sf.map, "nets", nets);

	if (d->worker_exe_fd < 0) {
		r = -ENOENT;
		snprintf(msg, msglen, "no armvmd-worker binary (see armvmd --worker-binary)");
		goto out;
	}
	/* a warm one, jailed already, when the pool has one */
	pooled = pool_take(d, &pw);
	sf.js.sandbox = d->sandbox;
	sf.js.exe_fd = d->worker_exe_fd;
	sf.js.argv = argv;
	if (d->sandbox) {
		e->worker_uid = pooled ? pw.uid : pool_pick_uid(d);
		if (!e->worker_uid) {
			r = -EAGAIN;
			snprintf(msg, msglen, "no worker uid left: all %u of --worker-ids are "
				 "in use", d->worker_id_count);
			goto out;
		}
		sf.js.uid = e->worker_uid;
		sf.js.gid = (gid_t)e->worker_uid;
		worker_bounds(e, run, &sf.js, &mem_max, &pids);
		if (d->cgroup.ok) {
			char cgname[96];

			cgroup_sweep(&d->cgroup);
			vm_cgroup_name(e, cgname, sizeof(cgname));
			cgfd = cgroup_vm_create(&d->cgroup, cgname, mem_max, pids, 100 *
						(p ? p->cfg.vcpus : 1), msg, msglen);
			if (cgfd < 0) {
				r = cgfd;
				goto out;
			}
			sf.js.cgroup_fd = cgfd;
		}
	}
	spec = spec_text(e, sf.map, &sf.js);
	if (!spec) {
		r = -ENOMEM;
		snprintf(msg, msglen, "out of memory");
		goto out;
	}
	if (pooled) {
		int fds[JAIL_MAX_FDS];

		/* into the VM's cgroup before it reads a word of its VM */
		r = cgfd >= 0 ? cgroup_move_pid(cgfd, pw.pid) : 0;
		memcpy(fds, sf.js.fds, sizeof(fds));
		fds[3] = fds[0];	/* the spec comes as the message */
		if (r == 0)
			r = pool_send(&pw, spec, fds, sf.js.nfds);
		if (r == 0) {
			pid = pw.pid;
			pool_release(d, &pw);
			pooled = false;
			r = write_spec(e, spec);
			if (r < 0)
				log_warn("VM %s: cannot write %s/spec.json (a restarted daemon "
					 "will not find its worker): %s", e->name, e->dir,
					 strerror(-r));
			goto spawned;
		}
		log_warn("VM %s: the pooled worker %d could not take it (%s): spawning one",
			 e->name, (int)pw.pid, strerror(-r));
		pool_discard(d, &pw);
		pooled = false;
	}
	/* spawned here: the jail's empty root and its name */
	if (d->sandbox) {
		if (mkdirat(e->dirfd, "root", 0755) < 0 && errno != EEXIST) {
			r = -errno;
			snprintf(msg, msglen, "%s/root: %s", e->dir, strerror(-r));
			goto out;
		}
		snprintf(root, sizeof(root), "%s/root", e->dir);
		snprintf(host, sizeof(host), "armvm-%.40s", e->name);
		sf.js.root_dir = root;
		sf.js.hostname = host;
	}
	r = write_spec(e, spec);
	if (r < 0) {
		snprintf(msg, msglen, "cannot write %s/spec.json: %s", e->dir, strerror(-r));
		goto out;
	}
	fd = openat(e->dirfd, "spec.json", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(msg, msglen, "%s/spec.json: %s", e->dir, strerror(-r));
		goto out;
	}
	sf.js.fds[3] = fd;
	sf.own[sf.nown++] = fd;
	if (d->sandbox && d->scopes) {
		if (pipe2(gofd, O_CLOEXEC) < 0) {
			r = -errno;
			snprintf(msg, msglen, "pipe: %s", strerror(-r));
			goto out;
		}
		sf.js.go_fd = gofd[0];
	}
	r = jail_spawn(&sf.js, &pid, &pidfd, msg, msglen);
	if (r < 0)
		goto out;
spawned:
	if (p)
		pool_note_vm_type(d, p->ipa.vm_type);
	if (gofd[1] >= 0) {
		/* systemd makes its cgroup; it waits until then */
		e->scope_go = gofd[1];
		gofd[1] = -1;
		if (scope_start(e, pid, mem_max, pids, 100 * (p ? p->cfg.vcpus : 1)) < 0) {
			close(e->scope_go);	/* it ends: no cgroup, no VM */
			e->scope_go = -1;
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	e->pid = pid;
	e->status_fd = pipefd[0];
	pipefd[0] = -1;
	e->status_len = 0;
	snprintf(what, sizeof(what), "worker %d setting up", (int)pid);
	registry_set_state(e, VM_CREATING, what);
	ev_io_init(&e->status_watcher, status_cb, e->status_fd, EV_READ);
	e->status_watcher.data = e;
	ev_io_start(d->loop, &e->status_watcher);
	ev_timer_start(d->loop, &e->setup_timer);
	r = watch_start(e);
	if (r < 0)
		log_warn("VM %s: cannot watch worker %d: %s", e->name, (int)pid, strerror(-r));
	if (d->sandbox)
		log_info("VM %s: worker %d spawned%s, jailed as uid %u%s", e->name, (int)pid,
			 sf.js.root_dir ? "" : " (from the warm pool)",
			 (unsigned)e->worker_uid, cgfd >= 0 ? ", in its own cgroup" : "");
	else
		log_info("VM %s: worker %d spawned (no sandbox)", e->name, (int)pid);
	r = 0;
out:
#undef ADD
	if (r < 0 && !e->pid)
		e->worker_uid = 0;
	for (unsigned i = 0; i < sf.nown; i++)
		close(sf.own[i]);
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	if (cgfd >= 0)
		close(cgfd);
	for (int i = 0; i < 2; i++)
		if (gofd[i] >= 0)
			close(gofd[i]);
	if (pooled)
		pool_release(d, &pw);	/* not sent its VM: it ends */
	free(spec);
	plan_files_close(run);
	json_decref(disks);
	json_decref(nets);
	json_decref(sf.map);
	return r;
}

struct start_ctx {
	char name[64];
	unsigned long serial;
	enum vm_state was;
};

static void start_planned(struct daemon *d, void *arg, struct registry_planned *res)
{
	struct start_ctx *c = arg;
	struct vm_entry *e = registry_find_serial(d, c->name, c->serial);
	char msg[300];

	if (!e || e->state != VM_CREATING || e->pid) {
		/* destroyed, or stopped otherwise, meanwhile */
		registry_planned_free(res);
		free(c);
		return;
	}
	if (res->r < 0) {
		log_warn("VM %s: cannot be set up again: %s", e->name, res->message);
		if (e->pending) {
			rpc_deferred_fail(e->pending, res->code, res->data, "%s", res->message);
			res->data = NULL;
			e->pending = NULL;
		}
		snprintf(msg, sizeof(msg), "not started: %.140s", res->message);
		registry_set_state(e, c->was, msg);
		registry_planned_free(res);
		free(c);
		return;
	}
	free(e->plan);
	e->plan = res->plan;
	res->plan = NULL;
	if (registry_spawn(e, &res->files, msg, sizeof(msg)) < 0) {
		if (e->pending) {
			rpc_deferred_fail(e->pending, ARMVM_E_RESOURCE, NULL, "%s", msg);
			e->pending = NULL;
		}
		registry_set_state(e, c->was, msg);
	}
	registry_planned_free(res);
	free(c);
}

void registry_start(struct vm_entry *e)
{
	struct start_ctx *c = calloc(1, sizeof(*c));
	struct plan_files copy;
	int r = c ? vmfiles_dup(&e->kept, &copy) : -ENOMEM;

	if (r == 0) {
		snprintf(c->name, sizeof(c->name), "%s", e->name);
		c->serial = e->serial;
		c->was = e->state;
		registry_set_state(e, VM_CREATING, "opening its files as its owner, planning");
		r = registry_plan(e->d, e->params, registry_owner_cred(e), &copy, start_planned, c);
		if (r < 0)
			registry_set_state(e, c->was, "not started: out of memory");
	}
	if (r < 0) {
		free(c);
		if (e->pending) {
			rpc_deferred_fail(e->pending, ARMVM_E_RESOURCE, NULL, "VM %s: %s", e->name,
					  strerror(-r));
			e->pending = NULL;
		}
	}
}

uid_t registry_worker_uid_of(pid_t pid)
{
	char path[64], line[256];
	unsigned long uid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Uid: %lu", &uid) == 1)
			break;
	fclose(f);
	return (uid_t)uid;
}
