// SPDX-License-Identifier: MIT
#include <errno.h>
#include <string.h>

#include "devices/bus.h"

int bus_register(struct mmio_bus *bus, uint64_t base, uint64_t size,
		 mmio_fn fn, void *dev, const char *name)
{
	unsigned i;

	if (bus->n == BUS_MAX_REGIONS || !size || base + size < base)
		return -EINVAL;
	for (i = 0; i < bus->n; i++) {
		const struct mmio_region *r = &bus->regions[i];

		if (base < r->base + r->size && r->base < base + size)
			return -EEXIST;
	}
	for (i = bus->n; i > 0 && bus->regions[i - 1].base > base; i--)
		bus->regions[i] = bus->regions[i - 1];
	bus->regions[i] = (struct mmio_region){
		.base = base, .size = size, .fn = fn, .dev = dev, .name = name,
	};
	bus->n++;
	return 0;
}

static const struct mmio_region *bus_find(const struct mmio_bus *bus,
					  uint64_t addr)
{
	unsigned lo = 0, hi = bus->n;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		const struct mmio_region *r = &bus->regions[mid];

		if (addr < r->base)
			hi = mid;
		else if (addr - r->base >= r->size)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

bool bus_access(struct mmio_bus *bus, uint64_t addr, uint8_t *data,
		unsigned len, bool is_write)
{
	const struct mmio_region *r = bus_find(bus, addr);

	if (!r || addr - r->base + len > r->size) {
		if (!is_write)
			memset(data, 0, len);
		__atomic_add_fetch(&bus->unhandled, 1, __ATOMIC_RELAXED);
		return false;
	}
	r->fn(r->dev, addr - r->base, data, len, is_write);
	return true;
}
