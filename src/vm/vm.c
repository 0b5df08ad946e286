// SPDX-License-Identifier: MIT
/*
 * VM set-up in one explicit order: KVM VM with the planned IPA size,
 * memory banks, vCPUs, GIC, devices, payload (kernel, initrd, DTB), boot
 * registers.  Nothing here exits the process: errors go back to the worker.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include <libfdt.h>
#include <linux/kvm.h>

#include "arm64/fdt.h"
#include "arm64/hostinfo.h"
#include "util/log.h"
#include "vm/vm.h"

#define setup_fail(r, ...) (snprintf(msg, msglen, __VA_ARGS__), (r))

void *vm_gpa_to_hva(struct vm *vm, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < vm->nbanks; i++) {
		struct guest_bank *b = &vm->banks[i];

		/* overflow-safe: gpa - base is checked before adding len */
		if (gpa >= b->gpa && gpa - b->gpa <= b->size &&
		    len <= b->size - (gpa - b->gpa))
			return b->hva + (gpa - b->gpa);
	}
	return NULL;
}

void vm_set_irq(void *opaque, unsigned spi, bool level)
{
	struct vm *vm = opaque;
	struct kvm_irq_level irq = {
		.irq = (KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT) | (32 + spi),
		.level = level,
	};

	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		log_warn("KVM_IRQ_LINE spi %u: %s", spi, strerror(errno));
}

static int map_banks(struct vm *vm, char *msg, size_t msglen)
{
	for (unsigned i = 0; i < vm->plan.cfg.nbanks; i++) {
		const struct mem_bank *mb = &vm->plan.cfg.banks[i];
		struct guest_bank *b = &vm->banks[i];
		struct kvm_userspace_memory_region region;
		uint8_t *p;

		/* 2 MiB aligned host memory lets THP back the guest with
		 * huge pages; MAP_NORESERVE: only touched pages cost */
		b->map_size = mb->size + SZ_2M;
		b->map = mmap(NULL, b->map_size, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (b->map == MAP_FAILED) {
			b->map = NULL;
			return setup_fail(-ENOMEM, "cannot reserve %llu MiB for bank %u",
					  (unsigned long long)(mb->size >> 20), i);
		}
		p = (uint8_t *)(((uintptr_t)b->map + SZ_2M - 1) & ~(uintptr_t)(SZ_2M - 1));
		madvise(p, mb->size, MADV_HUGEPAGE);
		b->hva = p;
		b->gpa = mb->base;
		b->size = mb->size;
		vm->nbanks++;
		region = (struct kvm_userspace_memory_region){
			.slot = i, .guest_phys_addr = b->gpa, .memory_size = b->size,
			.userspace_addr = (uint64_t)(uintptr_t)p,
		};
		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
			int r = -errno;

			return setup_fail(r, "memslot for bank %u at 0x%llx (%llu MiB): %s",
					  i, (unsigned long long)b->gpa,
					  (unsigned long long)(b->size >> 20), strerror(-r));
		}
	}
	return 0;
}

static int gic_attr(struct vm *vm, uint32_t group, uint64_t attr, void *addr)
{
	struct kvm_device_attr a = {
		.group = group, .attr = attr, .addr = (uint64_t)(uintptr_t)addr,
	};

	return ioctl(vm->gic_fd, KVM_SET_DEVICE_ATTR, &a) < 0 ? -errno : 0;
}

/* After the vCPUs exist: create the in-kernel GIC, place it, initialise it. */
static int gic_setup(struct vm *vm, char *msg, size_t msglen)
{
	struct kvm_create_device dev = { 0 };
	uint64_t dist = LAYOUT_GIC_DIST_BASE, second;
	uint32_t nr_irqs = 128;		/* 32 private + 96 SPIs */
	int r;

	dev.type = vm->plan.gic == GIC_V3 ? KVM_DEV_TYPE_ARM_VGIC_V3
					  : KVM_DEV_TYPE_ARM_VGIC_V2;
	if (ioctl(vm->vm_fd, KVM_CREATE_DEVICE, &dev) < 0)
		return setup_fail(-errno, "creating the GICv%d: %s", vm->plan.gic,
				  strerror(errno));
	vm->gic_fd = (int)dev.fd;
	if (vm->plan.gic == GIC_V3) {
		second = LAYOUT_GIC_REDIST_BASE;
		r = gic_attr(vm, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_DIST, &dist);
		if (!r)
			r = gic_attr(vm, KVM_DEV_ARM_VGIC_GRP_ADDR,
				     KVM_VGIC_V3_ADDR_TYPE_REDIST, &second);
	} else {
		second = LAYOUT_GIC_CPU_BASE;
		r = gic_attr(vm, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V2_ADDR_TYPE_DIST, &dist);
		if (!r)
			r = gic_attr(vm, KVM_DEV_ARM_VGIC_GRP_ADDR,
				     KVM_VGIC_V2_ADDR_TYPE_CPU, &second);
	}
	if (!r)
		r = gic_attr(vm, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &nr_irqs);
	if (!r)
		r = gic_attr(vm, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, NULL);
	if (r < 0)
		return setup_fail(r, "configuring the GICv%d: %s", vm->plan.gic,
				  strerror(-r));
	return 0;
}

static int devices_setup(struct vm *vm, const struct vm_host_fds *hf,
			 char *msg, size_t msglen)
{
	int r = console_init_fd(&vm->console, vm->loop, hf->console_log, hf->console_log_old);

	if (r < 0)
		return setup_fail(r, "console log %s/console.log: %s", hf->dir, strerror(-r));
	uart8250_init(&vm->uart, &vm->console, LAYOUT_IRQ_UART, vm_set_irq, vm);
	vm->console.input_ready = uart8250_input_ready;
	vm->console.input_opaque = &vm->uart;
	pl031_init(&vm->rtc);
	pl061_init(&vm->gpio, LAYOUT_IRQ_GPIO, vm_set_irq, vm);
	r = bus_register(&vm->bus, LAYOUT_UART_BASE, LAYOUT_UART_SIZE,
			 uart8250_mmio, &vm->uart, "uart");
	if (!r)
		r = bus_register(&vm->bus, LAYOUT_RTC_BASE, LAYOUT_RTC_SIZE,
				 pl031_mmio, &vm->rtc, "rtc");
	if (!r)
		r = bus_register(&vm->bus, LAYOUT_GPIO_BASE, LAYOUT_GPIO_SIZE,
				 pl061_mmio, &vm->gpio, "gpio");
	boottimer_init(&vm->boottimer);
	if (!r)
		r = bus_register(&vm->bus, LAYOUT_BOOTTIMER_BASE, LAYOUT_BOOTTIMER_SIZE,
				 boottimer_mmio, &vm->boottimer, "boottimer");
	if (r < 0)
		return setup_fail(r, "registering devices: %s", strerror(-r));
	return 0;
}

/* Read a file straight into guest memory at gpa (checked). */
static int load_file(struct vm *vm, int fd, const char *path, uint64_t gpa,
		     uint64_t size, char *msg, size_t msglen)
{
	uint8_t *dst = vm_gpa_to_hva(vm, gpa, size);
	uint64_t off = 0;

	if (!dst)
		return setup_fail(-EFAULT, "%s: 0x%llx+%llu is not guest RAM", path,
				  (unsigned long long)gpa, (unsigned long long)size);
	if (fd < 0)
		return setup_fail(-EBADF, "%s: no descriptor for it", path);
	while (off < size) {
		ssize_t n = pread(fd, dst + off, size - off, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			return setup_fail(-EIO, "%s: short read at %llu of %llu bytes "
					  "(file changed since vm.create?)", path,
					  (unsigned long long)off, (unsigned long long)size);
		}
		off += (uint64_t)n;
	}
	return 0;
}

static int load_dtb(struct vm *vm, char *msg, size_t msglen)
{
	const struct vm_plan *p = &vm->plan;
	const struct payload_plan *pp = &p->payload;
	void *dst = vm_gpa_to_hva(vm, pp->dtb_base, pp->dtb_size);
	uint64_t mpidr[LAYOUT_MAX_VCPUS_GICV3];
	uint8_t seed[64];
	uint64_t kaslr = 0;
	int r;

	if (!dst)
		return setup_fail(-EFAULT, "the DTB slot is not guest RAM");
	if (getrandom(seed, sizeof(seed), 0) != sizeof(seed) ||
	    getrandom(&kaslr, sizeof(kaslr), 0) != sizeof(kaslr))
		return setup_fail(-EIO, "getrandom: %s", strerror(errno));

	if (p->dtb[0]) {
		void *user;
		size_t len;

		r = image_read_fd(p->files.dtb, p->dtb, PAYLOAD_DTB_MAX, &user, &len, msg,
				  msglen);
		if (r < 0)
			return r;
		/* checked, patched (/chosen) and checked again: fdt.c */
		char why[192];

		r = fdt_patch_user(user, len, dst, pp->dtb_size, p->cmdline,
				   pp->initrd_base, pp->initrd_size, why, sizeof(why));
		free(user);
		if (r < 0)
			return setup_fail(-EINVAL, "user DTB %s: %s", p->dtb, why);
		return 0;
	}

	for (unsigned i = 0; i < vm->nvcpus; i++)
		mpidr[i] = vm->vcpus[i].mpidr;
	struct fdt_params fp = {
		.cfg = &p->cfg,
		.gic = p->gic,
		.mpidr = mpidr,
		.cmdline = p->cmdline,
		.initrd_base = pp->initrd_base,
		.initrd_size = pp->initrd_size,
		.rng_seed = seed,
		.kaslr_seed = kaslr,
		.gpio_power_key = true,
		.nvirtio = p->nvirtio,
	};
	r = fdt_build(&fp, dst, pp->dtb_size, msg, msglen);
	if (r < 0)
		return -EINVAL;
	return 0;
}

/* The kernel, when not gzip, read into guest RAM at its load address and
 * parsed there.  False: gzip (the caller inflates it); else *r is 0 or
 * the set-up error. */
static bool load_kernel_in_place(struct vm *vm, char *msg, size_t msglen, int *r)
{
	const struct vm_plan *p = &vm->plan;
	const struct payload_plan *pp = &p->payload;
	struct image_info info;
	unsigned char magic[2];
	struct stat st;
	char why[224];
	uint8_t *dst;
	int fd = p->files.kernel;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    pread(fd, magic, sizeof(magic), 0) != (ssize_t)sizeof(magic) ||
	    image_is_gzip(magic, sizeof(magic)))
		return false;
	dst = vm_gpa_to_hva(vm, pp->kernel_load, (uint64_t)st.st_size);
	if (!dst || (uint64_t)st.st_size > pp->kernel_end - pp->kernel_load) {
		*r = setup_fail(-EFBIG, "kernel %s changed since vm.create", p->kernel);
		return true;
	}
	*r = load_file(vm, fd, p->kernel, pp->kernel_load, (uint64_t)st.st_size, msg, msglen);
	if (*r < 0)
		return true;
	if (p->cfg.arch == GUEST_AARCH32)
		*r = image_parse_zimage(dst, (size_t)st.st_size, &info, why, sizeof(why));
	else
		*r = image_parse_arm64(dst, (size_t)st.st_size, &info, why, sizeof(why));
	if (*r < 0)
		*r = setup_fail(-EINVAL, "kernel %s changed since vm.create: %s", p->kernel, why);
	return true;
}

static int load_payload(struct vm *vm, char *msg, size_t msglen)
{
	const struct vm_plan *p = &vm->plan;
	const struct payload_plan *pp = &p->payload;
	struct image_info info;
	void *kernel;
	uint8_t *dst;
	int r;

	/* a plain image is read straight into its place, and its header
	 * checked there: no copy through a buffer */
	if (load_kernel_in_place(vm, msg, msglen, &r)) {
		if (r < 0)
			return r;
	} else {
		/* a gzip one is inflated into a buffer (and parsed), then copied */
		r = image_load_kernel_fd(p->files.kernel, p->kernel,
					 p->cfg.arch == GUEST_AARCH32, &info, &kernel, msg, msglen);
		if (r < 0)
			return r;
		dst = vm_gpa_to_hva(vm, pp->kernel_load, info.file_size);
		if (!dst || info.file_size > pp->kernel_end - pp->kernel_load) {
			free(kernel);
			return setup_fail(-EFBIG, "kernel %s changed since vm.create", p->kernel);
		}
		memcpy(dst, kernel, info.file_size);
		free(kernel);
	}
	if (pp->initrd_size) {
		r = load_file(vm, p->files.initrd, p->initrd, pp->initrd_base,
			      pp->initrd_size, msg, msglen);
		if (r < 0)
			return r;
	}
	return load_dtb(vm, msg, msglen);
}

static void vm_event_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct vm *vm = w->data;
	enum vm_event ev;
	char detail[sizeof(vm->event_detail)];

	pthread_mutex_lock(&vm->lock);
	ev = vm->event;
	snprintf(detail, sizeof(detail), "%s", vm->event_detail);
	vm->event = VM_EVENT_NONE;
	pthread_mutex_unlock(&vm->lock);
	if (ev == VM_EVENT_NONE)
		return;
	vm_halt(vm);
	if (vm->on_event)
		vm->on_event(vm, ev, detail);
}

/* On the loop: tell about each device that broke since the last time. */
static void vm_device_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct vm *vm = w->data;

	for (unsigned i = 0; i < LAYOUT_VIRTIO_SLOTS; i++) {
		struct virtio_dev *d = vm->virtio[i];

		if (!d || d->errors == vm->device_errors_told[i])
			continue;
		vm->device_errors_told[i] = d->errors;
		if (vm->on_device_error)
			vm->on_device_error(vm, d);
	}
}

void vm_device_failed(void *opaque)
{
	struct vm *vm = opaque;

	ev_async_send(vm->loop, &vm->device_async);
}

void vm_post_event(struct vm *vm, enum vm_event ev, const char *detail)
{
	pthread_mutex_lock(&vm->lock);
	if (vm->event == VM_EVENT_NONE) {
		vm->event = ev;
		snprintf(vm->event_detail, sizeof(vm->event_detail), "%s", detail);
	}
	pthread_mutex_unlock(&vm->lock);
	__atomic_store_n(&vm->stopping, true, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	ev_async_send(vm->loop, &vm->event_async);
}

static int vcpus_reset(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		int r = vcpu_reset(&vm->vcpus[i], vm->plan.payload.kernel_entry,
				   vm->plan.payload.dtb_base, i == 0);
		if (r < 0)
			return r;
	}
	return 0;
}

int vm_setup(struct vm *vm, struct ev_loop *loop, const struct vm_host_fds *hf, char *msg,
	     size_t msglen)
{
	const struct vm_plan *plan = &vm->plan;
	int r;

	vm->loop = loop;
	vm->kvm_fd = vm->vm_fd = vm->gic_fd = -1;
	pthread_mutex_init(&vm->lock, NULL);
	ev_async_init(&vm->event_async, vm_event_cb);
	vm->event_async.data = vm;
	ev_async_start(loop, &vm->event_async);
	ev_async_init(&vm->device_async, vm_device_cb);
	vm->device_async.data = vm;
	ev_async_start(loop, &vm->device_async);

	vm->kvm_fd = hf->kvm;
	if (vm->kvm_fd < 0)
		return setup_fail(-EBADF, "/dev/kvm: no descriptor for it");
	if (hf->vm_ahead >= 0 && hf->vm_ahead_type == plan->ipa.vm_type) {
		vm->vm_fd = hf->vm_ahead;
	} else {
		if (hf->vm_ahead >= 0)
			close(hf->vm_ahead);
		vm->vm_fd = kvm_create_vm(vm->kvm_fd, plan->ipa.vm_type);
	}
	if (vm->vm_fd < 0)
		return setup_fail(-errno, "KVM_CREATE_VM with a %d-bit IPA space: %s",
				  plan->ipa.bits, strerror(errno));
	r = map_banks(vm, msg, msglen);
	if (r < 0)
		return r;
	r = devices_setup(vm, hf, msg, msglen);
	if (r < 0)
		return r;
	r = vm_virtio_setup(vm, hf, msg, msglen);
	if (r < 0)
		return r;

	vm->vcpus = calloc(plan->cfg.vcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return setup_fail(-ENOMEM, "out of memory");
	for (unsigned i = 0; i < plan->cfg.vcpus; i++) {
		r = vcpu_create(vm, &vm->vcpus[i], i);
		vm->nvcpus = i + 1;
		if (r < 0)
			return setup_fail(r, "creating vCPU %u: %s", i, strerror(-r));
	}
	r = vcpus_reset(vm);
	if (r < 0)
		return setup_fail(r, "initialising vCPUs: %s", strerror(-r));
	r = gic_setup(vm, msg, msglen);
	if (r < 0)
		return r;
	/* irqfds need the initialised vGIC */
	r = vm_virtio_connect(vm, msg, msglen);
	if (r < 0)
		return r;
	return load_payload(vm, msg, msglen);
}

int vm_start(struct vm *vm)
{
	__atomic_store_n(&vm->stopping, false, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		int r = vcpu_start(&vm->vcpus[i]);

		if (r < 0) {
			vm_halt(vm);
			return r;
		}
	}
	vm->running = true;
	clock_gettime(CLOCK_MONOTONIC, &vm->started);
	return 0;
}

void vm_halt(struct vm *vm)
{
	__atomic_store_n(&vm->stopping, true, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		if (vm->vcpus[i].started) {
			pthread_join(vm->vcpus[i].thread, NULL);
			vm->vcpus[i].started = false;
		}
		if (vm->vcpus[i].run)
			vm->vcpus[i].run->immediate_exit = 0;
	}
	vm->running = false;
}

int vm_reset(struct vm *vm)
{
	char msg[256];
	int r;

	vm_halt(vm);
	vm_virtio_reset(vm);	/* nothing of the old guest's rings is used */
	r = vcpus_reset(vm);
	if (!r)
		r = load_payload(vm, msg, sizeof(msg));
	if (r < 0) {
		log_error("reset failed: %s", msg);
		return r;
	}
	vm->resets++;
	return vm_start(vm);
}

void vm_destroy(struct vm *vm)
{
	vm_halt(vm);
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vcpu_destroy(&vm->vcpus[i]);
	free(vm->vcpus);
	vm->vcpus = NULL;
	vm->nvcpus = 0;
	if (vm->loop) {
		vm_virtio_destroy(vm);
		console_close(&vm->console);
		ev_async_stop(vm->loop, &vm->event_async);
		ev_async_stop(vm->loop, &vm->device_async);
	}
	for (unsigned i = 0; i < vm->nbanks; i++)
		munmap(vm->banks[i].map, vm->banks[i].map_size);
	vm->nbanks = 0;
	if (vm->gic_fd >= 0)
		close(vm->gic_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->gic_fd = vm->vm_fd = vm->kvm_fd = -1;
}
