/* SPDX-License-Identifier: MIT */
/*
 * The RPC server: a listening Unix socket on a libev loop, non-blocking
 * clients with capped input/output buffers, one JSON text per line.
 */
#ifndef ARMVMD_SERVER_H
#define ARMVMD_SERVER_H

#include <ev.h>
#include <stdbool.h>
#include <sys/types.h>

#include "rpc/rpc.h"

/* a request line longer than this gets ARMVM_E_TOO_LARGE and a close */
#define SERVER_MAX_LINE		(1u << 20)
/* a client that reads nothing while this much waits for it is dropped */
#define SERVER_MAX_OUTPUT	(64u << 20)
/* ...and is not read from while more than this waits */
#define SERVER_PAUSE_OUTPUT	(1u << 20)
#define SERVER_MAX_CLIENTS	1024

struct client;

struct server {
	struct ev_loop *loop;
	const struct rpc_table *table;
	void *ctx;			/* handed to every method */
	int listen_fd;
	ev_io accept_watcher;
	char path[108];
	dev_t dev;			/* the socket file we made, so that */
	ino_t ino;			/* shutdown unlinks only our own */
	struct client *clients;
	unsigned nclients;
	unsigned long next_client_id;
	/* told when a client goes away (its subscriptions end); may be NULL */
	void (*on_close)(struct server *srv, void *conn);
	bool socket_activated;		/* systemd owns the socket file */
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

/* Serve one connected stream socket as a client (tests, workers). */
int server_add_client(struct server *srv, int fd);

/* Send a message (a notification) to a client; -1 if it is gone. */
int server_send(void *conn, json_t *msg);

/* Who is on the other end (SO_PEERCRED at accept); -1 when unknown. */
void server_peer(const void *conn, pid_t *pid, uid_t *uid);

/* Group and mode of the socket file: group gid (looked up from the name
 * given), mode 0660; a NULL gid (no such group) leaves it root's, 0600. */
int server_set_group(struct server *srv, const char *group, const gid_t *gid);

/* Drop every client, stop listening and unlink our socket file. */
void server_close(struct server *srv);

#endif
