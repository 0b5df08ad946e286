/* SPDX-License-Identifier: MIT */
/*
 * Watching a VM's worker from the supervisor's loop, without ever waiting
 * on it: a pidfd tells when it ends (whether it is our child or one a
 * previous daemon left running), the worker link (src/rpc/link.h) carries
 * requests with deadlines and the worker's events, and a console link turns
 * its console into line events while someone subscribed to them.
 *
 * watch.c reports to the registry only through the watch_ops the registry
 * installs (d->watch_ops): the registry calls down into watch.c, never the
 * other way round.
 */
#ifndef ARMVMD_WATCH_H
#define ARMVMD_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "rpc/link.h"

struct daemon;
struct vm_entry;

struct watch_ops {
	/* the worker ended: wait status (or REGISTRY_STATUS_UNKNOWN) and its
	 * own words from exit.json when it left any */
	void (*exited)(struct vm_entry *e, int status, const char *reason);
	/* a worker.event notification */
	void (*event)(struct vm_entry *e, const char *kind, json_t *params);
	/* a call missed its deadline (false), or the worker answered again */
	void (*responsive)(struct vm_entry *e, bool responsive, const char *why);
};

/* Start watching e->pid.  -errno if the process is already gone. */
int watch_start(struct vm_entry *e);
/* Stop watching e's worker: pidfd and links closed, pending calls failed. */
void watch_stop(struct vm_entry *e);

/* Open the worker link (control.sock) and subscribe to the worker's
 * events on it.  Also gives e->pid from the socket's peer when it is 0. */
int watch_link(struct vm_entry *e);

/*
 * A call to e's worker over its link, with the daemon's deadline.  fn(arg,
 * result, err) runs exactly once, later, also when the link closes (then
 * while e is still valid).  -errno, and fn never runs, when there is no link.
 */
int watch_call(struct vm_entry *e, const char *method, json_t *params,
	       rpc_link_reply_fn fn, void *arg);
/* The same with descriptors (the link's from now on: rpc_link_call_fds). */
int watch_call_fds(struct vm_entry *e, const char *method, json_t *params,
		   const int *fds, unsigned nfds, rpc_link_reply_fn fn, void *arg);

/* Send sig to e's worker through its pidfd.  0 or -errno. */
int watch_signal(struct vm_entry *e, int sig);

/* e is being forgotten while its worker still runs: SIGKILL it, keep its
 * pidfd (in d->reaping) until it has ended, and reap it. */
void watch_abandon(struct vm_entry *e);
/* Drop every abandoned worker's watch (daemon shutdown). */
void watch_reapers_free(struct daemon *d);

/* What the worker wrote in exit.json about its end; false if nothing. */
bool watch_exit_word(struct vm_entry *e, int *code, char *reason, size_t len);

/* Open or close the console link as subscriptions require. */
void watch_console_update(struct vm_entry *e);

/* Is a removed VM's worker of this uid still dying? */
bool watch_reaping_uid(const struct daemon *d, uid_t uid);

#endif
