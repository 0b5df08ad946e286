// SPDX-License-Identifier: MIT
/*
 * PL061 GPIO.  Interrupts follow the TRM: GPIOIS selects level (1) or edge
 * (0) sensing, GPIOIBE both edges, GPIOIEV the polarity; GPIORIS holds the
 * raw status, GPIOIE masks it, GPIOIC clears edge-detected bits.  The SPI
 * is level: high while any unmasked status bit is set.
 */
#include <string.h>

#include "devices/pl061.h"

enum {
	GPIO_DATA_END = 0x400, GPIO_DIR = 0x400, GPIO_IS = 0x404, GPIO_IBE = 0x408,
	GPIO_IEV = 0x40c, GPIO_IE = 0x410, GPIO_RIS = 0x414, GPIO_MIS = 0x418,
	GPIO_IC = 0x41c, GPIO_AFSEL = 0x420, GPIO_ID = 0xfe0,
};

static const uint8_t pl061_id[8] = {
	0x61, 0x10, 0x04, 0x00,		/* PeriphID0..3 */
	0x0d, 0xf0, 0x05, 0xb1,		/* PCellID0..3 */
};

/* the pin levels the guest reads: outputs where DIR says so */
static uint8_t levels(const struct pl061 *g)
{
	return (uint8_t)((g->out & g->dir) | (g->in & ~g->dir));
}

/* called with the lock held */
static void update_irq(struct pl061 *g)
{
	uint8_t lv = levels(g);
	bool level;

	/* level-sensitive lines follow the pin */
	g->ris = (uint8_t)((g->ris & ~g->is) |
		 (g->is & ~(lv ^ g->iev)));
	level = (g->ris & g->ie) != 0;
	if (level != g->irq_level) {
		g->irq_level = level;
		g->set_irq(g->irq_opaque, g->spi, level);
	}
}

static void edges(struct pl061 *g, uint8_t before, uint8_t after)
{
	uint8_t changed = before ^ after;
	/* both edges, or the edge IEV selects (1 rising, 0 falling) */
	uint8_t hit = changed & ~g->is &
		      (g->ibe | (uint8_t)~(after ^ g->iev));

	g->ris |= hit;
}

void pl061_set_line(struct pl061 *g, unsigned line, bool level)
{
	uint8_t before, bit = (uint8_t)(1u << line);

	pthread_mutex_lock(&g->lock);
	before = levels(g);
	g->in = level ? (uint8_t)(g->in | bit) : (uint8_t)(g->in & ~bit);
	if (level)
		g->presses++;
	edges(g, before, levels(g));
	update_irq(g);
	pthread_mutex_unlock(&g->lock);
}

void pl061_mmio(void *dev, uint64_t offset, uint8_t *data, unsigned len,
		bool is_write)
{
	struct pl061 *g = dev;
	uint8_t v = 0, before;

	pthread_mutex_lock(&g->lock);
	if (is_write) {
		v = data[0];
		if (offset < GPIO_DATA_END) {
			/* address bits 9:2 mask which lines the write touches */
			uint8_t mask = (uint8_t)(offset >> 2);

			before = levels(g);
			g->out = (uint8_t)((g->out & ~mask) | (v & mask));
			edges(g, before, levels(g));
		} else {
			switch (offset) {
			case GPIO_DIR: g->dir = v; break;
			case GPIO_IS: g->is = v; break;
			case GPIO_IBE: g->ibe = v; break;
			case GPIO_IEV: g->iev = v; break;
			case GPIO_IE: g->ie = v; break;
			case GPIO_IC: g->ris &= (uint8_t)~v; break;
			case GPIO_AFSEL: g->afsel = v; break;
			default: break;
			}
		}
		update_irq(g);
	} else {
		if (offset < GPIO_DATA_END)
			v = levels(g) & (uint8_t)(offset >> 2);
		else if (offset >= GPIO_ID && offset < GPIO_ID + 0x20)
			v = pl061_id[(offset - GPIO_ID) / 4];
		else switch (offset) {
			case GPIO_DIR: v = g->dir; break;
			case GPIO_IS: v = g->is; break;
			case GPIO_IBE: v = g->ibe; break;
			case GPIO_IEV: v = g->iev; break;
			case GPIO_IE: v = g->ie; break;
			case GPIO_RIS: v = g->ris; break;
			case GPIO_MIS: v = g->ris & g->ie; break;
			case GPIO_AFSEL: v = g->afsel; break;
			default: break;
		}
		memset(data, 0, len);
		data[0] = v;
	}
	pthread_mutex_unlock(&g->lock);
}

void pl061_init(struct pl061 *g, unsigned spi, irq_fn set_irq, void *opaque)
{
	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->lock, NULL);
	g->spi = spi;
	g->set_irq = set_irq;
	g->irq_opaque = opaque;
}
