/* SPDX-License-Identifier: MIT */
/*
 * The RPC server: a listening Unix socket on a libev loop, non-blocking
 * clients with capped input/output buffers, one JSON text per line.  The
 * bounds come from srv->limits (rpc/limits.h; NULL: the defaults).
 *
 * A client is never freed where something may be walking it: a client that
 * goes away is only marked dead (its socket closed, server_send() refusing
 * it); on_close is told and the memory freed from the loop, before it next
 * waits, once no deferred answer holds it.
 */
#ifndef ARMVMD_SERVER_H
#define ARMVMD_SERVER_H

#include <ev.h>
#include <stdbool.h>
#include <sys/types.h>

#include "rpc/rpc.h"

struct client;
struct armvmd_limits;

/* a log line at most every interval, with the count of those left out */
struct server_ratelimit {
	ev_tstamp last;
	unsigned suppressed;
};

struct server {
	struct ev_loop *loop;
	const struct rpc_table *table;
	void *ctx;			/* handed to every method */
	const struct armvmd_limits *limits;	/* NULL: the defaults */
	int listen_fd;
	ev_io accept_watcher;
	char path[108];
	dev_t dev;			/* the socket file we made, so that */
	ino_t ino;			/* shutdown unlinks only our own */
	struct client *clients;		/* live */
	unsigned nclients;
	unsigned long next_client_id;
	/* told when a client goes away (its subscriptions end), from the
	 * loop and never inside a walk of the server's; may be NULL */
	void (*on_close)(struct server *srv, void *conn);
	bool socket_activated;		/* systemd owns the socket file */

	/* private to server.c */
	bool ready;			/* the watchers below are initialised */
	struct client *dead;		/* to tell on_close of, and free */
	ev_prepare sweep;		/* does that, and resumes readers */
	bool resume_readers;		/* all output fell under max_buffered_total */
	bool over_total;
	size_t out_total;		/* output buffered for all clients */
	bool accept_paused;		/* out of descriptors */
	ev_timer accept_retry;
	struct server_ratelimit rl_accept, rl_refuse;
};

/*
 * Bind path (creating its directory) with mode, replacing a stale socket
 * file that nobody listens on.  -EADDRINUSE when another daemon is live
 * there.
 */
int server_listen(struct server *srv, struct ev_loop *loop, const char *path,
		  mode_t mode, const struct rpc_table *table, void *ctx);

/* Serve an already listening socket (socket activation, tests). */
int server_adopt(struct server *srv, struct ev_loop *loop, int fd,
		 const struct rpc_table *table, void *ctx);

/*
 * Serve one connected stream socket as a client (tests, workers).  Past
 * max_clients or max_clients_per_uid the peer is sent a -32009 error
 * (data: limit, max) and fd closed: -EMFILE.
 */
int server_add_client(struct server *srv, int fd);

/*
 * Send a message (a notification) to a client; -1 if it is gone or was
 * told an error and is closing.  More than max_buffered waiting for it is
 * such an error (-32009, limit "max-buffered").  Never frees conn.
 */
int server_send(void *conn, json_t *msg);

/* Who is on the other end (SO_PEERCRED at accept); -1 when unknown. */
void server_peer(const void *conn, pid_t *pid, uid_t *uid);

/*
 * The whole peer: SO_PEERCRED and its supplementary groups (SO_PEERGROUPS)
 * as they were when it connected.  Past SERVER_PEER_GROUPS groups only the
 * first are kept (fewer groups never grant more).  NULL without a client.
 */
#define SERVER_PEER_GROUPS	64
struct server_peer_cred {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	unsigned ngroups;
	gid_t groups[SERVER_PEER_GROUPS];
	bool known;			/* false: getsockopt failed, trust nothing */
};
const struct server_peer_cred *server_peer_cred(const void *conn);
bool server_peer_in_group(const struct server_peer_cred *p, gid_t gid);

/*
 * Descriptors passed with the request being run (SCM_RIGHTS on the
 * sendmsg that carried its first byte; SERVER_MAX_FDS at most).  Valid
 * only while a handler runs synchronously: a handler that keeps one sets
 * its slot to -1; the others are closed when the request line is done.
 * *n = 0 and NULL when none came.  A request that sent more than
 * SERVER_MAX_FDS is refused before any handler runs.
 */
#define SERVER_MAX_FDS		24
int *server_call_fds(void *conn, unsigned *n);

/* Group and mode of the socket file: group gid (looked up from the name
 * given), mode 0660; a NULL gid (no such group) leaves it root's, 0600. */
int server_set_group(struct server *srv, const char *group, const gid_t *gid);

/* Drop every client, stop listening and unlink our socket file. */
void server_close(struct server *srv);

/* Whether some client's answers are still queued, not yet taken by its
 * socket. */
bool server_output_pending(const struct server *srv);

#endif
