// SPDX-License-Identifier: MIT
/*
 * Re-adoption: the workers a previous daemon left running, taken over at
 * start without waiting on any of them.  Every RUNTIME/vms/NAME/ with a
 * control.sock gets a worker link at once (its peer credentials give the
 * pid, a pidfd watches it) and a worker.info call with the usual deadline;
 * the answer says what state the VM is in and which protocol the worker
 * speaks.  When every call is answered or timed out, the VMs left without a
 * worker are told how they ended (exit.json), autostart runs, and
 * d->adopted() is called (READY=1).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/adopt.h"
#include "daemon/daemon.h"
#include "daemon/watch.h"
#include "rpc/worker_proto.h"
#include "util/fs.h"

struct adoption {
	struct daemon *d;
	struct vm_entry *e;
	bool fresh;			/* no definition: rebuilt from spec.json */
};

static void finish(struct daemon *d);

static void adopted_save_done(struct daemon *d, struct vm_entry *e, int err, void *arg)
{
	if (e && err < 0)
		log_warn("VM %s: its definition could not be saved again: %s", e->name,
			 strerror(-err));
	else if (e)
		e->defined = true;
}

/* Not adopted.  keep_out: a worker runs there that is not ours to drive
 * (autostart must not start a second one beside it). */
static void give_up(struct adoption *a, const char *why, bool keep_out)
{
	struct vm_entry *e = a->e;

	log_warn("VM %s: not re-adopted: %s", e->name, why);
	e->adopting = keep_out;
	watch_stop(e);
	e->pid = 0;
	if (a->fresh) {
		/* nothing of it is ours to keep: its files stay for whoever
		 * runs it */
		registry_forget(e);
		return;
	}
	registry_set_state(e, VM_CRASHED, why);
}

static void info_done(void *arg, json_t *info, const struct rpc_link_error *err)
{
	struct adoption *a = arg;
	struct vm_entry *e = a->e;
	struct daemon *d = a->d;
	json_t *proto = json_object_get(info, "proto");
	char why[200];

	if (err && err->closed && !e->pid) {
		give_up(a, err->message, false);
	} else if (err) {
		/* it is there (its socket took our connection) but does not
		 * answer: watched, marked, and the caller may stop or kill it */
		e->adopting = false;
		e->unresponsive = true;
		snprintf(why, sizeof(why), "re-adopted, but its worker did not answer: %s",
			 err->message);
		registry_set_state(e, VM_RUNNING, why);
	} else if (proto && (!json_is_integer(proto) ||
			     json_integer_value(proto) < WORKER_PROTO_MIN ||
			     json_integer_value(proto) > WORKER_PROTO_VERSION)) {
		snprintf(why, sizeof(why), "its worker (pid %d) speaks worker protocol %lld; "
			 "this armvmd speaks %d to %d: stop it with the armvmd it came from "
			 "or kill it", (int)e->pid, (long long)json_integer_value(proto),
			 WORKER_PROTO_MIN, WORKER_PROTO_VERSION);
		give_up(a, why, true);
	} else {
		/* its pid is the control socket's peer's (SO_PEERCRED, in
		 * our pid namespace): a jailed worker sees itself as pid 1 */
		e->adopting = false;
		e->proto = proto ? (int)json_integer_value(proto) : 1;
		e->worker_uid = registry_worker_uid_of(e->pid);
		if (json_is_true(json_object_get(info, "paused")))
			registry_set_state(e, VM_PAUSED, "re-adopted after a daemon restart");
		else if (json_is_true(json_object_get(info, "running")))
			registry_set_state(e, VM_RUNNING, "re-adopted after a daemon restart");
		else
			registry_set_state(e, VM_CREATED, "re-adopted after a daemon restart");
		clock_gettime(CLOCK_MONOTONIC, &e->started_at);
		e->started_at.tv_sec -= (time_t)json_number_value(json_object_get(info, "uptime"));
		log_info("VM %s: re-adopted worker %d (protocol %d)", e->name, (int)e->pid,
			 e->proto);
		if (a->fresh && registry_save(e, e->params, adopted_save_done, NULL) < 0)
			log_warn("VM %s: cannot save its definition again", e->name);
	}
	free(a);
	if (--d->adopting == 0)
		finish(d);
}

/* spec.json of the VM directory name, or NULL */
static json_t *load_spec(struct daemon *d, const char *name)
{
	int dirfd = fs_opendir_at(d->vms_dirfd, name), err;
	size_t n = 0;
	char *text = dirfd < 0 ? NULL : fs_read_at(dirfd, "spec.json", 4u << 20, &n, &err);
	json_t *spec = text ? json_loadb(text, n, 0, NULL) : NULL;

	if (dirfd >= 0)
		close(dirfd);
	free(text);
	return spec;
}

/* A worker may be listening in VM directory name: link to it and ask
 * what it runs. */
static void adopt(struct daemon *d, const char *name)
{
	struct vm_entry *e = registry_find(d, name);
	struct adoption *a;
	bool fresh = false;
	json_t *spec;

	if (e && e->pid)
		return;
	if (!e) {
		/* running, but its definition is gone: rebuild it from spec.json */
		spec = load_spec(d, name);
		if (!json_is_object(json_object_get(spec, "params"))) {
			json_decref(spec);
			return;
		}
		e = registry_add(d, name);
		if (!e) {
			json_decref(spec);
			return;
		}
		e->params = json_incref(json_object_get(spec, "params"));
		e->owner = json_is_integer(json_object_get(spec, "owner")) ?
			   (uid_t)json_integer_value(json_object_get(spec, "owner")) : 0;
		json_decref(spec);
		registry_replan(e);
		fresh = true;
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return;
	a->d = d;
	a->e = e;
	a->fresh = fresh;
	if (watch_link(e) < 0 || !e->pid || watch_start(e) < 0) {
		/* nobody listens: a worker that ended while no daemon watched,
		 * or one still setting up for a daemon that is gone (its
		 * sockets go: it will find no daemon, and end) */
		watch_stop(e);
		e->pid = 0;
		registry_unlink_sockets(e);
		if (fresh) {
			a->fresh = true;
			give_up(a, "nobody answers on its control socket", false);
		}
		free(a);
		return;
	}
	e->adopting = true;
	registry_set_state(e, VM_CREATING, "re-adopting its worker");
	d->adopting++;
	if (watch_call(e, WORKER_M_INFO, NULL, info_done, a) < 0) {
		d->adopting--;
		give_up(a, "cannot ask its worker", false);
		free(a);
	}
}

/* A VM whose worker is gone: say how it ended, from its exit.json. */
static bool ended_while_away(struct vm_entry *e)
{
	char reason[160];
	int code;

	if (!watch_exit_word(e, &code, reason, sizeof(reason)))
		return false;
	switch (worker_exit_outcome(code, NULL)) {
	case WORKER_OUTCOME_DESTROY:
		registry_destroy(e, *reason ? reason : "policy destroy");
		return true;
	case WORKER_OUTCOME_STOPPED:
		registry_set_state(e, VM_STOPPED, *reason ? reason : "ended");
		break;
	case WORKER_OUTCOME_CRASHED:
		registry_set_state(e, VM_CRASHED, *reason ? reason : "ended");
		break;
	}
	return false;
}

static void finish(struct daemon *d)
{
	if (d->stopping)
		return;
	for (struct vm_entry *e = d->vms, *next; e; e = next) {
		next = e->next;
		if (e->pid || e->adopting || ended_while_away(e))
			continue;
		if (json_is_true(json_object_get(e->params, "autostart")) &&
		    e->state != VM_CREATING) {
			log_info("VM %s: autostart", e->name);
			e->start_when_ready = true;
			registry_note_start_request(e);
			/* its files opened as its owner, like any start */
			registry_start(e);
		}
	}
	if (d->adopted)
		d->adopted(d);
}

void restore_workers(struct daemon *d)
{
	int fd = d->vms_dirfd >= 0 ? dup(d->vms_dirfd) : -1;
	DIR *dh = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	struct stat st;
	char sock[300];

	if (!dh && fd >= 0)
		close(fd);
	/* the count stays above zero until every link is made */
	d->adopting++;
	while (dh && (de = readdir(dh))) {
		if (de->d_name[0] == '.' || !plan_name_valid(de->d_name))
			continue;
		snprintf(sock, sizeof(sock), "%s/control.sock", de->d_name);
		if (fstatat(d->vms_dirfd, sock, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISSOCK(st.st_mode))
			adopt(d, de->d_name);
	}
	if (dh)
		closedir(dh);
	if (--d->adopting == 0)
		finish(d);
}
