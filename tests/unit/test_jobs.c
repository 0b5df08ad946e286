// SPDX-License-Identifier: MIT
/*
 * The off-loop job runner on a real libev loop: work runs on a helper
 * thread while the loop keeps serving, done callbacks run on the loop in
 * order, jobs_free waits for everything, an idle runner does not keep
 * ev_run going.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "daemon/jobs.h"

static pthread_t loop_thread;
static atomic_uint worked;
static unsigned done_count;
static unsigned order[256];
static bool work_on_loop, done_off_loop, signals_open;

struct item {
	struct jobs *j;
	unsigned n;
	unsigned resubmit;	/* submit this many more from done */
	unsigned sleep_ms;
};

static void work(void *arg)
{
	struct item *it = arg;
	sigset_t mask;

	if (pthread_equal(pthread_self(), loop_thread))
		work_on_loop = true;
	pthread_sigmask(SIG_SETMASK, NULL, &mask);
	if (!sigismember(&mask, SIGTERM) || !sigismember(&mask, SIGCHLD))
		signals_open = true;
	if (it->sleep_ms)
		usleep(it->sleep_ms * 1000);
	atomic_fetch_add(&worked, 1);
}

static void done(void *arg)
{
	struct item *it = arg;

	if (!pthread_equal(pthread_self(), loop_thread))
		done_off_loop = true;
	if (done_count < 256)
		order[done_count] = it->n;
	done_count++;
	if (it->resubmit) {
		struct item *next = calloc(1, sizeof(*next));

		assert_non_null(next);
		*next = *it;
		next->n = it->n + 1;
		next->resubmit = it->resubmit - 1;
		assert_int_equal(jobs_submit(it->j, work, done, next), 0);
	}
	free(it);
}

static struct item *item(struct jobs *j, unsigned n)
{
	struct item *it = calloc(1, sizeof(*it));

	assert_non_null(it);
	it->j = j;
	it->n = n;
	return it;
}

static int reset(void **state)
{
	loop_thread = pthread_self();
	atomic_store(&worked, 0);
	done_count = 0;
	work_on_loop = done_off_loop = signals_open = false;
	return 0;
}

static void test_many(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct jobs *j = jobs_new(loop, 2);

	assert_non_null(j);
	for (unsigned i = 0; i < 200; i++)
		assert_int_equal(jobs_submit(j, work, done, item(j, i)), 0);
	/* the outstanding jobs keep ev_run going until their done ran */
	ev_run(loop, 0);
	assert_int_equal(atomic_load(&worked), 200);
	assert_int_equal(done_count, 200);
	assert_false(work_on_loop);
	assert_false(done_off_loop);
	assert_false(signals_open);
	jobs_free(j);
	ev_loop_destroy(loop);
}

static void test_order_one_thread(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct jobs *j = jobs_new(loop, 1);

	assert_non_null(j);
	for (unsigned i = 0; i < 100; i++)
		assert_int_equal(jobs_submit(j, work, done, item(j, i)), 0);
	ev_run(loop, 0);
	assert_int_equal(done_count, 100);
	for (unsigned i = 0; i < 100; i++)
		assert_int_equal(order[i], i);
	jobs_free(j);
	ev_loop_destroy(loop);
}

static void test_done_submits(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct jobs *j = jobs_new(loop, 1);
	struct item *it = item(j, 0);

	assert_non_null(j);
	it->resubmit = 9;
	assert_int_equal(jobs_submit(j, work, done, it), 0);
	ev_run(loop, 0);
	assert_int_equal(done_count, 10);
	for (unsigned i = 0; i < 10; i++)
		assert_int_equal(order[i], i);
	jobs_free(j);
	ev_loop_destroy(loop);
}

static void test_idle_does_not_hold_the_loop(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct jobs *j = jobs_new(loop, 2);
	time_t t0 = time(NULL);

	assert_non_null(j);
	ev_run(loop, 0);	/* nothing to wait for: returns at once */
	assert_true(time(NULL) - t0 < 2);
	/* and after a round of work, idle again */
	assert_int_equal(jobs_submit(j, work, done, item(j, 0)), 0);
	ev_run(loop, 0);
	assert_int_equal(done_count, 1);
	ev_run(loop, 0);
	jobs_free(j);
	ev_loop_destroy(loop);
}

/* shutdown waits for queued and running work and runs every done,
 * including the ones of jobs submitted by done callbacks meanwhile */
static void test_free_waits(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct jobs *j = jobs_new(loop, 2);

	assert_non_null(j);
	for (unsigned i = 0; i < 6; i++) {
		struct item *it = item(j, i * 10);

		it->sleep_ms = 20;
		it->resubmit = i == 5 ? 3 : 0;
		assert_int_equal(jobs_submit(j, work, done, it), 0);
	}
	jobs_free(j);
	assert_int_equal(atomic_load(&worked), 9);
	assert_int_equal(done_count, 9);
	assert_false(done_off_loop);
	ev_loop_destroy(loop);
	jobs_free(NULL);
}

/* the loop serves while work blocks: a timer on the loop releases it */
static sem_t release;
static bool released_in_time;

static void blocking_work(void *arg)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	while (sem_timedwait(&release, &ts) < 0 && errno == EINTR)
		;
	released_in_time = true;
}

static void blocking_done(void *arg)
{
	done_count++;
}

static void on_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
	sem_post(&release);
}

static void test_loop_serves_while_working(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct jobs *j = jobs_new(loop, 1);
	ev_timer t;

	assert_non_null(j);
	sem_init(&release, 0, 0);
	released_in_time = false;
	assert_int_equal(jobs_submit(j, blocking_work, blocking_done, NULL), 0);
	ev_timer_init(&t, on_timer, 0.05, 0.);
	ev_timer_start(loop, &t);
	ev_run(loop, 0);
	assert_true(released_in_time);
	assert_int_equal(done_count, 1);
	jobs_free(j);
	sem_destroy(&release);
	ev_loop_destroy(loop);
}

/* two threads really run side by side: two jobs that wait for each other */
static sem_t sa, sb;
static atomic_uint met;

static void meet(sem_t *mine, sem_t *other)
{
	struct timespec ts;

	sem_post(mine);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	while (sem_timedwait(other, &ts) < 0 && errno == EINTR)
		;
}

static void work_a(void *arg)
{
	meet(&sa, &sb);
	atomic_fetch_add(&met, 1);
}

static void work_b(void *arg)
{
	meet(&sb, &sa);
	atomic_fetch_add(&met, 1);
}

static void test_two_threads(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct jobs *j = jobs_new(loop, 2);
	time_t t0 = time(NULL);

	assert_non_null(j);
	sem_init(&sa, 0, 0);
	sem_init(&sb, 0, 0);
	atomic_store(&met, 0);
	assert_int_equal(jobs_submit(j, work_a, NULL, NULL), 0);
	assert_int_equal(jobs_submit(j, work_b, NULL, NULL), 0);
	ev_run(loop, 0);
	assert_int_equal(atomic_load(&met), 2);
	assert_true(time(NULL) - t0 < 5);	/* neither waited out its timeout */
	jobs_free(j);
	sem_destroy(&sa);
	sem_destroy(&sb);
	ev_loop_destroy(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_many, reset),
		cmocka_unit_test_setup(test_order_one_thread, reset),
		cmocka_unit_test_setup(test_done_submits, reset),
		cmocka_unit_test_setup(test_idle_does_not_hold_the_loop, reset),
		cmocka_unit_test_setup(test_free_waits, reset),
		cmocka_unit_test_setup(test_loop_serves_while_working, reset),
		cmocka_unit_test_setup(test_two_threads, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
