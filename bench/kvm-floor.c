// SPDX-License-Identifier: MIT
/*
 * kvm-floor: the physical floor of the benchmarks.  Runs a bare-metal
 * arm64 guest (build/guests/boottimer.img) with the fewest KVM ioctls that
 * can: open /dev/kvm, create a VM (default IPA), one memslot holding the
 * image, one vCPU (init, PC), KVM_RUN until the guest powers off.  No GIC,
 * no device tree, no threads, no event loop.  MMIO exits get a trivial
 * handler: a write of the boot-timer magic records a mark (monotonic
 * clock; the first one also the process's CPU time), anything else is
 * counted, reads return 0.
 *
 *   kvm-floor [--loops N] [--hold] IMAGE
 *
 * --loops N  patch the guest's loop count (the u64 at offset 0x40 of the
 *            image) in guest memory: N boot-timer reads between two marks
 * --hold     after the first mark, print the result and wait for standard
 *            input to close (the benchmark reads /proc/PID/smaps meanwhile)
 *
 * Prints one JSON line: start_ns (monotonic, at main), marks_ns, cpu_ns
 * (process CPU time at the first mark), mmio_reads, exits, ram_hva,
 * ram_size, ended ("poweroff", "hold", or what went wrong).  Exit 0 if the
 * guest made at least one mark.  Built statically for aarch64 by
 * mk/bench.mk; carried into the emulated hosts as
 * /usr/lib/armvmd-tests/kvm-floor.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#define RAM_BASE	0x80000000ULL		/* like armvmd's first bank */
#define RAM_SIZE	(2ULL << 20)
#define BT_BASE		0x09040000ULL		/* LAYOUT_BOOTTIMER_BASE */
#define BT_MAGIC	0xb007b007u		/* BOOTTIMER_MAGIC */
#define IMG_LOOPS	0x40
#define MAX_MARKS	16

#define CORE_PC (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | \
	(offsetof(struct kvm_regs, regs.pc) / sizeof(uint32_t)))

static int64_t now_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t start_ns, marks[MAX_MARKS], cpu_ns;
static unsigned nmarks;
static uint64_t reads, exits;
static void *ram;

static void report(const char *ended)
{
	printf("{\"start_ns\":%lld,\"marks_ns\":[", (long long)start_ns);
	for (unsigned i = 0; i < nmarks && i < MAX_MARKS; i++)
		printf("%s%lld", i ? "," : "", (long long)marks[i]);
	printf("],\"cpu_ns\":%lld,\"mmio_reads\":%llu,\"exits\":%llu,"
	       "\"ram_hva\":\"0x%llx\",\"ram_size\":%llu,\"ended\":\"%s\"}\n",
	       (long long)cpu_ns, (unsigned long long)reads,
	       (unsigned long long)exits, (unsigned long long)(uintptr_t)ram,
	       (unsigned long long)RAM_SIZE, ended);
	fflush(stdout);
}

static int die(const char *what)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "%s: %s", what, strerror(errno));
	report(msg);
	fprintf(stderr, "kvm-floor: %s\n", msg);
	return 1;
}

int main(int argc, char **argv)
{
	const char *image = NULL;
	unsigned long long loops = 0;
	int hold = 0, kvm, vm, vcpu, fd, run_size;
	struct kvm_userspace_memory_region slot;
	struct kvm_vcpu_init init;
	struct kvm_one_reg reg;
	struct kvm_run *run;
	uint64_t pc = RAM_BASE;
	ssize_t len;

	start_ns = now_ns(CLOCK_MONOTONIC);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--loops") && i + 1 < argc)
			loops = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--hold"))
			hold = 1;
		else if (argv[i][0] != '-' && !image)
			image = argv[i];
		else {
			fprintf(stderr, "usage: kvm-floor [--loops N] [--hold] IMAGE\n");
			return 2;
		}
	}
	if (!image) {
		fprintf(stderr, "usage: kvm-floor [--loops N] [--hold] IMAGE\n");
		return 2;
	}

	/* guest memory, with the image at its start */
	ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED)
		return die("mmap");
	fd = open(image, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return die(image);
	len = read(fd, ram, RAM_SIZE);
	close(fd);
	if (len < IMG_LOOPS + 8)
		return die("image too short");
	if (loops)
		memcpy((char *)ram + IMG_LOOPS, &loops, sizeof(loops));

	/* the ioctls: VM, memslot, vCPU, its registers */
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return die("/dev/kvm");
	vm = ioctl(kvm, KVM_CREATE_VM, 0UL);
	if (vm < 0)
		return die("KVM_CREATE_VM");
	slot = (struct kvm_userspace_memory_region){
		.slot = 0, .guest_phys_addr = RAM_BASE, .memory_size = RAM_SIZE,
		.userspace_addr = (uint64_t)(uintptr_t)ram,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
		return die("KVM_SET_USER_MEMORY_REGION");
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0UL);
	if (vcpu < 0)
		return die("KVM_CREATE_VCPU");
	run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size <= 0)
		return die("KVM_GET_VCPU_MMAP_SIZE");
	run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		return die("mmap kvm_run");
	memset(&init, 0, sizeof(init));
	if (ioctl(vm, KVM_ARM_PREFERRED_TARGET, &init) < 0)
		return die("KVM_ARM_PREFERRED_TARGET");
	init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;	/* SYSTEM_OFF */
	if (ioctl(vcpu, KVM_ARM_VCPU_INIT, &init) < 0)
		return die("KVM_ARM_VCPU_INIT");
	reg = (struct kvm_one_reg){ .id = CORE_PC, .addr = (uint64_t)(uintptr_t)&pc };
	if (ioctl(vcpu, KVM_SET_ONE_REG, &reg) < 0)
		return die("KVM_SET_ONE_REG pc");

	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR)
				continue;
			return die("KVM_RUN");
		}
		exits++;
		if (run->exit_reason == KVM_EXIT_MMIO) {
			if (!run->mmio.is_write) {
				memset(run->mmio.data, 0, sizeof(run->mmio.data));
				reads++;
				continue;
			}
			uint32_t v;

			memcpy(&v, run->mmio.data, sizeof(v));
			if (run->mmio.phys_addr != BT_BASE || v != BT_MAGIC)
				continue;
			if (nmarks < MAX_MARKS)
				marks[nmarks] = now_ns(CLOCK_MONOTONIC);
			if (nmarks++ == 0)
				cpu_ns = now_ns(CLOCK_PROCESS_CPUTIME_ID);
			if (hold) {
				char buf[64];

				report("hold");
				while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
					;
				return 0;
			}
			continue;
		}
		if (run->exit_reason == KVM_EXIT_SYSTEM_EVENT) {
			report("poweroff");
			return nmarks ? 0 : 1;
		}
		errno = EIO;
		fprintf(stderr, "kvm-floor: unexpected exit reason %u\n", run->exit_reason);
		return die("exit");
	}
}
