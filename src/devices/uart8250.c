// SPDX-License-Identifier: MIT
/*
 * 8250/16550A UART, byte registers (reg-shift 0).  Output is "sent" at
 * once, so THR is always empty again right after a write: with THRI
 * enabled the THR-empty interrupt re-asserts, which is what drives the
 * Linux 8250 driver's transmit path.
 */
#include <string.h>

#include "devices/uart8250.h"

enum {
	UART_RBR_THR = 0, UART_IER = 1, UART_IIR_FCR = 2, UART_LCR = 3,
	UART_MCR = 4, UART_LSR = 5, UART_MSR = 6, UART_SCR = 7,
};
#define IER_RDI		0x01
#define IER_THRI	0x02
#define IIR_NO_INT	0x01
#define IIR_THRI	0x02
#define IIR_RDI		0x04
#define IIR_FIFO	0xc0
#define LCR_DLAB	0x80
#define LSR_DR		0x01
#define LSR_THRE	0x20
#define LSR_TEMT	0x40
#define MSR_DCD_DSR_CTS	0xb0
#define FCR_FIFO_EN	0x01
#define FCR_CLEAR_RX	0x02

/* called with the lock held */
static void uart_update_irq(struct uart8250 *u)
{
	bool level = ((u->ier & IER_RDI) && u->rx_count) ||
		     ((u->ier & IER_THRI) && u->thre_pending);

	if (level != u->irq_level) {
		u->irq_level = level;
		u->set_irq(u->irq_opaque, u->spi, level);
	}
}

/* called with the lock held: refill the receive FIFO from the console */
static void uart_fill_rx(struct uart8250 *u)
{
	uint8_t buf[UART_RX_FIFO];
	size_t n;

	if (u->rx_count)
		return;
	n = console_input_take(u->console, buf, UART_RX_FIFO);
	for (size_t i = 0; i < n; i++)
		u->rx[(u->rx_head + u->rx_count++) % UART_RX_FIFO] = buf[i];
	u->rx_bytes += n;
}

static uint8_t uart_read(struct uart8250 *u, unsigned reg)
{
	uint8_t v = 0;

	switch (reg) {
	case UART_RBR_THR:
		if (u->lcr & LCR_DLAB)
			return u->dll;
		if (u->rx_count) {
			v = u->rx[u->rx_head];
			u->rx_head = (u->rx_head + 1) % UART_RX_FIFO;
			u->rx_count--;
		}
		uart_fill_rx(u);
		return v;
	case UART_IER:
		return u->lcr & LCR_DLAB ? u->dlm : u->ier;
	case UART_IIR_FCR:
		if ((u->ier & IER_RDI) && u->rx_count) {
			v = IIR_RDI;
		} else if ((u->ier & IER_THRI) && u->thre_pending) {
			v = IIR_THRI;
			u->thre_pending = false;	/* reading IIR acknowledges it */
		} else {
			v = IIR_NO_INT;
		}
		return v | (u->fcr & FCR_FIFO_EN ? IIR_FIFO : 0);
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		return LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0);
	case UART_MSR:
		return MSR_DCD_DSR_CTS;
	default:
		return u->scr;
	}
}

static void uart_write(struct uart8250 *u, unsigned reg, uint8_t v)
{
	switch (reg) {
	case UART_RBR_THR:
		if (u->lcr & LCR_DLAB) {
			u->dll = v;
			break;
		}
		console_write(u->console, &v, 1);
		u->tx_bytes++;
		u->thre_pending = true;
		break;
	case UART_IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = v;
			break;
		}
		/* enabling THRI with THR empty raises the interrupt at once */
		if ((v & IER_THRI) && !(u->ier & IER_THRI))
			u->thre_pending = true;
		u->ier = v & 0x0f;
		break;
	case UART_IIR_FCR:
		u->fcr = v & FCR_FIFO_EN;
		if (v & FCR_CLEAR_RX)
			u->rx_count = 0;
		break;
	case UART_LCR:
		u->lcr = v;
		break;
	case UART_MCR:
		u->mcr = v & 0x1f;
		break;
	case UART_SCR:
		u->scr = v;
		break;
	default:
		break;		/* LSR and MSR are read-only */
	}
}

void uart8250_mmio(void *dev, uint64_t offset, uint8_t *data, unsigned len,
		   bool is_write)
{
	struct uart8250 *u = dev;
	unsigned reg = (unsigned)offset;

	if (reg > UART_SCR) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	pthread_mutex_lock(&u->lock);
	if (is_write) {
		uart_write(u, reg, data[0]);
	} else {
		memset(data, 0, len);
		data[0] = uart_read(u, reg);
	}
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

void uart8250_input_ready(void *dev)
{
	struct uart8250 *u = dev;

	pthread_mutex_lock(&u->lock);
	uart_fill_rx(u);
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

void uart8250_init(struct uart8250 *u, struct console *con, unsigned spi,
		   irq_fn set_irq, void *irq_opaque)
{
	memset(u, 0, sizeof(*u));
	pthread_mutex_init(&u->lock, NULL);
	u->console = con;
	u->spi = spi;
	u->set_irq = set_irq;
	u->irq_opaque = irq_opaque;
	u->lcr = 0x03;		/* 8N1 */
}
