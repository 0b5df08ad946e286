/* SPDX-License-Identifier: MIT */
/*
 * ARM PrimeCell PL061 GPIO, 8 lines, used as the VM's buttons: gpio-keys in
 * the device tree turns line LAYOUT_GPIO_POWER_LINE into KEY_POWER.
 */
#ifndef ARMVMD_PL061_H
#define ARMVMD_PL061_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/uart8250.h"	/* irq_fn */

struct pl061 {
	pthread_mutex_t lock;
	uint8_t in;			/* levels driven from outside (the keys) */
	uint8_t out, dir;		/* guest-driven outputs */
	uint8_t is, ibe, iev, ie, ris, afsel;
	bool irq_level;
	unsigned spi;
	irq_fn set_irq;
	void *irq_opaque;
	uint64_t presses;
};

void pl061_init(struct pl061 *g, unsigned spi, irq_fn set_irq, void *opaque);
void pl061_mmio(void *dev, uint64_t offset, uint8_t *data, unsigned len,
		bool is_write);
/* Drive an input line (any thread). */
void pl061_set_line(struct pl061 *g, unsigned line, bool level);

#endif
