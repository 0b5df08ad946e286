/* SPDX-License-Identifier: MIT */
/*
 * The boot timer: a benchmark device at LAYOUT_BOOTTIMER_BASE.  A guest
 * writes BOOTTIMER_MAGIC to its MARK register; the first such write after
 * the VM was started records how long it took since the start request
 * arrived at the supervisor (wall clock, and the worker's CPU time).  Later
 * writes are kept as further marks (a guest brackets a loop with two of
 * them).  Registers (32-bit, little-endian):
 *
 *   0x00 MARK     write BOOTTIMER_MAGIC: record a mark; read: marks so far
 *   0x04 ID       read: BOOTTIMER_ID ("BTMR"); a cheap register to poll
 *   0x08 SCRATCH  read/write, no effect
 *
 * Other offsets read 0 and ignore writes.  No interrupt, no FDT node: a
 * bare-metal guest knows the address, Linux reaches it through /dev/mem.
 */
#ifndef ARMVMD_BOOTTIMER_H
#define ARMVMD_BOOTTIMER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#define BOOTTIMER_MAGIC		0xb007b007u
#define BOOTTIMER_ID		0x524d5442u	/* "BTMR" */
#define BOOTTIMER_REG_MARK	0x00
#define BOOTTIMER_REG_ID	0x04
#define BOOTTIMER_REG_SCRATCH	0x08
#define BOOTTIMER_MAX_MARKS	16

struct boottimer {
	pthread_mutex_t lock;
	bool armed;			/* a start was recorded */
	int64_t t0_mono_ns;		/* the start request arrived (supervisor) */
	int64_t t0_real_ns;
	int64_t t0_cpu_ns;		/* the worker's CPU time when it learnt of it */
	int64_t first_run_ns;		/* vCPU 0 first entered KVM_RUN (monotonic) */
	uint64_t writes;		/* MARK writes with the magic since the start */
	int64_t mark_ns[BOOTTIMER_MAX_MARKS];	/* monotonic, the first ones */
	int64_t first_real_ns;		/* CLOCK_REALTIME of the first mark */
	int64_t first_cpu_ns;		/* worker CPU time at the first mark */
	uint32_t scratch;
};

void boottimer_init(struct boottimer *bt);
/*
 * The VM is being started: the start request arrived at t0 (monotonic and
 * realtime nanoseconds, the supervisor's clocks; <= 0: now).  Forgets the
 * marks of an earlier run.
 */
void boottimer_arm(struct boottimer *bt, int64_t t0_mono_ns, int64_t t0_real_ns);
/* vCPU 0 is about to enter KVM_RUN (only the first call after arm counts) */
void boottimer_first_run(struct boottimer *bt);
void boottimer_mmio(void *dev, uint64_t offset, uint8_t *data, unsigned len,
		    bool is_write);
/* Changes with every mark and every arm (a cheap fingerprint). */
uint64_t boottimer_generation(struct boottimer *bt);
/* What was recorded, for worker.info (a new object). */
json_t *boottimer_json(struct boottimer *bt);

int64_t boottimer_clock_ns(int clock_id);

#endif
