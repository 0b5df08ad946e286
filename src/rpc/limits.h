/* SPDX-License-Identifier: MIT */
/*
 * Every bound on what a client (or a worker) can make armvmd hold, named
 * once: the field of struct armvmd_limits, its option name (the field in
 * kebab-case, seconds without their "_s": max_line is --limit max-line=...,
 * idle_partial_s is idle-partial), its default, the range --limit accepts
 * and what it bounds.  armvmd(8) and armvmd-rpc(7) list the same table;
 * daemon.info reports the values in force ("limits", by option name).
 *
 * Kinds: BYTES (uint64_t; values take K, M, G, T suffixes, powers of 1024),
 * COUNT (unsigned), SECONDS (double; an "s" or "ms" suffix is accepted),
 * RATIO (double).
 *
 * X(field, kind, default, minimum, maximum, what it bounds)
 */
#ifndef ARMVMD_LIMITS_H
#define ARMVMD_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#define LIMIT_K		1024.
#define LIMIT_M		(1024. * 1024.)
#define LIMIT_G		(1024. * 1024. * 1024.)
#define LIMIT_T		(1024. * 1024. * 1024. * 1024.)

#define ARMVMD_LIMITS(X)						\
	/* the RPC server (src/rpc/server.c, jsonrpc.c) */		\
	X(max_line, BYTES, 1 * LIMIT_M, 4 * LIMIT_K, 1 * LIMIT_G,	\
	  "bytes of one request line; past it -32001, then the connection is closed") \
	X(max_batch, COUNT, 128, 1, 1000000,				\
	  "calls in one batch; a longer batch is one -32600 and no call runs") \
	X(max_answer, BYTES, 8 * LIMIT_M, 4 * LIMIT_K, 1 * LIMIT_G,	\
	  "bytes of the answer to one request line; a larger one is replaced by -32001") \
	X(max_buffered, BYTES, 16 * LIMIT_M, 64 * LIMIT_K, 16 * LIMIT_G, \
	  "output waiting for one client; past it -32009, then the connection is closed") \
	X(max_buffered_total, BYTES, 64 * LIMIT_M, 64 * LIMIT_K, 64 * LIMIT_G, \
	  "output waiting for all clients; past it no client with unread output is read") \
	X(pause_output, BYTES, 1 * LIMIT_M, 4 * LIMIT_K, 1 * LIMIT_G,	\
	  "output waiting for one client past which its requests are not read") \
	X(max_clients, COUNT, 1024, 1, 1000000,				\
	  "connections in all; past it a new one gets -32009 and is closed") \
	X(max_clients_per_uid, COUNT, 256, 1, 1000000,			\
	  "connections of one uid; past it a new one gets -32009 and is closed") \
	X(idle_partial_s, SECONDS, 30, 0.01, 86400,			\
	  "seconds a connection may hold an incomplete request line (-32009, closed); " \
	  "also the time a connection told such an error has to read it") \
	X(max_subscriptions, COUNT, 64, 1, 1000000,			\
	  "events.subscribe calls per connection; past it -32009")	\
	/* VMs (the registry, vm.* methods) */				\
	X(max_console_bytes, BYTES, 1 * LIMIT_M, 4 * LIMIT_K, 1 * LIMIT_G, \
	  "bytes vm.console returns at most (its \"bytes\" parameter)")	\
	X(max_vms, COUNT, 256, 1, 100000,				\
	  "VMs defined in all")						\
	X(max_vms_per_uid, COUNT, 64, 1, 100000,			\
	  "VMs defined by one owner uid")				\
	X(max_guest_mem, BYTES, 0, 0, 1 * LIMIT_T * 1024,		\
	  "guest RAM of all VMs with a worker; 0: the host's MemTotal x overcommit") \
	X(max_guest_mem_per_uid, BYTES, 0, 0, 1 * LIMIT_T * 1024,	\
	  "guest RAM of one owner's VMs; 0: the host's MemTotal x overcommit") \
	X(overcommit, RATIO, 2.0, 0.01, 1000,				\
	  "guest RAM admitted per byte of host RAM (guest RAM is sparse)") \
	X(console_log_bytes, BYTES, 1 * LIMIT_M, 4 * LIMIT_K, 64 * LIMIT_G, \
	  "size of a VM's console.log, then rotated once to console.log.1") \
	X(worker_log_bytes, BYTES, 1 * LIMIT_M, 4 * LIMIT_K, 64 * LIMIT_G, \
	  "size of a VM's worker.log, then rotated once to worker.log.1") \
	/* the supervisor and its workers */				\
	X(worker_call_timeout_s, SECONDS, 15, 0.1, 3600,		\
	  "deadline of one supervisor->worker call")			\
	X(kill_grace_s, SECONDS, 2, 0.01, 3600,				\
	  "seconds between SIGTERM and SIGKILL when a worker is killed") \
	X(worker_mem_allowance, BYTES, 96 * LIMIT_M, 16 * LIMIT_M, 64 * LIMIT_G, \
	  "a worker's memory.max beyond its guest RAM (the VMM's own share)")

#define LIMIT_CTYPE_BYTES	uint64_t
#define LIMIT_CTYPE_COUNT	unsigned
#define LIMIT_CTYPE_SECONDS	double
#define LIMIT_CTYPE_RATIO	double

struct armvmd_limits {
#define LIMIT_FIELD(f, kind, def, lo, hi, doc)	LIMIT_CTYPE_##kind f;
	ARMVMD_LIMITS(LIMIT_FIELD)
#undef LIMIT_FIELD
};

/* The defaults, as one constant (for users of a NULL limits pointer). */
const struct armvmd_limits *limits_defaults(void);
void limits_default(struct armvmd_limits *l);

/*
 * Set one bound from text: name in kebab-case ("max-clients"; '_' is
 * accepted for '-'), value as its kind takes it.  0, or -1 with why filled
 * (unknown name, malformed value, out of range).
 */
int limits_set(struct armvmd_limits *l, const char *name, const char *value,
	       char *why, size_t len);

/* The same for "NAME=VALUE" (the --limit option). */
int limits_parse(struct armvmd_limits *l, const char *assignment,
		 char *why, size_t len);

/* Rules between bounds (max-buffered >= pause-output + max-answer). */
int limits_check(const struct armvmd_limits *l, char *why, size_t len);

/* {"max-line": 1048576, ...}: the values in force (daemon.info). */
json_t *limits_to_json(const struct armvmd_limits *l);

/* The table: name, default, range, doc (armvmd --limit help). */
void limits_print(FILE *f);

/*
 * Guest RAM admitted in all (per_uid false) or per owner: the bound when
 * set, else the host's MemTotal x overcommit (0 if MemTotal is unknown).
 */
uint64_t limits_guest_mem(const struct armvmd_limits *l, bool per_uid);

/*
 * Raise the soft RLIMIT_NOFILE (up to the hard limit) to leave room for
 * max_clients connections, the VMs' links and files; warns when the hard
 * limit is too low.  Returns the soft limit in force.
 */
unsigned long limits_fit_nofile(const struct armvmd_limits *l);

#endif
