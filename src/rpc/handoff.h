/* SPDX-License-Identifier: MIT */
/*
 * The hand-off of a VM to a pooled worker (rpc/worker_proto.h): one JSON
 * line on a stream socket, with descriptors (SCM_RIGHTS) on its first
 * bytes.  The supervisor sends it (handoff_send), the waiting worker
 * receives it (handoff_recv).
 */
#ifndef ARMVMD_RPC_HANDOFF_H
#define ARMVMD_RPC_HANDOFF_H

#include <stddef.h>

/* Send text (without its newline; the newline is added) and nfds
 * descriptors (at most max_fds) on sock, waiting at most timeout_ms for
 * room each time the socket is full.  0 or -errno (-E2BIG: too many
 * descriptors or too long, -ETIMEDOUT, -EPIPE: the peer is gone). */
int handoff_send(int sock, const char *text, const int *fds, unsigned nfds,
		 unsigned max_fds, size_t max_len, int timeout_ms);

/*
 * Receive one line of at most max_len bytes (blocking) and the
 * descriptors that came with it (at most max_fds, close-on-exec, in
 * fds[]).  Returns the line (NUL-terminated, without its newline; the
 * caller frees it) with its length in *len, or NULL: *err = 0 when the
 * peer closed before a byte, else -errno (-EMSGSIZE: too long or too many
 * descriptors, -EPROTO: closed in the middle of the line).  Descriptors
 * received with a failed line are closed.
 */
char *handoff_recv(int sock, size_t max_len, int *fds, unsigned max_fds, unsigned *nfds,
		   size_t *len, int *err);

#endif
