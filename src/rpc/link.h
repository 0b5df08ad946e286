/* SPDX-License-Identifier: MIT */
/*
 * A persistent JSON-RPC 2.0 client connection on a libev loop: the
 * supervisor's link to one worker.  Requests carry ids and a deadline each
 * and complete through a callback (the answer, the remote's error, a
 * timeout, or the link closing); notifications from the peer go to
 * ops->notify.  Nothing here ever blocks: writes are queued and flushed
 * when the socket takes them, reads are line-buffered and bounded.
 */
#ifndef ARMVMD_RPC_LINK_H
#define ARMVMD_RPC_LINK_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

/* a line from the peer longer than this closes the link */
#define RPC_LINK_MAX_LINE	(16u << 20)
/* requests queued but not yet taken by the socket */
#define RPC_LINK_MAX_QUEUED	(1u << 20)

struct rpc_link;

/* Why a call did not return a result. */
struct rpc_link_error {
	int code;		/* the peer's error code, or ARMVM_E_TIMEOUT /
				 * ARMVM_E_INTERNAL (link closed, not sent) */
	const char *message;
	json_t *data;		/* borrowed; may be NULL */
	bool timed_out;		/* the deadline passed */
	bool closed;		/* the link went away before an answer */
};

/* result borrowed (NULL on error); err NULL on success */
typedef void (*rpc_link_reply_fn)(void *arg, json_t *result,
				  const struct rpc_link_error *err);

struct rpc_link_ops {
	/* a notification from the peer (params borrowed, may be NULL) */
	void (*notify)(void *ctx, const char *method, json_t *params);
	/* the peer closed or broke the link; pending calls are failed after */
	void (*closed)(void *ctx, int err);
	/* a call missed its deadline (before its callback runs) */
	void (*timeout)(void *ctx, const char *method, double seconds);
	/* an answer arrived (after a timeout: the peer is alive again) */
	void (*answered)(void *ctx);
};

/* Take over connected stream socket fd (made non-blocking). */
struct rpc_link *rpc_link_new(struct ev_loop *loop, int fd,
			      const struct rpc_link_ops *ops, void *ctx);

/* Connect to a Unix socket path and make a link; NULL with -errno in *err. */
struct rpc_link *rpc_link_connect(struct ev_loop *loop, const char *path,
				  const struct rpc_link_ops *ops, void *ctx,
				  int *err);

/*
 * Send method(params) (params borrowed, may be NULL); fn(arg, ...) runs
 * exactly once, later, never from inside this call.  fn may be NULL (the
 * answer is ignored).  0, or -errno (-EPIPE: the link is closed, -ENOBUFS:
 * too much queued).
 */
int rpc_link_call(struct rpc_link *l, const char *method, json_t *params,
		  double timeout_s, rpc_link_reply_fn fn, void *arg);

/*
 * The same with descriptors, sent (SCM_RIGHTS) with the request line's
 * first bytes; the link owns them from now on (closed once sent, or when
 * the call cannot be made).  At most RPC_LINK_MAX_FDS.
 */
#define RPC_LINK_MAX_FDS	8
int rpc_link_call_fds(struct rpc_link *l, const char *method, json_t *params,
		      const int *fds, unsigned nfds, double timeout_s,
		      rpc_link_reply_fn fn, void *arg);

/* Bytes as if read from the peer (tests, fuzzing).  0, or -1 if the
 * link closed itself on them. */
int rpc_link_feed(struct rpc_link *l, const char *buf, size_t len);

/* Read and process, now, whatever the peer has sent (up to the end of
 * the stream or the first read that would block): before its process's
 * exit is acted on, what it said last comes first.  Callbacks run. */
void rpc_link_drain(struct rpc_link *l);

/* Calls waiting for an answer. */
size_t rpc_link_pending(const struct rpc_link *l);

/* Is the connection still up? */
bool rpc_link_open(const struct rpc_link *l);

/* Close and free; pending calls get their callback (closed) first.  Safe
 * to call from inside a callback of this link. */
void rpc_link_free(struct rpc_link *l);

#endif
