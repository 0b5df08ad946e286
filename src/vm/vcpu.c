// SPDX-License-Identifier: MIT
/*
 * vCPU threads: KVM_RUN in a loop, each exit handed to a handler from a
 * table indexed by exit reason.  A vCPU is kicked out of KVM_RUN with
 * immediate_exit plus a signal whose handler does nothing.
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "arm64/hostinfo.h"
#include "util/log.h"
#include "vm/vm.h"

#define VCPU_KICK_SIGNAL SIGUSR1

#define CORE_REG(field) (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | \
	(offsetof(struct kvm_regs, field) / sizeof(__u32)))
#define SYS_MPIDR_EL1 ARM64_SYS_REG(3, 0, 0, 0, 5)
#define SYS_ID_AA64ISAR2_EL1 ARM64_SYS_REG(3, 0, 0, 6, 2)

typedef enum vcpu_action (*exit_fn)(struct vcpu *v);

static enum vcpu_action exit_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;

	v->mmio_exits++;
	bus_access(&v->vm->bus, run->mmio.phys_addr, run->mmio.data,
		   run->mmio.len, run->mmio.is_write);
	return VCPU_CONTINUE;
}

static enum vcpu_action exit_system_event(struct vcpu *v)
{
	char detail[96];

	switch (v->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		vm_post_event(v->vm, VM_EVENT_POWEROFF, "guest powered off (PSCI SYSTEM_OFF)");
		break;
	case KVM_SYSTEM_EVENT_RESET:
		vm_post_event(v->vm, VM_EVENT_RESET, "guest reset (PSCI SYSTEM_RESET)");
		break;
	default:
		snprintf(detail, sizeof(detail), "guest system event %u on vCPU %u",
			 v->run->system_event.type, v->id);
		vm_post_event(v->vm, VM_EVENT_ERROR, detail);
		break;
	}
	return VCPU_STOP;
}

static enum vcpu_action exit_intr(struct vcpu *v)
{
	return VCPU_CONTINUE;	/* kicked: the loop checks why */
}

static enum vcpu_action exit_fail(struct vcpu *v)
{
	char detail[128];

	if (v->run->exit_reason == KVM_EXIT_FAIL_ENTRY)
		snprintf(detail, sizeof(detail), "vCPU %u failed entry (reason 0x%llx)",
			 v->id, (unsigned long long)v->run->fail_entry.hardware_entry_failure_reason);
	else
		snprintf(detail, sizeof(detail), "vCPU %u: KVM exit %u", v->id,
			 v->run->exit_reason);
	vm_post_event(v->vm, VM_EVENT_ERROR, detail);
	return VCPU_STOP;
}

static const exit_fn exit_handlers[] = {
	[KVM_EXIT_MMIO] = exit_mmio,
	[KVM_EXIT_SYSTEM_EVENT] = exit_system_event,
	[KVM_EXIT_INTR] = exit_intr,
	[KVM_EXIT_FAIL_ENTRY] = exit_fail,
	[KVM_EXIT_INTERNAL_ERROR] = exit_fail,
	[KVM_EXIT_UNKNOWN] = exit_fail,
};

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	sigset_t set;
	char name[16];

	snprintf(name, sizeof(name), "vcpu%u", v->id);
	pthread_setname_np(pthread_self(), name);
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	/* on top of the loop's, inherited: KVM_RUN and the exits' needs */
	if (vm->seccomp_on && seccomp_install(SECCOMP_VCPU, &vm->seccomp) < 0) {
		vm_post_event(vm, VM_EVENT_ERROR, "vCPU thread: cannot install its seccomp filter");
		return NULL;
	}
	if (v->id == 0)
		boottimer_first_run(&vm->boottimer);

	while (!__atomic_load_n(&vm->stopping, __ATOMIC_ACQUIRE)) {
		int r = ioctl(v->fd, KVM_RUN, 0);
		exit_fn fn;

		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				v->run->immediate_exit = 0;
				continue;
			}
			char detail[96];
			snprintf(detail, sizeof(detail), "vCPU %u: KVM_RUN: %s",
				 v->id, strerror(errno));
			vm_post_event(vm, VM_EVENT_ERROR, detail);
			break;
		}
		v->exits++;
		fn = v->run->exit_reason < sizeof(exit_handlers) / sizeof(exit_handlers[0])
			? exit_handlers[v->run->exit_reason] : NULL;
		if (!fn) {
			char detail[96];
			snprintf(detail, sizeof(detail), "vCPU %u: unhandled KVM exit %u",
				 v->id, v->run->exit_reason);
			vm_post_event(vm, VM_EVENT_ERROR, detail);
			break;
		}
		if (fn(v) == VCPU_STOP)
			break;
	}
	return NULL;
}

static void kick_handler(int sig)
{
	(void)sig;	/* only interrupts KVM_RUN */
}

int vcpu_create(struct vm *vm, struct vcpu *v, unsigned id)
{
	static bool handler_installed;
	int mmap_size;

	if (!handler_installed) {
		struct sigaction sa = { .sa_handler = kick_handler };
		sigset_t set;

		sigaction(VCPU_KICK_SIGNAL, &sa, NULL);
		/* only vCPU threads take the kick */
		sigemptyset(&set);
		sigaddset(&set, VCPU_KICK_SIGNAL);
		pthread_sigmask(SIG_BLOCK, &set, NULL);
		handler_installed = true;
	}
	memset(v, 0, sizeof(*v));
	v->vm = vm;
	v->id = id;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (v->fd < 0)
		return log_errno(-errno, "KVM_CREATE_VCPU %u", id);
	mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mmap_size <= 0)
		return log_errno(-errno, "KVM_GET_VCPU_MMAP_SIZE");
	v->run_size = (size_t)mmap_size;
	v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		return log_errno(-errno, "mapping vCPU %u", id);
	}
	return 0;
}

static int set_reg(struct vcpu *v, uint64_t id, uint64_t value)
{
	struct kvm_one_reg reg = { .id = id, .addr = (uint64_t)(uintptr_t)&value };

	return ioctl(v->fd, KVM_SET_ONE_REG, &reg) < 0 ? -errno : 0;
}

/*
 * Clear ID_AA64ISAR2_EL1.MOPS (bits 19:16) as the guest sees it: the host
 * advertises FEAT_MOPS but leaves it UNDEFINED for guests (the plan says
 * so, from the host probe).  KVM takes ID register writes until the VM
 * first runs (Linux 6.7 on); a KVM that refuses keeps the feature, and the
 * log says so.
 */
static void hide_mops(struct vcpu *v)
{
	uint64_t isar2;
	struct kvm_one_reg reg = { .id = SYS_ID_AA64ISAR2_EL1, .addr = (uint64_t)(uintptr_t)&isar2 };

	if (ioctl(v->fd, KVM_GET_ONE_REG, &reg) < 0) {
		log_warn("vCPU %u: reading ID_AA64ISAR2_EL1: %s", v->id, strerror(errno));
		return;
	}
	if (!(isar2 & HOSTINFO_ISAR2_MOPS))
		return;
	isar2 &= ~HOSTINFO_ISAR2_MOPS;
	if (ioctl(v->fd, KVM_SET_ONE_REG, &reg) < 0)
		log_warn("vCPU %u: could not hide FEAT_MOPS (ID_AA64ISAR2_EL1): %s; the guest's "
			 "CPY/SET instructions will be UNDEFINED", v->id, strerror(errno));
	else if (v->id == 0)
		log_info("FEAT_MOPS hidden from the guest: this host's KVM advertises it "
			 "but leaves it UNDEFINED");
}

/*
 * (Re)initialise: KVM_ARM_VCPU_INIT resets the vCPU to its architectural
 * reset state.  The boot vCPU starts at the kernel entry with x0 = DTB
 * (arm64 booting.rst); the others stay off until PSCI CPU_ON.
 */
int vcpu_reset(struct vcpu *v, uint64_t entry, uint64_t dtb, bool boot)
{
	struct kvm_vcpu_init init = { 0 };
	struct kvm_one_reg reg = { .id = SYS_MPIDR_EL1, .addr = (uint64_t)(uintptr_t)&v->mpidr };
	int r;

	if (ioctl(v->vm->vm_fd, KVM_ARM_PREFERRED_TARGET, &init) < 0)
		return log_errno(-errno, "KVM_ARM_PREFERRED_TARGET");
	init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
	if (v->vm->plan.cfg.arch == GUEST_AARCH32)
		init.features[0] |= 1u << KVM_ARM_VCPU_EL1_32BIT;
	if (!boot)
		init.features[0] |= 1u << KVM_ARM_VCPU_POWER_OFF;
	if (ioctl(v->fd, KVM_ARM_VCPU_INIT, &init) < 0)
		return log_errno(-errno, "KVM_ARM_VCPU_INIT vCPU %u", v->id);
	if (ioctl(v->fd, KVM_GET_ONE_REG, &reg) < 0)
		return log_errno(-errno, "reading MPIDR of vCPU %u", v->id);
	if (v->vm->plan.hide_mops)
		hide_mops(v);
	if (!boot)
		return 0;
	if (v->vm->plan.cfg.arch == GUEST_AARCH32) {
		/* arm32 boot: r0 = 0, r1 = ~0 (machine type: use DT), r2 = DTB */
		r = set_reg(v, CORE_REG(regs.regs[0]), 0);
		if (!r)
			r = set_reg(v, CORE_REG(regs.regs[1]), ~0ULL);
		if (!r)
			r = set_reg(v, CORE_REG(regs.regs[2]), dtb);
	} else {
		r = set_reg(v, CORE_REG(regs.regs[0]), dtb);
	}
	if (!r)
		r = set_reg(v, CORE_REG(regs.pc), entry);
	if (r < 0)
		return log_errno(r, "setting boot registers of vCPU %u", v->id);
	return 0;
}

int vcpu_start(struct vcpu *v)
{
	int r = pthread_create(&v->thread, NULL, vcpu_thread, v);

	if (r)
		return log_errno(-r, "starting vCPU %u", v->id);
	v->started = true;
	return 0;
}

void vcpu_kick(struct vcpu *v)
{
	if (!v->started)
		return;
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_RELEASE);
	pthread_kill(v->thread, VCPU_KICK_SIGNAL);
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->run)
		munmap(v->run, v->run_size);
	if (v->fd > 0)
		close(v->fd);
	v->run = NULL;
	v->fd = -1;
}
