// SPDX-License-Identifier: MIT
/* The boot timer: see boottimer.h.  Runs on vCPU threads under its lock. */
#include <string.h>
#include <time.h>

#include "devices/boottimer.h"

int64_t boottimer_clock_ns(int clock_id)
{
	struct timespec ts;

	if (clock_gettime(clock_id, &ts) < 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void boottimer_init(struct boottimer *bt)
{
	memset(bt, 0, sizeof(*bt));
	pthread_mutex_init(&bt->lock, NULL);
}

void boottimer_arm(struct boottimer *bt, int64_t t0_mono_ns, int64_t t0_real_ns)
{
	int64_t cpu = boottimer_clock_ns(CLOCK_PROCESS_CPUTIME_ID);

	pthread_mutex_lock(&bt->lock);
	bt->armed = true;
	bt->t0_mono_ns = t0_mono_ns > 0 ? t0_mono_ns : boottimer_clock_ns(CLOCK_MONOTONIC);
	bt->t0_real_ns = t0_real_ns > 0 ? t0_real_ns : boottimer_clock_ns(CLOCK_REALTIME);
	bt->t0_cpu_ns = cpu;
	bt->first_run_ns = 0;
	bt->writes = 0;
	bt->first_real_ns = bt->first_cpu_ns = 0;
	memset(bt->mark_ns, 0, sizeof(bt->mark_ns));
	pthread_mutex_unlock(&bt->lock);
}

void boottimer_first_run(struct boottimer *bt)
{
	int64_t now = boottimer_clock_ns(CLOCK_MONOTONIC);

	pthread_mutex_lock(&bt->lock);
	if (bt->armed && !bt->first_run_ns)
		bt->first_run_ns = now;
	pthread_mutex_unlock(&bt->lock);
}

static void mark(struct boottimer *bt)
{
	/* clocks first: the lock is not part of what is measured */
	int64_t mono = boottimer_clock_ns(CLOCK_MONOTONIC);
	int64_t real = 0, cpu = 0;

	pthread_mutex_lock(&bt->lock);
	if (bt->writes == 0) {
		pthread_mutex_unlock(&bt->lock);
		real = boottimer_clock_ns(CLOCK_REALTIME);
		cpu = boottimer_clock_ns(CLOCK_PROCESS_CPUTIME_ID);
		pthread_mutex_lock(&bt->lock);
	}
	if (bt->writes < BOOTTIMER_MAX_MARKS)
		bt->mark_ns[bt->writes] = mono;
	if (bt->writes == 0) {
		bt->first_real_ns = real;
		bt->first_cpu_ns = cpu;
	}
	bt->writes++;
	pthread_mutex_unlock(&bt->lock);
}

void boottimer_mmio(void *dev, uint64_t offset, uint8_t *data, unsigned len,
		    bool is_write)
{
	struct boottimer *bt = dev;
	uint32_t v = 0;

	if (is_write) {
		memcpy(&v, data, len < 4 ? len : 4);
		if (offset == BOOTTIMER_REG_MARK && v == BOOTTIMER_MAGIC && len >= 4)
			mark(bt);
		else if (offset == BOOTTIMER_REG_SCRATCH)
			__atomic_store_n(&bt->scratch, v, __ATOMIC_RELAXED);
		return;
	}
	switch (offset) {
	case BOOTTIMER_REG_MARK:
		v = (uint32_t)__atomic_load_n(&bt->writes, __ATOMIC_RELAXED);
		break;
	case BOOTTIMER_REG_ID:
		v = BOOTTIMER_ID;
		break;
	case BOOTTIMER_REG_SCRATCH:
		v = __atomic_load_n(&bt->scratch, __ATOMIC_RELAXED);
		break;
	default:
		break;
	}
	memset(data, 0, len);
	memcpy(data, &v, len < 4 ? len : 4);
}

json_t *boottimer_json(struct boottimer *bt)
{
	json_t *o, *marks = json_array();
	struct boottimer s;

	pthread_mutex_lock(&bt->lock);
	s = *bt;
	pthread_mutex_unlock(&bt->lock);

	for (uint64_t i = 0; i < s.writes && i < BOOTTIMER_MAX_MARKS; i++)
		json_array_append_new(marks, json_integer(s.mark_ns[i]));
	o = json_pack("{s:I, s:I, s:I, s:o}",
		      "start_mono_ns", (json_int_t)s.t0_mono_ns,
		      "start_real_ns", (json_int_t)s.t0_real_ns,
		      "writes", (json_int_t)s.writes,
		      "marks_ns", marks);
	if (s.first_run_ns)
		json_object_set_new(o, "first_run_ns",
				    json_integer(s.first_run_ns - s.t0_mono_ns));
	if (s.writes) {
		json_object_set_new(o, "first_write_ns", json_integer(s.mark_ns[0]));
		json_object_set_new(o, "first_write_real_ns", json_integer(s.first_real_ns));
		json_object_set_new(o, "wall_ns", json_integer(s.mark_ns[0] - s.t0_mono_ns));
		json_object_set_new(o, "cpu_ns", json_integer(s.first_cpu_ns - s.t0_cpu_ns));
		json_object_set_new(o, "worker_cpu_ns", json_integer(s.first_cpu_ns));
	}
	return o;
}

uint64_t boottimer_generation(struct boottimer *bt)
{
	return __atomic_load_n(&bt->writes, __ATOMIC_RELAXED) * 2 +
	       (uint64_t)__atomic_load_n(&bt->t0_mono_ns, __ATOMIC_RELAXED);
}
