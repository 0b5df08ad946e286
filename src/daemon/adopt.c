// SPDX-License-Identifier: MIT
/* Re-adoption: the workers a previous daemon left running, taken over at start. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/adopt.h"
#include "daemon/daemon.h"
#include "daemon/state.h"
#include "daemon/watch.h"
#include "rpc/worker_proto.h"

/* A worker answering on its control socket: take it over. */
static void adopt(struct daemon *d, const char *name, const char *dir)
{
	char path[PATH_MAX + 600];
	struct vm_entry *e = registry_find(d, name);
	json_t *info = NULL, *spec;
	bool fresh = false;
	int r;

	if (!e) {
		/* running, but its definition is gone: rebuild it from spec.json */
		snprintf(path, sizeof(path), "%s/spec.json", dir);
		spec = json_load_file(path, 0, NULL);
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
		json_decref(spec);
		e->defined = true;
		registry_replan(e);
		fresh = true;
	}
	r = registry_worker_call(e, "worker.info", NULL, &info, 10000);
	if (r != ARMVM_OK) {
		if (fresh)
			registry_remove(e);
		json_decref(info);
		return;
	}
	e->pid = (pid_t)json_integer_value(json_object_get(info, "pid"));
	if (watch_start(e) < 0) {
		e->pid = 0;
		json_decref(info);
		return;
	}
	watch_link(e);
	if (json_is_true(json_object_get(info, "paused")))
		registry_set_state(e, VM_PAUSED, "re-adopted after a daemon restart");
	else if (json_is_true(json_object_get(info, "running")))
		registry_set_state(e, VM_RUNNING, "re-adopted after a daemon restart");
	else
		registry_set_state(e, VM_CREATED, "re-adopted after a daemon restart");
	clock_gettime(CLOCK_MONOTONIC, &e->started_at);
	e->started_at.tv_sec -= (time_t)json_number_value(json_object_get(info, "uptime"));
	log_info("VM %s: re-adopted worker %d", e->name, (int)e->pid);
	if (fresh)
		state_save(e);
	json_decref(info);
}

/* A VM whose worker is gone: say how it ended, from its exit.json. */
static bool ended_while_away(struct vm_entry *e)
{
	char path[PATH_MAX + 16];
	json_t *j;
	int code;

	snprintf(path, sizeof(path), "%s/exit.json", e->dir);
	j = json_load_file(path, 0, NULL);
	if (!j)
		return false;
	code = (int)json_integer_value(json_object_get(j, "code"));
	if (code == WORKER_EXIT_DESTROY) {
		registry_destroy(e, json_string_value(json_object_get(j, "reason")) ?: "policy destroy");
		json_decref(j);
		return true;
	}
	registry_set_state(e, code == WORKER_EXIT_STOPPED || code == WORKER_EXIT_POWEROFF ||
			   code == WORKER_EXIT_FORCED || code == WORKER_EXIT_REBOOT_STOP
			   ? VM_STOPPED : VM_CRASHED,
			   json_string_value(json_object_get(j, "reason")) ?: "ended");
	json_decref(j);
	return false;
}

void restore_workers(struct daemon *d)
{
	char dir[PATH_MAX + 8], sub[PATH_MAX + 300], sock[PATH_MAX + 320];
	struct dirent *de;
	DIR *dh;

	snprintf(dir, sizeof(dir), "%s/vms", d->runtime_dir);
	dh = opendir(dir);
	while (dh && (de = readdir(dh))) {
		if (de->d_name[0] == '.' || !plan_name_valid(de->d_name))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name);
		snprintf(sock, sizeof(sock), "%s/control.sock", sub);
		if (access(sock, F_OK) == 0)
			adopt(d, de->d_name, sub);
	}
	if (dh)
		closedir(dh);

	for (struct vm_entry *e = d->vms, *next; e; e = next) {
		next = e->next;
		if (e->pid || ended_while_away(e))
			continue;
		if (json_is_true(json_object_get(e->params, "autostart"))) {
			char msg[256];

			log_info("VM %s: autostart", e->name);
			e->start_when_ready = true;
			registry_note_start_request(e);
			if (registry_spawn(e, msg, sizeof(msg)) < 0)
				registry_set_state(e, VM_CRASHED, msg);
		}
	}
}
