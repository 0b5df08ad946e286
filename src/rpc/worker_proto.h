/* SPDX-License-Identifier: MIT */
/*
 * The daemon <-> worker protocol, defined once for both sides.
 *
 * The supervisor spawns a worker as
 *   armvmd --worker DIR --status-fd N
 * DIR holds spec.json (the vm.create parameters with the host facts the
 * supervisor resolved).  The worker writes one JSON line on fd N once the
 * VM is set up, {"ok":true,"pid":P,"proto":V} or {"error":{...}}, and then
 * serves JSON-RPC 2.0 on DIR/control.sock: the WORKER_M_* methods below,
 * for the supervisor only.  The supervisor keeps one connection open (the
 * worker link): its requests carry ids and per-call deadlines, and the
 * worker pushes WORKER_M_EVENT notifications on it after WORKER_M_SUBSCRIBE.
 * When the worker ends, its exit status is one of enum worker_exit, and it
 * writes the same with its own words to DIR/exit.json for a supervisor
 * that is not its parent.
 */
#ifndef ARMVMD_WORKER_PROTO_H
#define ARMVMD_WORKER_PROTO_H

#include <stdbool.h>
#include <string.h>

/*
 * Version of this protocol.  A worker reports it in its status line and in
 * worker.info ("proto"); a daemon re-adopts workers whose version it
 * speaks (WORKER_PROTO_MIN..WORKER_PROTO_VERSION).  A worker of an older
 * release that reports none speaks version 1.
 *   1: the first release (one connection per call, worker.event stream)
 *   2: a persistent link: requests with ids, events on the same link
 *   3: the live state pushed (event "live", {"live": what worker.info
 *      answers}) when it changes, and at least every
 *      WORKER_LIVE_HEARTBEAT_S while a supervisor is subscribed
 */
#define WORKER_PROTO_VERSION	3
#define WORKER_PROTO_MIN	1

#define WORKER_LIVE_HEARTBEAT_S	2.0
/* a pushed state older than this is not served: the worker is asked */
#define WORKER_LIVE_MAX_AGE_S	(WORKER_LIVE_HEARTBEAT_S + 1.0)

/*
 * A pooled worker (armvmd-worker --pool-fd N) waits on N for one message:
 * its spec as one JSON line, the descriptors it names (spec.fds: indices
 * into them, 0-2 becoming its stdin, stdout and stderr) passed with the
 * line's first bytes, at most WORKER_POOL_MAX_FDS of them, the line at
 * most WORKER_POOL_MAX_SPEC bytes.
 */
#define WORKER_POOL_MAX_FDS	64
#define WORKER_POOL_MAX_SPEC	(4u << 20)

/* methods served on control.sock */
#define WORKER_M_START		"worker.start"
#define WORKER_M_STOP		"worker.stop"
#define WORKER_M_REBOOT		"worker.reboot"
#define WORKER_M_PAUSE		"worker.pause"
#define WORKER_M_RESUME		"worker.resume"
#define WORKER_M_SET		"worker.set"
#define WORKER_M_INFO		"worker.info"
#define WORKER_M_CONSOLE	"worker.console"
#define WORKER_M_SUBSCRIBE	"worker.subscribe"
/* fresh kernel, initrd and DTB descriptors for a reset in place: the
 * worker asks with a "reset-files" event and waits a moment for them */
#define WORKER_M_FILES		"worker.files"
/* notification from the worker: params {"kind": "reboot"|"paused"|"resumed"|"device", ...} */
#define WORKER_M_EVENT		"worker.event"

/* worker exit codes: how the supervisor learns why a worker ended */
enum worker_exit {
	WORKER_EXIT_STOPPED = 0,	/* stopped by request (worker.stop) */
	WORKER_EXIT_SETUP = 1,		/* the VM could not be set up */
	WORKER_EXIT_USAGE = 2,
	WORKER_EXIT_POWEROFF = 3,	/* the guest powered off */
	WORKER_EXIT_GUEST_ERROR = 4,	/* KVM_RUN failed / an exit we cannot handle */
	WORKER_EXIT_DESTROY = 5,	/* the guest stopped and policy says destroy */
	WORKER_EXIT_FORCED = 6,		/* graceful stop timed out: forced */
	WORKER_EXIT_REBOOT_STOP = 7,	/* the guest reset and on_reboot=stop */
	WORKER_EXIT_SECCOMP = 8,	/* a syscall outside its seccomp list: crashed */
	WORKER_EXIT_SIGNAL = 9,		/* a signal from outside (a jailed worker is its pid
					 * namespace's init: SIGTERM and the like only reach
					 * it through a handler): crashed */
};

/* What an exit code means for the VM: the one place this rule lives. */
enum worker_outcome {
	WORKER_OUTCOME_STOPPED,		/* the VM is stopped; its definition stays */
	WORKER_OUTCOME_CRASHED,
	WORKER_OUTCOME_DESTROY,		/* the VM is to be removed */
};

/* Outcome and a generic description of exit code `code` (not a signal). */
static inline enum worker_outcome worker_exit_outcome(int code, const char **what)
{
	const char *w;
	enum worker_outcome o = WORKER_OUTCOME_STOPPED;

	switch (code) {
	case WORKER_EXIT_STOPPED:	w = "stopped on request"; break;
	case WORKER_EXIT_POWEROFF:	w = "guest powered off"; break;
	case WORKER_EXIT_FORCED:	w = "forced stop: the guest ignored the power key"; break;
	case WORKER_EXIT_REBOOT_STOP:	w = "guest reset; on_reboot=stop"; break;
	case WORKER_EXIT_DESTROY:	w = "guest stopped; policy destroy";
					o = WORKER_OUTCOME_DESTROY; break;
	case WORKER_EXIT_GUEST_ERROR:	w = "guest error: KVM stopped the VM (see worker.log)";
					o = WORKER_OUTCOME_CRASHED; break;
	case WORKER_EXIT_SETUP:		w = "the VM could not be set up";
					o = WORKER_OUTCOME_CRASHED; break;
	case WORKER_EXIT_SECCOMP:	w = "the worker made a system call its seccomp filter "
					    "forbids (see worker.log)";
					o = WORKER_OUTCOME_CRASHED; break;
	case WORKER_EXIT_SIGNAL:	w = "the worker was killed by a signal";
					o = WORKER_OUTCOME_CRASHED; break;
	default:			w = "worker exited with an unknown status";
					o = WORKER_OUTCOME_CRASHED; break;
	}
	if (what)
		*what = w;
	return o;
}

/* What on_poweroff and on_reboot may say: the one place this rule lives. */
static inline bool worker_policy_valid(const char *policy)
{
	return policy && (!strcmp(policy, "stop") || !strcmp(policy, "restart") ||
			  !strcmp(policy, "destroy"));
}

/* A worker whose status line has not come after this long is killed and
 * its create or start fails (-32010): set-up loads every boot image. */
#define WORKER_SETUP_TIMEOUT_S	300

#define WORKER_GRACE_DEFAULT_S	30	/* power key to forced stop */

#endif
