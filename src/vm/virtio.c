// SPDX-License-Identifier: MIT
/*
 * A VM's virtio-mmio devices: created from the plan's device table, one per
 * slot, on the MMIO bus; then connected to KVM once the GIC exists: an
 * ioeventfd per queue on QueueNotify (datamatch on the queue index) so
 * kicks wake the worker's loop without a trip through a vCPU thread, and
 * an irqfd per device on its SPI.  Either falling back (the MMIO handler
 * signals the kick eventfd itself; KVM_IRQ_LINE pulses) keeps the device
 * working, only slower.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>

#include "devices/virtio_devs.h"
#include "util/log.h"
#include "vm/vm.h"

#define setup_fail(r, ...) (snprintf(msg, msglen, __VA_ARGS__), (r))

/* the guest's hvc0: its own console, log and attach socket */
struct vm_hvc {
	struct console con;
	bool open;			/* con initialised */
	char log[PATH_MAX], sock[PATH_MAX];
};

static void *gmem_map(void *opaque, uint64_t gpa, uint64_t len)
{
	return vm_gpa_to_hva(opaque, gpa, len);
}

static void irq_pulse(void *opaque, unsigned spi)
{
	vm_set_irq(opaque, spi, true);
	vm_set_irq(opaque, spi, false);
}

static int hvc_open(struct vm *vm, const struct vm_host_fds *hf, char *msg, size_t msglen)
{
	int r;

	vm->hvc = calloc(1, sizeof(*vm->hvc));
	if (!vm->hvc)
		return setup_fail(-ENOMEM, "out of memory");
	/* beside console.log: hvc0.log and hvc0.sock (named, not opened) */
	if (snprintf(vm->hvc->log, PATH_MAX, "%s/hvc0.log", hf->dir) >= PATH_MAX ||
	    snprintf(vm->hvc->sock, PATH_MAX, "%s/hvc0.sock", hf->dir) >= PATH_MAX)
		return setup_fail(-ENAMETOOLONG, "hvc0: runtime directory name too long");
	r = console_init_fd(&vm->hvc->con, vm->loop, hf->hvc_log, hf->hvc_log_old);
	if (r < 0)
		return setup_fail(r, "hvc0 log %s: %s", vm->hvc->log, strerror(-r));
	vm->hvc->open = true;
	r = hf->hvc_listen < 0 ? -EBADF : console_listen_fd(&vm->hvc->con, hf->hvc_listen);
	if (r < 0)
		return setup_fail(r, "hvc0 socket %s: %s", vm->hvc->sock, strerror(-r));
	return 0;
}

int vm_virtio_setup(struct vm *vm, const struct vm_host_fds *hf, char *msg, size_t msglen)
{
	const struct vm_plan *p = &vm->plan;

	vm->gmem = (struct virtq_mem){ .map = gmem_map, .opaque = vm };
	for (unsigned i = 0; i < p->nvirtio; i++) {
		const struct virtio_slot_conf *s = &p->virtio[i];
		struct virtio_env env = { .loop = vm->loop, .mem = &vm->gmem, .slot = i };
		struct virtio_dev *d = NULL;
		int r = -EINVAL;

		switch (s->kind) {
		case VIRTIO_KIND_BLK:
			r = virtio_blk_create(&env, s->index, &p->disks[s->index], &d,
					      msg, msglen);
			break;
		case VIRTIO_KIND_NET:
			r = virtio_net_create(&env, s->index, &p->nets[s->index], &d,
					      msg, msglen);
			break;
		case VIRTIO_KIND_CONSOLE:
			r = hvc_open(vm, hf, msg, msglen);
			if (r == 0)
				r = virtio_console_create(&env, &vm->hvc->con, &d, msg, msglen);
			break;
		case VIRTIO_KIND_RNG:
			r = virtio_rng_create(&env, &d, msg, msglen);
			break;
		}
		if (r < 0)
			return r;
		d->base = LAYOUT_VIRTIO_BASE + i * LAYOUT_VIRTIO_STRIDE;
		d->spi = LAYOUT_IRQ_VIRTIO + i;
		d->irq_pulse = irq_pulse;
		d->irq_opaque = vm;
		d->on_fail = vm_device_failed;
		d->fail_opaque = vm;
		vm->virtio[i] = d;
		r = bus_register(&vm->bus, d->base, LAYOUT_VIRTIO_STRIDE,
				 virtio_mmio_access, d, d->name);
		if (r < 0)
			return setup_fail(r, "virtio %s at 0x%llx: %s", d->name,
					  (unsigned long long)d->base, strerror(-r));
	}
	return 0;
}

/* KVM_IOEVENTFD on QueueNotify for each queue, datamatch on its index */
static bool connect_kicks(struct vm *vm, struct virtio_dev *d)
{
	for (unsigned q = 0; q < d->nqueues; q++) {
		struct kvm_ioeventfd io = {
			.datamatch = q,
			.addr = d->base + VIRTIO_MMIO_QUEUE_NOTIFY,
			.len = 4,
			.fd = d->kick_fd[q],
			.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
		};

		if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0) {
			log_warn("virtio %s: KVM_IOEVENTFD for queue %u: %s (its kicks "
				 "go through the vCPU thread)", d->name, q, strerror(errno));
			return false;
		}
	}
	return true;
}

/* KVM_IRQFD: a write to the eventfd is an edge on the device's SPI */
static void connect_irq(struct vm *vm, struct virtio_dev *d)
{
	struct kvm_irqfd irqfd = { .gsi = d->spi };
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	if (fd < 0) {
		log_warn("virtio %s: eventfd: %s", d->name, strerror(errno));
		return;
	}
	irqfd.fd = (uint32_t)fd;
	if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0) {
		log_warn("virtio %s: KVM_IRQFD on SPI %u: %s (interrupts go through "
			 "KVM_IRQ_LINE)", d->name, d->spi, strerror(errno));
		close(fd);
		return;
	}
	d->irq_fd = fd;
}

int vm_virtio_connect(struct vm *vm, char *msg, size_t msglen)
{
	for (unsigned i = 0; i < vm->plan.nvirtio; i++) {
		struct virtio_dev *d = vm->virtio[i];

		if (!d)
			continue;
		d->ioeventfd = connect_kicks(vm, d);
		connect_irq(vm, d);
	}
	return 0;
}

void vm_virtio_reset(struct vm *vm)
{
	for (unsigned i = 0; i < LAYOUT_VIRTIO_SLOTS; i++)
		if (vm->virtio[i])
			virtio_dev_reset(vm->virtio[i]);
}

json_t *vm_virtio_info(struct vm *vm)
{
	json_t *list = json_array();

	for (unsigned i = 0; i < LAYOUT_VIRTIO_SLOTS; i++) {
		struct virtio_dev *d = vm->virtio[i];
		json_t *o;

		if (!d)
			continue;
		o = virtio_dev_info(d);
		if (d->ops->device_id == VIRTIO_ID_CONSOLE && vm->hvc) {
			json_object_set_new(o, "log", json_string(vm->hvc->log));
			json_object_set_new(o, "socket", json_string(vm->hvc->sock));
		}
		json_array_append_new(list, o);
	}
	return list;
}

uint64_t vm_virtio_generation(struct vm *vm)
{
	uint64_t g = 0;

	for (unsigned i = 0; i < LAYOUT_VIRTIO_SLOTS; i++) {
		struct virtio_dev *d = vm->virtio[i];

		if (d)
			g += __atomic_load_n(&d->kicks, __ATOMIC_RELAXED) * 3 +
			     __atomic_load_n(&d->interrupts, __ATOMIC_RELAXED) * 5 +
			     __atomic_load_n(&d->errors, __ATOMIC_RELAXED) * 7 +
			     __atomic_load_n(&d->resets, __ATOMIC_RELAXED) * 11 +
			     __atomic_load_n(&d->broken, __ATOMIC_RELAXED) * 13 +
			     __atomic_load_n(&d->driver_features, __ATOMIC_RELAXED);
	}
	return g;
}

void vm_virtio_destroy(struct vm *vm)
{
	for (unsigned i = 0; i < LAYOUT_VIRTIO_SLOTS; i++) {
		struct virtio_dev *d = vm->virtio[i];

		if (!d)
			continue;
		virtio_dev_close(d);
		d->ops->destroy(d);
		vm->virtio[i] = NULL;
	}
	if (vm->hvc) {
		/* its socket file is the supervisor's to remove */
		if (vm->hvc->open)
			console_close(&vm->hvc->con);
		free(vm->hvc);
		vm->hvc = NULL;
	}
}
