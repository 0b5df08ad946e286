/* SPDX-License-Identifier: MIT */
/*
 * The MMIO bus of one VM: guest-physical ranges mapped to device handlers.
 * Devices register before the vCPUs start and stay until they stop, so
 * lookups need no lock; each device locks its own state.
 */
#ifndef ARMVMD_BUS_H
#define ARMVMD_BUS_H

#include <stdbool.h>
#include <stdint.h>

/* handler: offset within the device, len 1/2/4/8, data little-endian */
typedef void (*mmio_fn)(void *dev, uint64_t offset, uint8_t *data,
			unsigned len, bool is_write);

struct mmio_region {
	uint64_t base, size;
	mmio_fn fn;
	void *dev;
	const char *name;
};

#define BUS_MAX_REGIONS 48

struct mmio_bus {
	unsigned n;
	struct mmio_region regions[BUS_MAX_REGIONS];	/* sorted by base */
	unsigned long unhandled;	/* accesses that hit no device */
};

int bus_register(struct mmio_bus *bus, uint64_t base, uint64_t size,
		 mmio_fn fn, void *dev, const char *name);

/* Dispatch one access; false when no device claims addr (reads are 0). */
bool bus_access(struct mmio_bus *bus, uint64_t addr, uint8_t *data,
		unsigned len, bool is_write);

#endif
