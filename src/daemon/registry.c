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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arm64/hostinfo.h"
#include "daemon/daemon.h"
#include "daemon/events.h"
#include "rpc/server.h"
#include "daemon/state.h"
#include "daemon/watch.h"
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

struct vm_entry *registry_add(struct daemon *d, const char *name)
{
	struct vm_entry *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->d = d;
	e->status_fd = -1;
	e->pidfd = -1;
	e->events.fd = -1;
	e->console.fd = -1;
	snprintf(e->name, sizeof(e->name), "%s", name);
	snprintf(e->dir, sizeof(e->dir), "%s/vms/%s", d->runtime_dir, name);
	e->created_at = time(NULL);
	e->next = d->vms;
	d->vms = e;
	return e;
}

void registry_remove_dir(const char *dir)
{
	DIR *dh = opendir(dir);
	struct dirent *de;
	char path[PATH_MAX + 256];

	if (!dh)
		return;
	while ((de = readdir(dh))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(dh);
	rmdir(dir);
}

static void status_stop(struct vm_entry *e)
{
	if (e->status_fd >= 0) {
		ev_io_stop(e->d->loop, &e->status_watcher);
		close(e->status_fd);
		e->status_fd = -1;
	}
}

void registry_remove(struct vm_entry *e)
{
	struct vm_entry **pp;

	registry_kill(e, 0);
	status_stop(e);
	watch_stop(e);
	for (pp = &e->d->vms; *pp; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	}
	if (e->pending)
		rpc_deferred_fail(e->pending, ARMVM_E_NO_VM, NULL, "VM %s was destroyed",
				  e->name);
	if (e->stopping)
		rpc_deferred_fail(e->stopping, ARMVM_E_NO_VM, NULL, "VM %s was destroyed",
				  e->name);
	if (e->defined)
		state_forget(e);
	registry_remove_dir(e->dir);
	json_decref(e->params);
	free(e->plan);
	free(e);
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
	events_emit(e->d, e->name, EVENT_STATE,
		    json_pack("{s:s, s:s, s:s}", "state", state_names[s],
			      "previous", state_names[prev], "reason", reason));
}

void registry_destroy(struct vm_entry *e, const char *reason)
{
	events_emit(e->d, e->name, EVENT_STATE,
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

void registry_replan(struct vm_entry *e)
{
	struct plan_host host;
	struct layout_error err;
	struct vm_plan *plan = calloc(1, sizeof(*plan));

	registry_plan_host(&host);
	free(e->plan);
	e->plan = NULL;
	if (plan && plan_build(e->params, &host, plan, &err) == 0) {
		e->plan = plan;
		return;
	}
	if (plan)
		log_warn("VM %s: its definition no longer plans: %s", e->name, err.message);
	free(plan);
}

void registry_kill(struct vm_entry *e, int grace_ms)
{
	int status;

	if (!e->pid)
		return;
	watch_stop(e);
	/* a worker that was told to stop gets a moment to exit by itself
	 * (a re-adopted one is not our child: kill 0 tells it is gone) */
	for (int waited = 0; waited < grace_ms; waited += 10) {
		if (waitpid(e->pid, &status, WNOHANG) == e->pid ||
		    (kill(e->pid, 0) < 0 && errno == ESRCH)) {
			e->pid = 0;
			return;
		}
		usleep(10000);
	}
	kill(e->pid, SIGKILL);
	while (waitpid(e->pid, &status, 0) < 0 && errno == EINTR)
		;
	e->pid = 0;
}

int registry_worker_call(struct vm_entry *e, const char *method, json_t *params,
			 json_t **result, int timeout_ms)
{
	char path[PATH_MAX + 16];
	struct armvm_error err = { 0 };
	struct armvm *c;
	int r, cerr = 0;

	snprintf(path, sizeof(path), "%s/control.sock", e->dir);
	c = armvm_connect(path, &cerr);
	if (!c)
		return cerr;
	r = armvm_call_timeout(c, method, params, result, &err, timeout_ms);
	if (r == ARMVM_RPC_ERROR)
		log_warn("VM %s: %s: %s", e->name, method, err.message);
	armvm_error_clear(&err);
	armvm_close(c);
	return r;
}

static void answer_pending(struct vm_entry *e)
{
	if (e->pending) {
		rpc_deferred_reply(e->pending, vm_entry_json(e));
		e->pending = NULL;
	}
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

/* A VM's directory or console socket for the daemon's --group too */
static void share_with_daemon_group(const struct daemon *d, const char *path,
				    mode_t mode)
{
	int r = d->have_group ? share_with_group(path, d->group, mode) : 0;

	if (r < 0)
		log_warn("giving %s to the daemon's group: %s", path, strerror(-r));
}

static void worker_ready(struct vm_entry *e)
{
	char path[PATH_MAX + 16];
	json_t *res = NULL;
	int r;

	/* the console is the group's too; the control socket stays root's */
	snprintf(path, sizeof(path), "%s/console.sock", e->dir);
	share_with_daemon_group(e->d, path, 0660);

	if (!e->defined) {
		e->defined = true;
		state_save(e);	/* the definition outlives this daemon */
	}
	watch_link(e);
	registry_set_state(e, VM_CREATED, "set up by its worker");
	if (!e->start_when_ready) {
		answer_pending(e);
		return;
	}
	json_t *params = registry_start_params(e);
	r = registry_worker_call(e, "worker.start", params, &res, 15000);
	json_decref(params);
	json_decref(res);
	if (r == ARMVM_OK) {
		registry_set_state(e, VM_RUNNING, "started");
		answer_pending(e);
	} else if (e->pending) {
		rpc_deferred_fail(e->pending, ARMVM_E_INTERNAL, NULL,
				  "VM %s was set up but did not start (%s)", e->name,
				  armvm_strerror(r, NULL));
		e->pending = NULL;
	}
}

/* The worker's one status line: ok, or why the VM could not be set up. */
static void status_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct vm_entry *e = w->data;
	ssize_t n = read(e->status_fd, e->status_buf + e->status_len,
			 sizeof(e->status_buf) - 1 - e->status_len);
	json_t *msg, *err;

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n > 0) {
		e->status_len += (size_t)n;
		if (!memchr(e->status_buf, '\n', e->status_len) &&
		    e->status_len < sizeof(e->status_buf) - 1)
			return;
	}
	e->status_buf[e->status_len] = '\0';
	status_stop(e);
	msg = json_loads(e->status_buf, JSON_DISABLE_EOF_CHECK, NULL);
	err = json_object_get(msg, "error");
	if (json_is_true(json_object_get(msg, "ok"))) {
		worker_ready(e);
	} else if (e->pending) {
		/* the child watcher removes the entry when the worker exits */
		rpc_deferred_fail(e->pending,
			err ? (int)json_integer_value(json_object_get(err, "code"))
			    : ARMVM_E_INTERNAL,
			err ? json_incref(json_object_get(err, "data")) : NULL,
			"%s", err ? json_string_value(json_object_get(err, "message"))
				  : "the VM worker ended during set-up (see its log)");
		e->pending = NULL;
	}
	json_decref(msg);
}

static void describe_exit(int status, char *buf, size_t len, enum vm_state *state)
{
	*state = VM_STOPPED;
	if (WIFSIGNALED(status)) {
		snprintf(buf, len, "worker killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
		*state = VM_CRASHED;
		return;
	}
	switch (WEXITSTATUS(status)) {
	case WORKER_EXIT_STOPPED:
		snprintf(buf, len, "stopped on request");
		*state = VM_STOPPED;
		break;
	case WORKER_EXIT_POWEROFF:
		snprintf(buf, len, "guest powered off");
		*state = VM_STOPPED;
		break;
	case WORKER_EXIT_GUEST_ERROR:
		snprintf(buf, len, "guest error: KVM stopped the VM (see worker.log)");
		*state = VM_CRASHED;
		break;
	case WORKER_EXIT_FORCED:
		snprintf(buf, len, "forced stop: the guest ignored the power key");
		break;
	case WORKER_EXIT_REBOOT_STOP:
		snprintf(buf, len, "guest reset; on_reboot=stop");
		break;
	case WORKER_EXIT_DESTROY:
		snprintf(buf, len, "guest stopped; policy destroy");
		break;
	default:
		snprintf(buf, len, "worker exited with status %d", WEXITSTATUS(status));
		*state = VM_CRASHED;
		break;
	}
}

void registry_worker_exited(struct vm_entry *e, int status, const char *reason)
{
	enum vm_state state;
	char why[160];

	e->pid = 0;
	if (status == REGISTRY_STATUS_UNKNOWN) {
		state = VM_CRASHED;
		snprintf(why, sizeof(why), "%s", reason);
	} else {
		describe_exit(status, why, sizeof(why), &state);
		/* the worker's own words are more precise than its exit code */
		if (reason && *reason && !WIFSIGNALED(status))
			snprintf(why, sizeof(why), "%s", reason);
	}
	if (e->state == VM_CREATING) {
		if (e->status_fd >= 0)
			status_cb(e->d->loop, &e->status_watcher, EV_READ);
		if (e->pending) {
			rpc_deferred_fail(e->pending, ARMVM_E_INTERNAL, NULL,
					  "VM %s: %s during set-up", e->name, why);
			e->pending = NULL;
		}
		log_warn("VM %s: %s during set-up", e->name, why);
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
	if (status != REGISTRY_STATUS_UNKNOWN && !WIFSIGNALED(status) &&
	    WEXITSTATUS(status) == WORKER_EXIT_DESTROY) {
		log_info("VM %s: destroyed by its policy", e->name);
		registry_destroy(e, why);
		return;
	}
	registry_set_state(e, state, why);
	if (e->stopping) {
		rpc_deferred_reply(e->stopping, vm_entry_json(e));
		e->stopping = NULL;
	}
}

void registry_worker_event(struct vm_entry *e, const char *kind, json_t *params)
{
	const char *reason = json_string_value(json_object_get(params, "reason"));

	if (!strcmp(kind, "reboot")) {
		/* reset in place: still running, and the event says why */
		enum vm_state prev = e->state;

		snprintf(e->reason, sizeof(e->reason), "%s", reason ? reason : "rebooted");
		e->state = VM_RUNNING;
		log_info("VM %s: reset in place (%s)", e->name, e->reason);
		events_emit(e->d, e->name, EVENT_STATE,
			    json_pack("{s:s, s:s, s:s}", "state", "running",
				      "previous", state_names[prev], "reason", e->reason));
	} else if (!strcmp(kind, "paused")) {
		registry_set_state(e, VM_PAUSED, "paused");
	} else if (!strcmp(kind, "resumed")) {
		registry_set_state(e, VM_RUNNING, "resumed");
	} else if (!strcmp(kind, "device")) {
		json_t *f = json_deep_copy(params);

		json_object_del(f, "kind");
		events_emit(e->d, e->name, EVENT_DEVICE, f);
	}
}

void registry_plan_host(struct plan_host *h)
{
	const struct host_info *hi = hostinfo_get();

	memset(h, 0, sizeof(*h));
	h->limits.ipa_limit_bits = hi->ipa_limit_bits;
	h->limits.ipa_cap = hi->ipa_cap;
	h->gic_v2 = hi->gic_v2;
	h->gic_v3 = hi->gic_v3;
	h->el1_32bit = hi->el1_32bit;
}

static int write_spec(struct vm_entry *e)
{
	struct plan_host h;
	char path[PATH_MAX + 16], tmp[PATH_MAX + 16];
	json_t *spec;
	int r;

	registry_plan_host(&h);
	spec = json_pack("{s:O, s:{s:i, s:b, s:b, s:b, s:b}}", "params", e->params,
			 "host", "ipa_limit_bits", h.limits.ipa_limit_bits,
			 "ipa_cap", h.limits.ipa_cap, "gic_v2", h.gic_v2,
			 "gic_v3", h.gic_v3, "el1_32bit", h.el1_32bit);
	snprintf(path, sizeof(path), "%s/spec.json", e->dir);
	snprintf(tmp, sizeof(tmp), "%s/spec.json.tmp", e->dir);
	r = json_dump_file(spec, tmp, JSON_INDENT(2));
	json_decref(spec);
	if (r < 0 || rename(tmp, path) < 0)
		return -EIO;
	return 0;
}

int registry_spawn(struct vm_entry *e, char *msg, size_t msglen)
{
	struct daemon *d = e->d;
	char logpath[PATH_MAX + 16];
	int pipefd[2], r;
	pid_t pid;

	r = mkdir_p(e->dir, 0750);
	if (r == 0)
		share_with_daemon_group(d, e->dir, 0750);
	if (r < 0 || write_spec(e) < 0) {
		snprintf(msg, msglen, "cannot write %s: %s", e->dir,
			 strerror(r < 0 ? -r : EIO));
		return -EIO;
	}
	/* the last run's word about its end must not be taken for this one's */
	snprintf(logpath, sizeof(logpath), "%s/exit.json", e->dir);
	unlink(logpath);
	snprintf(logpath, sizeof(logpath), "%s/worker.log", e->dir);
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		snprintf(msg, msglen, "pipe: %s", strerror(errno));
		return -errno;
	}
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(pipefd[0]);
		close(pipefd[1]);
		snprintf(msg, msglen, "fork: %s", strerror(-r));
		return r;
	}
	if (pid == 0) {
		/* the worker: its own session, so it outlives a daemon restart */
		char fdarg[16];
		int logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0640);

		setsid();
		if (logfd >= 0) {
			dup2(logfd, STDOUT_FILENO);
			dup2(logfd, STDERR_FILENO);
		}
		dup2(pipefd[1], 3);
		snprintf(fdarg, sizeof(fdarg), "%d", 3);
		execl(d->self_exe, "armvmd", "--worker", e->dir, "--status-fd", fdarg,
		      "--log-level", d->log_level == LOG_DEBUG ? "debug" : "info",
		      (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	e->pid = pid;
	e->status_fd = pipefd[0];
	e->status_len = 0;
	snprintf(logpath, sizeof(logpath), "worker %d setting up", (int)pid);
	registry_set_state(e, VM_CREATING, logpath);
	ev_io_init(&e->status_watcher, status_cb, e->status_fd, EV_READ);
	e->status_watcher.data = e;
	ev_io_start(d->loop, &e->status_watcher);
	if (watch_start(e) < 0)
		log_warn("VM %s: cannot watch worker %d: %s", e->name, (int)pid,
			 strerror(errno));
	log_info("VM %s: worker %d spawned", e->name, (int)pid);
	return 0;
}
