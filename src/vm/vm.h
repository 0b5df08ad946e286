/* SPDX-License-Identifier: MIT */
/*
 * One KVM virtual machine, owned by its worker process: the KVM fds, guest
 * memory, vCPU threads and devices all hang off struct vm.
 */
#ifndef ARMVMD_VM_H
#define ARMVMD_VM_H

#include <ev.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "arm64/plan.h"
#include "vm/seccomp.h"
#include "devices/boottimer.h"
#include "devices/bus.h"
#include "devices/console.h"
#include "devices/pl031.h"
#include "devices/pl061.h"
#include "devices/uart8250.h"
#include "devices/virtio.h"

struct vm;

enum vcpu_action { VCPU_CONTINUE, VCPU_STOP };

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	bool started;
	uint64_t mpidr;
	uint64_t exits, mmio_exits;
};

struct guest_bank {
	uint64_t gpa, size;
	uint8_t *hva;
	size_t map_size;
	void *map;			/* what munmap gets back */
};

/* why the vCPUs stopped; handled on the worker's loop */
enum vm_event {
	VM_EVENT_NONE,
	VM_EVENT_STOP,			/* asked to (vm.stop) */
	VM_EVENT_POWEROFF,		/* PSCI SYSTEM_OFF */
	VM_EVENT_RESET,			/* PSCI SYSTEM_RESET */
	VM_EVENT_ERROR,			/* KVM_RUN failed or an exit we cannot handle */
};

struct vm {
	struct vm_plan plan;
	/* vCPU threads stack their own filter when the loop has one */
	bool seccomp_on;
	struct seccomp_conf seccomp;
	int kvm_fd, vm_fd, gic_fd;
	unsigned nbanks;
	struct guest_bank banks[LAYOUT_MAX_BANKS];
	unsigned nvcpus;
	struct vcpu *vcpus;
	struct mmio_bus bus;
	struct console console;
	struct uart8250 uart;
	struct pl031 rtc;
	struct pl061 gpio;		/* the power key */
	struct boottimer boottimer;	/* benchmarks: see boottimer.h */
	/* virtio-mmio devices by slot, from plan.virtio (src/vm/virtio.c) */
	struct virtq_mem gmem;		/* their door to guest memory */
	struct virtio_dev *virtio[LAYOUT_VIRTIO_SLOTS];
	struct vm_hvc *hvc;		/* virtio-console's own console */

	struct ev_loop *loop;
	ev_async event_async;		/* vCPU thread -> loop */
	ev_async device_async;		/* a device broke (any thread) -> loop */
	uint64_t device_errors_told[LAYOUT_VIRTIO_SLOTS];
	/* the worker's reaction to a broken device, on the loop */
	void (*on_device_error)(struct vm *vm, struct virtio_dev *d);
	pthread_mutex_t lock;
	enum vm_event event;
	char event_detail[160];
	bool running;
	bool stopping;			/* vCPUs are told to leave KVM_RUN */
	struct timespec started;
	unsigned resets;

	/* the worker's reaction to an event, on the loop */
	void (*on_event)(struct vm *vm, enum vm_event ev, const char *detail);
};

/*
 * What a VM is set up with besides its plan's files: descriptors the
 * supervisor opened (the worker opens no host path).  -1: none.  The VM
 * owns them from vm_setup on.
 */
struct vm_host_fds {
	int kvm;			/* /dev/kvm */
	int console_log, console_log_old;	/* console.log, console.log.1 */
	int hvc_log, hvc_log_old;	/* hvc0.log, hvc0.log.1 */
	int hvc_listen;			/* hvc0.sock, bound */
	const char *dir;		/* the VM's directory, to name them */
	/* a KVM VM made ahead (a pooled worker's guess), or -1: used when
	 * its type is the plan's, else closed */
	int vm_ahead;
	unsigned long vm_ahead_type;
};

/*
 * Create the VM of vm->plan: KVM VM with the planned IPA size, memory
 * banks, vCPUs, GIC, devices, boot images and DTB loaded.  vm is zero but
 * for its plan (static storage, or calloc, with the plan built in place:
 * 250 KB are neither zeroed again nor copied).  -errno (logged) on
 * failure, with msg saying what failed; vm_destroy() cleans up either way.
 */
int vm_setup(struct vm *vm, struct ev_loop *loop, const struct vm_host_fds *hf, char *msg,
	     size_t msglen);
int vm_start(struct vm *vm);
/* Kick every vCPU out of KVM_RUN and join the threads. */
void vm_halt(struct vm *vm);
/* PSCI SYSTEM_RESET: reload the payload and start again, in place. */
int vm_reset(struct vm *vm);
void vm_destroy(struct vm *vm);

/* Any thread: a device broke (virtio_dev.on_fail). */
void vm_device_failed(void *opaque);

/* From a vCPU thread: stop all vCPUs and tell the loop why. */
void vm_post_event(struct vm *vm, enum vm_event ev, const char *detail);

/* GIC SPI line (vCPU threads and the loop). */
void vm_set_irq(void *opaque, unsigned spi, bool level);

/* guest memory through one checked door: NULL if [gpa, gpa+len) is not RAM */
void *vm_gpa_to_hva(struct vm *vm, uint64_t gpa, uint64_t len);

/*
 * virtio devices (src/vm/virtio.c): create them from the plan on the bus
 * (hvc0's log and socket from hf); after the GIC, connect
 * them to KVM (ioeventfd per queue, irqfd per device); reset them with the
 * VM; their state and counters for worker.info; close them.
 */
int vm_virtio_setup(struct vm *vm, const struct vm_host_fds *hf, char *msg, size_t msglen);
int vm_virtio_connect(struct vm *vm, char *msg, size_t msglen);
void vm_virtio_reset(struct vm *vm);
/* Changes whenever a device's state or counters do (a cheap fingerprint). */
uint64_t vm_virtio_generation(struct vm *vm);
json_t *vm_virtio_info(struct vm *vm);
void vm_virtio_destroy(struct vm *vm);

int vcpu_create(struct vm *vm, struct vcpu *v, unsigned id);
int vcpu_reset(struct vcpu *v, uint64_t entry, uint64_t dtb, bool boot);
int vcpu_start(struct vcpu *v);
void vcpu_kick(struct vcpu *v);
void vcpu_destroy(struct vcpu *v);

#endif
