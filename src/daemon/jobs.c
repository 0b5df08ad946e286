// SPDX-License-Identifier: MIT
/*
 * The off-loop job runner: a FIFO under a mutex, a condition variable the
 * helper threads sleep on, and a list of finished jobs the loop takes
 * when an ev_async wakes it.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>

#include "daemon/jobs.h"

struct job {
	struct job *next;
	job_fn work;
	job_done_fn done;
	void *arg;
};

/* a FIFO of jobs */
struct job_list {
	struct job *head, **tail;
};

struct jobs {
	struct ev_loop *loop;
	ev_async wake;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job_list queue;		/* waiting for a thread */
	struct job_list finished;	/* waiting for their done on the loop */
	bool stopping;
	unsigned nthreads;
	pthread_t threads[JOBS_THREADS_MAX];
	/* the loop's alone */
	unsigned outstanding;		/* submitted, done not yet run */
	bool referenced;		/* the ev_async keeps ev_run going */
};

static void list_init(struct job_list *l)
{
	l->head = NULL;
	l->tail = &l->head;
}

static void list_push(struct job_list *l, struct job *job)
{
	job->next = NULL;
	*l->tail = job;
	l->tail = &job->next;
}

static struct job *list_pop(struct job_list *l)
{
	struct job *job = l->head;

	if (job) {
		l->head = job->next;
		if (!l->head)
			l->tail = &l->head;
	}
	return job;
}

/* outstanding jobs keep the loop running; an idle runner does not */
static void update_ref(struct jobs *j)
{
	bool want = j->outstanding > 0;

	if (want && !j->referenced)
		ev_ref(j->loop);
	else if (!want && j->referenced)
		ev_unref(j->loop);
	j->referenced = want;
}

static void *jobs_thread(void *p)
{
	struct jobs *j = p;
	struct job *job;

	pthread_mutex_lock(&j->lock);
	for (;;) {
		while (!j->queue.head && !j->stopping)
			pthread_cond_wait(&j->cond, &j->lock);
		job = list_pop(&j->queue);
		if (!job)
			break;		/* stopping, and nothing is left */
		pthread_mutex_unlock(&j->lock);
		if (job->work)
			job->work(job->arg);
		pthread_mutex_lock(&j->lock);
		list_push(&j->finished, job);
		ev_async_send(j->loop, &j->wake);
	}
	pthread_mutex_unlock(&j->lock);
	return NULL;
}

/* On the loop: the done callbacks of the jobs that finished. */
static void run_finished(struct jobs *j)
{
	struct job *job, *list;

	pthread_mutex_lock(&j->lock);
	list = j->finished.head;
	list_init(&j->finished);
	pthread_mutex_unlock(&j->lock);
	while ((job = list)) {
		list = job->next;
		if (job->done)
			job->done(job->arg);
		free(job);
		j->outstanding--;
	}
	update_ref(j);
}

static void jobs_wake(struct ev_loop *loop, ev_async *w, int revents)
{
	run_finished(w->data);
}

static void stop_threads(struct jobs *j)
{
	pthread_mutex_lock(&j->lock);
	j->stopping = true;
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->lock);
	for (unsigned i = 0; i < j->nthreads; i++)
		pthread_join(j->threads[i], NULL);
	j->nthreads = 0;
}

struct jobs *jobs_new(struct ev_loop *loop, unsigned threads)
{
	struct jobs *j = calloc(1, sizeof(*j));
	sigset_t all, old;

	if (!j)
		return NULL;
	if (threads < 1)
		threads = 1;
	if (threads > JOBS_THREADS_MAX)
		threads = JOBS_THREADS_MAX;
	j->loop = loop;
	list_init(&j->queue);
	list_init(&j->finished);
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->cond, NULL);
	ev_async_init(&j->wake, jobs_wake);
	j->wake.data = j;
	ev_async_start(loop, &j->wake);
	ev_unref(loop);		/* idle: not a reason to keep running */

	/* the helpers take no signals: those are the loop's */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	while (j->nthreads < threads &&
	       pthread_create(&j->threads[j->nthreads], NULL, jobs_thread, j) == 0)
		j->nthreads++;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (j->nthreads < threads) {
		jobs_free(j);
		return NULL;
	}
	return j;
}

int jobs_submit(struct jobs *j, job_fn work, job_done_fn done, void *arg)
{
	struct job *job = malloc(sizeof(*job));

	if (!job)
		return -ENOMEM;
	job->work = work;
	job->done = done;
	job->arg = arg;
	j->outstanding++;
	update_ref(j);
	pthread_mutex_lock(&j->lock);
	list_push(&j->queue, job);
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->lock);
	return 0;
}

void jobs_free(struct jobs *j)
{
	struct job *job;

	if (!j)
		return;
	stop_threads(j);
	/* no helper is left: what the done callbacks submit runs here */
	for (;;) {
		run_finished(j);
		pthread_mutex_lock(&j->lock);
		job = list_pop(&j->queue);
		pthread_mutex_unlock(&j->lock);
		if (!job)
			break;
		if (job->work)
			job->work(job->arg);
		pthread_mutex_lock(&j->lock);
		list_push(&j->finished, job);
		pthread_mutex_unlock(&j->lock);
	}
	if (!j->referenced)
		ev_ref(j->loop);	/* as it was before ev_async_start */
	ev_async_stop(j->loop, &j->wake);
	pthread_mutex_destroy(&j->lock);
	pthread_cond_destroy(&j->cond);
	free(j);
}
