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

/* the worker's sockets live in RUNTIME_DIR/vms/NAME/: sun_path is 108 bytes */
#define RUNTIME_DIR_MAX	48

/* a line-reading connection to one of a worker's sockets */
struct vm_link {
	int fd;
	ev_io watcher;
	size_t len;
	char buf[4096];
};

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
	int pidfd;			/* tells when the worker ends */
	ev_io pid_watcher;
	struct vm_link events;		/* the worker's worker.event stream */
	struct vm_link console;		/* console lines, while subscribed */
	ev_io status_watcher;
	int status_fd;
	char status_buf[2048];
	size_t status_len;
	struct rpc_call *pending;	/* the call waiting for the worker */
	struct rpc_call *stopping;	/* a vm.stop waiting for the guest */
	bool start_when_ready;
	bool defined;			/* came up once: keep it if a restart fails */
	time_t created_at;
	struct timespec started_at;
	/* when the last create/start request arrived, for the boot timer */
	struct timespec start_req_mono, start_req_real;
};

struct subscriber;

struct daemon {
	struct ev_loop *loop;
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
};

/* registry.c */
struct vm_entry *registry_find(struct daemon *d, const char *name);
struct vm_entry *registry_add(struct daemon *d, const char *name);
void registry_remove(struct vm_entry *e);
/* Forget a VM for good, telling subscribers (state "destroyed"). */
void registry_destroy(struct vm_entry *e, const char *reason);
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
/* A create/start request for e arrived now; the worker.start parameters
 * that pass that time on (the boot timer measures from it). */
void registry_note_start_request(struct vm_entry *e);
json_t *registry_start_params(const struct vm_entry *e);
/* (Re)compute e->plan from e->params; NULL plan when it no longer builds. */
void registry_replan(struct vm_entry *e);
/* The worker of e ended (wait status, and its own word when known);
 * REGISTRY_STATUS_UNKNOWN: it is gone and nobody knows how (reason says). */
#define REGISTRY_STATUS_UNKNOWN (-1)
void registry_worker_exited(struct vm_entry *e, int status, const char *reason);
/* A worker.event notification from e's worker. */
void registry_worker_event(struct vm_entry *e, const char *kind, json_t *params);
/* Log who asked for what (peer credentials of the connection). */
void registry_audit(struct rpc_call *call, const char *what, const char *name);

#endif
