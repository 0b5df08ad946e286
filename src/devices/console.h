/* SPDX-License-Identifier: MIT */
/*
 * A VM's console: what the guest writes (from a vCPU thread) goes into an
 * in-memory ring at once and, on the worker's event loop, to the log file
 * and to attached clients.  What attached clients type goes to an input
 * callback (the UART's receive FIFO).
 */
#ifndef ARMVMD_CONSOLE_H
#define ARMVMD_CONSOLE_H

#include <ev.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONSOLE_RING_SIZE	(64u << 10)
#define CONSOLE_PENDING_MAX	(256u << 10)
#define CONSOLE_MAX_CLIENTS	8
#define CONSOLE_INPUT_MAX	(16u << 10)
/* console.log is kept under this (spec.json limits.console_log_bytes):
 * past it, it becomes console.log.1 (the older one is dropped) and a new
 * console.log starts; at most twice the bound on disk in all */
#define CONSOLE_LOG_MAX_DEFAULT	(1u << 20)
#define CONSOLE_LOG_MAX_MIN	(4u << 10)

struct console_client {
	int fd;
	ev_io watcher;
	struct console *con;
};

struct console {
	pthread_mutex_t lock;
	char ring[CONSOLE_RING_SIZE];
	uint64_t total;			/* bytes ever written */
	char *pending;			/* not yet in the log file */
	size_t pending_len;
	uint64_t dropped;		/* when the loop could not keep up */

	struct ev_loop *loop;
	ev_async wake;
	int log_fd;
	int log_old_fd;			/* console.log.1, for rotation; -1: none */
	uint64_t log_size, log_max;	/* log_max 0: unbounded */
	int listen_fd;
	ev_io accept_watcher;
	struct console_client clients[CONSOLE_MAX_CLIENTS];

	/* input typed by clients waits here until the device takes it */
	uint8_t inq[CONSOLE_INPUT_MAX];
	size_t inq_head, inq_len;
	uint64_t input_dropped;
	/* tells the device that input is waiting; may be NULL */
	void (*input_ready)(void *opaque);
	void *input_opaque;
};

/* The bound on console logs that console_init gives every console from
 * now on (0: unbounded; less than CONSOLE_LOG_MAX_MIN is taken as that). */
void console_set_log_limit(uint64_t bytes);
/* log_fd: the log (read-write, O_APPEND), old_fd its older half (or -1);
 * both -1: no log.  The console owns them from now on. */
int console_init_fd(struct console *con, struct ev_loop *loop, int log_fd, int old_fd);
/* The same by path (tests, tools): log_path and log_path.1 (made afresh). */
int console_init(struct console *con, struct ev_loop *loop, const char *log_path);
/* Serve attach clients on a Unix socket at path (raw bytes both ways). */
int console_listen(struct console *con, const char *path);
/* ... on a socket bound already (by the supervisor): listen() on it here */
int console_listen_fd(struct console *con, int fd);
void console_close(struct console *con);

/* Any thread: append guest output. */
void console_write(struct console *con, const uint8_t *buf, size_t len);
/* On the loop: what is pending goes to the log and the clients now. */
void console_flush(struct console *con);

/* Any thread: take up to max bytes of waiting input (the device's FIFO). */
size_t console_input_take(struct console *con, uint8_t *buf, size_t max);

/* Copy the last at most max bytes of output into a new string. */
char *console_tail(struct console *con, size_t max, size_t *len,
		   uint64_t *total);

#endif
