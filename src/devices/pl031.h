/* SPDX-License-Identifier: MIT */
/* ARM PrimeCell PL031 real-time clock: seconds since the epoch. */
#ifndef ARMVMD_PL031_H
#define ARMVMD_PL031_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct pl031 {
	pthread_mutex_t lock;
	int64_t offset;			/* guest time - host time, seconds */
	uint32_t match, control, imsc;
};

void pl031_init(struct pl031 *rtc);
void pl031_mmio(void *dev, uint64_t offset, uint8_t *data, unsigned len,
		bool is_write);

#endif
