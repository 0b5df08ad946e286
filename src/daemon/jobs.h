/* SPDX-License-Identifier: MIT */
/*
 * Slow work off the supervisor's loop: a job's work function runs on one
 * of a few helper threads, then its done function runs on the loop (woken
 * by an ev_async).  Work functions touch nothing of the daemon: they get
 * copies (a directory fd, a text to write) and leave their result in arg.
 * Jobs start in the order they were submitted; with more than one thread
 * they may run side by side and end in any order.
 */
#ifndef ARMVMD_JOBS_H
#define ARMVMD_JOBS_H

#include <ev.h>

struct jobs;
typedef void (*job_fn)(void *arg);	/* on a helper thread: touches nothing of the daemon */
typedef void (*job_done_fn)(void *arg);	/* then on the loop */

/* A runner with threads helper threads (1 or 2; 0 is taken as 1, more
 * than JOBS_THREADS_MAX as that).  NULL when out of memory or threads. */
#define JOBS_THREADS_MAX	2
struct jobs *jobs_new(struct ev_loop *loop, unsigned threads);
/* On the loop: queue work(arg), then done(arg) on the loop (either may be
 * NULL).  0 or -ENOMEM (then neither runs).  While jobs are outstanding
 * they keep ev_run going; an idle runner does not. */
int jobs_submit(struct jobs *j, job_fn work, job_done_fn done, void *arg);
/* Shutdown, on the loop: wait for queued and running work, run their done
 * callbacks (and whatever those submit), free.  NULL is fine. */
void jobs_free(struct jobs *j);

#endif
