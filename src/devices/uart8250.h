/* SPDX-License-Identifier: MIT */
/* A 16550A-compatible UART: registers on the vCPU thread, output to a console. */
#ifndef ARMVMD_UART8250_H
#define ARMVMD_UART8250_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/console.h"

#define UART_RX_FIFO 256

typedef void (*irq_fn)(void *opaque, unsigned spi, bool level);

struct uart8250 {
	pthread_mutex_t lock;
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	bool thre_pending;		/* THR-empty interrupt not yet acknowledged */
	uint8_t rx[UART_RX_FIFO];
	unsigned rx_head, rx_count;
	bool irq_level;
	unsigned spi;
	irq_fn set_irq;
	void *irq_opaque;
	struct console *console;
	uint64_t tx_bytes, rx_bytes;
};

void uart8250_init(struct uart8250 *u, struct console *con, unsigned spi,
		   irq_fn set_irq, void *irq_opaque);
void uart8250_mmio(void *dev, uint64_t offset, uint8_t *data, unsigned len,
		   bool is_write);
/* From the console: input is waiting (taken as the receive FIFO drains). */
void uart8250_input_ready(void *dev);

#endif
