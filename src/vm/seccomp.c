// SPDX-License-Identifier: MIT
/*
 * The worker's seccomp-BPF allowlists (seccomp.h), as classic BPF built
 * here: libseccomp has no place in a static aarch64 binary, and the lists
 * are short enough to read as a table.
 *
 * The filter checks the architecture first (anything but AUDIT_ARCH_AARCH64
 * kills the process: its numbers would mean other syscalls), then compares
 * the syscall number against each allowed entry in turn, hottest first;
 * an entry may also check arguments.  Anything else traps (SIGSYS), which
 * the handler installed by seccomp_report_init() reports.
 *
 * The lists were derived from the code paths that run after set-up:
 * src/vm, src/devices, src/rpc/server.c, src/util/log.c, libev's epoll
 * backend and glibc 2.36's malloc and pthreads (checked against the static
 * binary: fstat() is newfstatat(AT_EMPTY_PATH), pthread_create() is clone
 * with the flags below, and the first pthread_create() sets SIGSETXID's
 * handler).  vCPU threads are created by the loop thread after its filter
 * is in place, so they start under the loop's list: it must allow what a
 * vCPU thread does before it stacks its own (KVM_RUN, prctl for the name
 * and the filter, rseq and set_robust_list at thread start).
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>

#include "rpc/worker_proto.h"
#include "util/sigsafe.h"
#include "vm/seccomp.h"
#include "vm/syscall_names.h"

#define L	(1u << SECCOMP_LOOP)
#define V	(1u << SECCOMP_VCPU)

/* entries only for a plan that has these devices */
enum need { NEED_NONE, NEED_DISKS, NEED_TAP };

/* the most values one argument may take (the loop's ioctls: 7) */
#define COND_VALUES	8
#define MAX_RULES	64
#define MAX_INSNS	256

/* Every COND_IN argument is an int to the kernel (a request, a flag, a
 * signal, a pid): its high word cannot change what the call does. */
enum cond_op {
	COND_IN,	/* the argument's low 32 bits are one of v[] */
	COND_BITS,	/* no bit outside v[0] is set, in all 64 (mmap's prot) */
};

struct cond {
	unsigned char arg, op, n;
	uint32_t v[COND_VALUES];
};

struct rule {
	int nr;
	uint32_t ret;			/* when every condition holds */
	unsigned char nconds;
	struct cond cond[2];
};

/* arguments filled in at install time */
enum dyn { DYN_NONE, DYN_IOCTL, DYN_TGKILL };

struct entry {
	int nr;
	unsigned kinds;			/* L, V */
	enum need need;
	enum dyn dyn;
	uint32_t ret;			/* 0: SECCOMP_RET_ALLOW */
	unsigned char nconds;
	struct cond cond[2];
};

#define NVALS(...)	(sizeof((uint32_t[]){ __VA_ARGS__ }) / sizeof(uint32_t))
#define IN(a, ...)	{ .arg = (a), .op = COND_IN, .n = NVALS(__VA_ARGS__), \
			  .v = { __VA_ARGS__ } }
#define BITS(a, m)	{ .arg = (a), .op = COND_BITS, .n = 1, .v = { (m) } }
#define CONDS(...)	.nconds = sizeof((struct cond[]){ __VA_ARGS__ }) / sizeof(struct cond), \
			.cond = { __VA_ARGS__ }

/* what pthread_create() passes to clone: a thread, never a process */
#define PTHREAD_CLONE_FLAGS (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SYSVSEM | \
	CLONE_SIGHAND | CLONE_THREAD | CLONE_SETTLS | CLONE_PARENT_SETTID | \
	CLONE_CHILD_CLEARTID)
/* glibc's internal signal for set*id(); its handler is set by the
 * process's first pthread_create(), which here follows the filter */
#define GLIBC_SIGSETXID	33
#define PROT_RW		(PROT_READ | PROT_WRITE)
#ifndef SYS_SECCOMP
#define SYS_SECCOMP	1	/* si_code of a seccomp SIGSYS (asm-generic/siginfo.h) */
#endif

#define E(name, k, ...)	{ .nr = __NR_##name, .kinds = (k), __VA_ARGS__ }

/*
 * Who may call what, hottest first (the filter compares in this order).
 * A reason is given where the caller is not plain from the name.
 */
static const struct entry entries[] = {
	E(ioctl, L | V, .dyn = DYN_IOCTL),	/* requests: ioctls[] */
	E(epoll_pwait, L),		/* libev's epoll_wait() */
	E(read, L),			/* eventfds (kicks, ev_async), TAP frames */
	E(write, L | V),		/* eventfds, console.log, worker.log, report */
	E(futex, L | V),
	E(recvfrom, L),			/* recv(): control and console clients */
	E(recvmsg, L),			/* requests that carry descriptors */
	E(sendto, L),			/* send(): answers, console output */
	E(writev, L | V),		/* TAP frames; glibc's fatal-error message */
	E(preadv, L, .need = NEED_DISKS),
	E(pwritev, L, .need = NEED_DISKS),
	E(fdatasync, L, .need = NEED_DISKS),	/* FLUSH, write-through, close */
	E(fallocate, L, .need = NEED_DISKS),	/* DISCARD, WRITE_ZEROES */
	E(pread64, L | V),		/* images on reset; log rotation (any thread) */
	E(pwrite64, L | V),		/* log rotation, exit.json, report; zeroes */
	E(ftruncate, L | V),		/* log rotation, exit.json, report */
	/* glibc's fstat() is fstatat(fd, "", AT_EMPTY_PATH): log rotation,
	 * images on reset; no other flags, so no path lookups of its own */
	E(newfstatat, L | V, CONDS(IN(3, AT_EMPTY_PATH))),
	E(epoll_ctl, L),
	E(accept4, L),			/* control.sock, console sockets */
	E(getsockopt, L, CONDS(IN(1, SOL_SOCKET), IN(2, SO_PEERCRED, SO_PEERGROUPS))),
	E(shutdown, L),			/* a client refused past a bound */
	E(close, L),
	/* O_NONBLOCK on accepted sockets; libev's checks of its fds */
	E(fcntl, L, CONDS(IN(1, F_GETFD, F_SETFD, F_GETFL, F_SETFL))),
	E(clock_gettime, L | V),	/* CPU-time clocks have no vDSO (boot timer) */
	E(gettimeofday, L),		/* libev's ev_time() where the vDSO falls back */
	E(getrandom, L),		/* virtio-rng; DTB seeds on reset */
	/* never executable memory: no PROT_EXEC, nor bits unknown today */
	E(mmap, L | V, CONDS(BITS(2, PROT_RW))),
	E(mprotect, L, CONDS(BITS(2, PROT_RW))),	/* new thread stacks */
	E(munmap, L | V),
	E(mremap, L | V),		/* realloc() of a block of its own mapping */
	E(madvise, L | V),		/* a thread's exit drops its stack's pages */
	E(brk, L | V),			/* malloc (one arena: seccomp_install) */
	E(rt_sigreturn, L | V),		/* the kick's and libev's handlers return */
	E(rt_sigprocmask, L | V),	/* pthread_create/kill, thread start and exit */
	E(getpid, L | V),		/* log lines, pthread_kill */
	E(gettid, L | V),		/* pthread_kill() or raise() of itself */
	E(tgkill, L | V, .dyn = DYN_TGKILL),
	E(clone, L, CONDS(IN(0, PTHREAD_CLONE_FLAGS))),	/* vCPU threads */
	/* clone3's flags are in memory, out of the filter's sight: ENOSYS
	 * sends a glibc that tries it first back to clone */
	E(clone3, L, .ret = SECCOMP_RET_ERRNO | ENOSYS),
	E(set_robust_list, L),		/* a new thread starts */
	E(rseq, L),			/* a new thread starts */
	E(rt_sigaction, L, CONDS(IN(0, GLIBC_SIGSETXID))),
	/* a new vCPU thread names itself, then stacks its own filter */
	E(prctl, L, CONDS(IN(0, PR_SET_NAME, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP))),
	/* libev makes a new epoll set when an event names a stale fd */
	E(epoll_create1, L),
	E(exit, L | V),			/* a thread ends */
	E(exit_group, L | V),
};

/* the ioctl requests each kind may make (on any fd: the request numbers
 * are specific to KVM and TUN) */
static const struct {
	uint32_t req;
	unsigned kinds;
	enum need need;
} ioctls[] = {
	/* L too: a vCPU thread starts under the loop's filter */
	{ .req = KVM_RUN, .kinds = L | V },
	/* the UART, the power key, virtio without an irqfd: either thread */
	{ .req = KVM_IRQ_LINE, .kinds = L | V },
	/* a guest reset, on the loop: vcpu_reset() */
	{ .req = KVM_ARM_PREFERRED_TARGET, .kinds = L },
	{ .req = KVM_ARM_VCPU_INIT, .kinds = L },
	{ .req = KVM_GET_ONE_REG, .kinds = L },
	{ .req = KVM_SET_ONE_REG, .kinds = L },
	/* virtio-net offloads: features or a device reset, from the vCPU
	 * thread that wrote the register, or a VM reset on the loop */
	{ .req = TUNSETOFFLOAD, .kinds = L | V, .need = NEED_TAP },
};

_Static_assert(sizeof(entries) / sizeof(entries[0]) <= MAX_RULES, "MAX_RULES");
_Static_assert(sizeof(ioctls) / sizeof(ioctls[0]) <= COND_VALUES, "COND_VALUES");

static bool needed(enum need need, const struct seccomp_conf *conf)
{
	return need == NEED_NONE || (need == NEED_DISKS && conf->disks) ||
	       (need == NEED_TAP && conf->tap);
}

static size_t build(enum seccomp_kind kind, const struct seccomp_conf *conf,
		    struct rule *rules)
{
	unsigned bit = 1u << kind;
	size_t n = 0;

	for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
		const struct entry *e = &entries[i];
		struct rule *r = &rules[n];
		struct cond *c = &r->cond[0];

		if (!(e->kinds & bit) || !needed(e->need, conf))
			continue;
		n++;
		r->nr = e->nr;
		r->ret = e->ret ? e->ret : SECCOMP_RET_ALLOW;
		r->nconds = e->nconds;
		memcpy(r->cond, e->cond, sizeof(r->cond));
		switch (e->dyn) {
		case DYN_IOCTL:
			*c = (struct cond){ .arg = 1, .op = COND_IN };
			for (size_t j = 0; j < sizeof(ioctls) / sizeof(ioctls[0]); j++)
				if ((ioctls[j].kinds & bit) && needed(ioctls[j].need, conf))
					c->v[c->n++] = ioctls[j].req;
			r->nconds = 1;
			break;
		case DYN_TGKILL:
			/* only this process's threads, only the kick, and
			 * SIGABRT so that abort() still ends us as itself */
			r->cond[0] = (struct cond){ .arg = 0, .op = COND_IN, .n = 1,
						    .v = { (uint32_t)getpid() } };
			r->cond[1] = (struct cond){ .arg = 2, .op = COND_IN, .n = 2,
				.v = { (uint32_t)(conf->kick_signal ? conf->kick_signal : SIGUSR1),
				       SIGABRT } };
			r->nconds = 2;
			break;
		case DYN_NONE:
			break;
		}
	}
	return n;
}

struct prog {
	struct sock_filter *insn;
	unsigned len, max;
};

static void emit(struct prog *p, uint16_t code, uint8_t jt, uint8_t jf, uint32_t k)
{
	if (p->len < p->max)
		p->insn[p->len] = (struct sock_filter)BPF_JUMP(code, k, jt, jf);
	p->len++;
}

/* aarch64 is little-endian: an argument's low word comes first */
#define ARG_LO(i)	((uint32_t)offsetof(struct seccomp_data, args[i]))
#define ARG_HI(i)	(ARG_LO(i) + 4)
#define TRAP		SECCOMP_RET_TRAP

static unsigned cond_len(const struct cond *c)
{
	return c->op == COND_IN ? 2u + c->n : 5u;
}

/* Falls through when c holds, returns TRAP when it does not. */
static void emit_cond(struct prog *p, const struct cond *c)
{
	if (c->op == COND_IN) {
		emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, ARG_LO(c->arg));
		for (unsigned i = 0; i < c->n; i++)	/* a match skips the TRAP */
			emit(p, BPF_JMP | BPF_JEQ | BPF_K, (uint8_t)(c->n - i), 0, c->v[i]);
		emit(p, BPF_RET | BPF_K, 0, 0, TRAP);
		return;
	}
	emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, ARG_LO(c->arg));
	emit(p, BPF_JMP | BPF_JSET | BPF_K, 2, 0, ~c->v[0]);	/* to the TRAP */
	emit(p, BPF_LD | BPF_W | BPF_ABS, 0, 0, ARG_HI(c->arg));
	emit(p, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 0);		/* over the TRAP */
	emit(p, BPF_RET | BPF_K, 0, 0, TRAP);
}

/* The whole filter into insn[max]: its length, or -E2BIG. */
static int compile(const struct rule *rules, size_t n, struct sock_filter *insn,
		   unsigned max)
{
	struct prog p = { .insn = insn, .max = max };

	emit(&p, BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, arch));
	emit(&p, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, AUDIT_ARCH_AARCH64);
	emit(&p, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_KILL_PROCESS);
	emit(&p, BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, nr));
	for (size_t i = 0; i < n; i++) {
		const struct rule *r = &rules[i];
		unsigned body = 1;	/* the RET */

		for (unsigned c = 0; c < r->nconds; c++)
			body += cond_len(&r->cond[c]);
		if (body > 255)
			return -E2BIG;
		/* not this syscall: over the body, to the next comparison
		 * (the accumulator still holds nr: a body always returns) */
		emit(&p, BPF_JMP | BPF_JEQ | BPF_K, 0, (uint8_t)body, (uint32_t)r->nr);
		for (unsigned c = 0; c < r->nconds; c++)
			emit_cond(&p, &r->cond[c]);
		emit(&p, BPF_RET | BPF_K, 0, 0, r->ret);
	}
	emit(&p, BPF_RET | BPF_K, 0, 0, TRAP);
	return p.len > max ? -E2BIG : (int)p.len;
}

int seccomp_install(enum seccomp_kind kind, const struct seccomp_conf *conf)
{
	struct rule rules[MAX_RULES];
	struct sock_filter insn[MAX_INSNS];
	struct sock_fprog prog;
	int len = compile(rules, build(kind, conf, rules), insn, MAX_INSNS);

	if (len < 0)
		return len;
	/*
	 * One malloc arena for every thread: a thread's own arena, when it
	 * shrinks, makes glibc read /proc/sys/vm/overcommit_memory (openat),
	 * and sizing the arenas asks for the CPU affinity.  The main arena
	 * only needs brk and mmap.
	 */
	if (kind == SECCOMP_LOOP)
		mallopt(M_ARENA_MAX, 1);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	prog = (struct sock_fprog){ .len = (unsigned short)len, .filter = insn };
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		return -errno;
	return 0;
}

size_t seccomp_list(enum seccomp_kind kind, const struct seccomp_conf *conf,
		    const char **names, size_t max)
{
	struct rule rules[MAX_RULES];
	size_t n = build(kind, conf, rules), count = 0;

	for (size_t i = 0; i < n; i++) {
		if (rules[i].ret != SECCOMP_RET_ALLOW)
			continue;	/* clone3: refused, not allowed */
		if (count < max)
			names[count] = seccomp_syscall_name(rules[i].nr);
		count++;
	}
	return count;
}

const char *seccomp_syscall_name(long nr)
{
	if (nr < 0 || (unsigned long)nr >= sizeof(syscall_names) / sizeof(syscall_names[0]))
		return NULL;
	return syscall_names[nr];
}

/* --- the SIGSYS report: async-signal-safe, no stdio, no malloc --- */

static int report_exit_fd = -1, report_log_fd = -1;

static void sigsys_handler(int sig, siginfo_t *si, void *ctx)
{
	char what[96], line[100], json[160];
	const char *name;
	char *p, *end = what + sizeof(what);
	size_t wlen;
	ssize_t r = 0;

	(void)sig;
	(void)ctx;
	if (si->si_code == SYS_SECCOMP) {
		name = seccomp_syscall_name(si->si_syscall);
		p = sigsafe_str(what, end, "seccomp: syscall ");
		p = sigsafe_str(p, end, name ? name : "unknown");
		p = sigsafe_str(p, end, " (");
		p = sigsafe_num(p, end, si->si_syscall);
		p = sigsafe_str(p, end, ")");
	} else {
		p = sigsafe_str(what, end, "seccomp: SIGSYS from pid ");
		p = sigsafe_num(p, end, si->si_pid);
	}
	wlen = (size_t)(p - what);

	if (report_log_fd >= 0) {
		memcpy(line, what, wlen);
		line[wlen] = '\n';
		r = write(report_log_fd, line, wlen + 1);
	}
	if (report_exit_fd >= 0) {
		end = json + sizeof(json);
		p = sigsafe_str(json, end, "{\"code\":");
		p = sigsafe_num(p, end, WORKER_EXIT_SECCOMP);
		p = sigsafe_str(p, end, ",\"reason\":\"");
		if (p + wlen < end) {	/* names and numbers need no escapes */
			memcpy(p, what, wlen);
			p += wlen;
		}
		p = sigsafe_str(p, end, "\"}");
		r = pwrite(report_exit_fd, json, (size_t)(p - json), 0);
		if (r == p - json)
			r = ftruncate(report_exit_fd, r);
	}
	(void)r;
	_exit(WORKER_EXIT_SECCOMP);
}

int seccomp_report_init(int exit_fd, int log_fd)
{
	struct sigaction sa = { .sa_sigaction = sigsys_handler, .sa_flags = SA_SIGINFO };

	report_exit_fd = exit_fd;
	report_log_fd = log_fd;
	sigfillset(&sa.sa_mask);	/* no kick in the middle of the report */
	return sigaction(SIGSYS, &sa, NULL) < 0 ? -errno : 0;
}
