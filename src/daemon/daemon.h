/* SPDX-License-Identifier: MIT */
/* The supervisor's one handle: everything the daemon owns hangs off it. */
#ifndef ARMVMD_DAEMON_H
#define ARMVMD_DAEMON_H

#include <ev.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>

#include "arm64/plan.h"
#include "rpc/rpc.h"
#include "util/log.h"

/*
 * VM states, written down once.  Allowed transitions:
 *   creating -> created -> running -> stopped -> running ...
 *   any state with a worker -> crashed (the worker died)
 *   any -> destroyed (gone from the registry)
 */
enum vm_state {
	VM_CREATING,		/* worker setting the VM up */
	VM_CREATED,		/* set up, vCPUs not started */
	VM_RUNNING,
	VM_STOPPED,		/* no worker; the definition stays */
	VM_CRASHED,		/* the worker died unexpectedly */
	VM_NSTATES,
};

#define VM_S(s)		(1u << (s))
#define VM_S_ANY	((1u << VM_NSTATES) - 1)

const char *vm_state_name(enum vm_state s);
json_t *vm_states_json(unsigned mask);

/* the worker's sockets live in RUNTIME_DIR/vms/NAME/: sun_path is 108 bytes */
#define RUNTIME_DIR_MAX	48

struct vm_entry {
	struct daemon *d;
	struct vm_entry *next;
	char name[64];
	char dir[PATH_MAX];
	json_t *params;			/* the accepted vm.create parameters */
	struct vm_plan *plan;
	enum vm_state state;
	char reason[160];		/* why it is in that state */
	pid_t pid;			/* worker, 0 when none */
	ev_child child_watcher;
	ev_io status_watcher;
	int status_fd;
	char status_buf[2048];
	size_t status_len;
	struct rpc_call *pending;	/* the call waiting for the worker */
	bool start_when_ready;
	bool defined;			/* came up once: keep it if a restart fails */
	time_t created_at;
	struct timespec started_at;
};

struct daemon {
	struct ev_loop *loop;
	char runtime_dir[RUNTIME_DIR_MAX + 1];
	char self_exe[PATH_MAX];
	enum log_level log_level;
	struct vm_entry *vms;
	unsigned long next_vm_number;
};

/* registry.c */
struct vm_entry *registry_find(struct daemon *d, const char *name);
struct vm_entry *registry_add(struct daemon *d, const char *name);
void registry_remove(struct vm_entry *e);
/* Spawn the worker for e (state creating); done() answers e->pending. */
int registry_spawn(struct vm_entry *e, char *msg, size_t msglen);
/* Wait grace_ms for the worker to exit, then kill it, and reap it. */
void registry_kill(struct vm_entry *e, int grace_ms);
/* Remove a VM's runtime directory and the files in it. */
void registry_remove_dir(const char *dir);
/* A blocking call to e's worker.  Returns what armvm_call returns. */
int registry_worker_call(struct vm_entry *e, const char *method, json_t *params,
			 json_t **result, int timeout_ms);
void registry_set_state(struct vm_entry *e, enum vm_state s, const char *reason);
struct plan_host;
void registry_plan_host(struct plan_host *h);
json_t *vm_entry_json(struct vm_entry *e);

#endif
