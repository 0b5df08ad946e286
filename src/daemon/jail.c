// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/sched.h>

#include "daemon/jail.h"
#include "libarmvm.h"
#include "rpc/worker_proto.h"
#include "util/sigsafe.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC	(1U << 2)
#endif
#define JAIL_HIGH_FD		256	/* descriptors are parked above this while moved */
#define JAIL_TMPFS_OPTS		"size=16k,nr_inodes=16,mode=0555"

/*
 * The spawn shares the daemon's memory until the exec (CLONE_VM |
 * CLONE_VFORK, as posix_spawn does): no copy of the daemon's page tables
 * and no copy-on-write faults in the daemon afterwards, which were the
 * largest part of a spawn's cost.  The calling thread waits in clone3
 * until the child has exec'd or failed; the child runs on a stack in the
 * caller's frame.  clone3 returning on a new stack needs a few
 * instructions of assembly: the child calls fn(arg) on it and never
 * returns.  Without them (another architecture, or a sanitizer build,
 * whose shadow memory would keep the child's frames), and when the child
 * must wait for the daemon first (go_fd), the spawn is a fork.
 */
#ifndef __has_feature
#define __has_feature(x)	0
#endif
#if (defined(__aarch64__) || defined(__x86_64__)) && !defined(__SANITIZE_ADDRESS__) && \
	!__has_feature(address_sanitizer) && !__has_feature(memory_sanitizer)
#define JAIL_SHARED_SPAWN	1
#else
#define JAIL_SHARED_SPAWN	0
#endif
#define JAIL_CHILD_STACK	(32 * 1024)

#if JAIL_SHARED_SPAWN
/* long jail_clone3(struct clone_args *args, size_t size, void (*fn)(void *), void *arg) */
long jail_clone3(struct clone_args *args, size_t size, void (*fn)(void *), void *arg);
#if defined(__aarch64__)
__asm__(".text\n"
	".global jail_clone3\n"
	".type jail_clone3, %function\n"
	"jail_clone3:\n"
	"	mov x10, x2\n"
	"	mov x11, x3\n"
	"	mov x8, #435\n"		/* clone3 */
	"	svc #0\n"
	"	cbnz x0, 1f\n"
	"	mov x29, xzr\n"
	"	mov x30, xzr\n"
	"	mov x0, x11\n"
	"	blr x10\n"
	"	mov x0, #127\n"
	"	mov x8, #94\n"		/* exit_group */
	"	svc #0\n"
	"1:	ret\n"
	".size jail_clone3, .-jail_clone3\n");
#else
__asm__(".text\n"
	".global jail_clone3\n"
	".type jail_clone3, @function\n"
	"jail_clone3:\n"
	"	mov %rdx, %r8\n"
	"	mov %rcx, %r9\n"
	"	mov $435, %eax\n"		/* clone3 */
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jnz 1f\n"
	"	xor %ebp, %ebp\n"
	"	mov %r9, %rdi\n"
	"	call *%r8\n"
	"	mov $127, %edi\n"
	"	mov $231, %eax\n"		/* exit_group */
	"	syscall\n"
	"	hlt\n"
	"1:	ret\n"
	".size jail_clone3, .-jail_clone3\n");
#endif
#endif

/* ---- the child: raw system calls only ---- */

/* the worker's own error line, then the end */
static void __attribute__((noreturn)) child_fail(int fd, const char *step, int err)
{
	char line[320], *p = line;
	const char *end = line + sizeof(line) - 4;

	p = sigsafe_str(p, end, "{\"error\":{\"code\":");
	p = sigsafe_num(p, end, ARMVM_E_INTERNAL);
	p = sigsafe_str(p, end, ",\"message\":\"jail: ");
	p = sigsafe_str(p, end, step);
	p = sigsafe_str(p, end, ": ");
	p = sigsafe_str(p, end, strerrorname_np(err) ?: "error");
	p = sigsafe_str(p, end, " (");
	p = sigsafe_str(p, end, strerrordesc_np(err) ?: "?");
	p = sigsafe_str(p, line + sizeof(line), ")\"}}\n");
	if (fd >= 0 && write(fd, line, (size_t)(p - line)) < 0)
		(void)0;
	syscall(SYS_exit_group, WORKER_EXIT_SETUP);
	__builtin_unreachable();
}

static void enter_root(const struct jail_spec *js, int status)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		child_fail(status, "making the mount tree private", errno);
	if (mount("armvm-root", js->root_dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  JAIL_TMPFS_OPTS) < 0)
		child_fail(status, "mounting the empty root", errno);
	if (chdir(js->root_dir) < 0)
		child_fail(status, "entering the empty root", errno);
	/* the old root stacks under the new one, then goes */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		child_fail(status, "pivot_root", errno);
	if (umount2(".", MNT_DETACH) < 0)
		child_fail(status, "detaching the old root", errno);
	if (chdir("/") < 0)
		child_fail(status, "chdir /", errno);
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV |
		  MS_NOEXEC, NULL) < 0)
		child_fail(status, "making the root read-only", errno);
	if (js->hostname && sethostname(js->hostname, strlen(js->hostname)) < 0)
		child_fail(status, "sethostname", errno);
}

static void set_limit(int status, int res, uint64_t v, const char *what)
{
	struct rlimit rl = { .rlim_cur = v, .rlim_max = v };

	if (setrlimit(res, &rl) < 0)
		child_fail(status, what, errno);
}

static void drop_privileges(const struct jail_spec *js, int status)
{
	set_limit(status, RLIMIT_CORE, 0, "RLIMIT_CORE");
	if (js->nofile)
		set_limit(status, RLIMIT_NOFILE, js->nofile, "RLIMIT_NOFILE");
	if (js->nproc)
		set_limit(status, RLIMIT_NPROC, js->nproc, "RLIMIT_NPROC");
	if (js->fsize)
		set_limit(status, RLIMIT_FSIZE, js->fsize, "RLIMIT_FSIZE");
	if (js->as)
		set_limit(status, RLIMIT_AS, js->as, "RLIMIT_AS");
	/* no capability can come back: not from the bounding set, not as
	 * ambient ones across exec */
	for (int cap = 0; cap <= 63; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0)
			continue;
		if (errno != EINVAL)
			child_fail(status, "dropping a capability", errno);
		break;	/* past the kernel's last capability */
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		child_fail(status, "clearing ambient capabilities", errno);
	/* raw: glibc's wrappers would signal the parent's other threads */
	if (syscall(SYS_setgroups, 0, NULL) < 0)
		child_fail(status, "setgroups", errno);
	if (syscall(SYS_setresgid, js->gid, js->gid, js->gid) < 0)
		child_fail(status, "setresgid", errno);
	/* from uid 0 to another: permitted and effective capabilities go */
	if (syscall(SYS_setresuid, js->uid, js->uid, js->uid) < 0)
		child_fail(status, "setresuid", errno);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail(status, "no_new_privs", errno);
}

/* the kernel's struct sigaction, for raw rt_sigaction */
struct jail_ksigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	uint64_t mask;
};

/* In a child sharing the daemon's memory, a handler of the daemon's
 * (libev's, writing to its loop) must not run: every caught signal goes
 * back to its default before the daemon's signal mask is restored;
 * ignored ones stay ignored across exec, as with a fork. */
static void reset_handlers(const sigset_t *mask)
{
	for (int sig = 1; sig < 65; sig++) {
		struct jail_ksigaction old, dfl = { .handler = SIG_DFL };

		if (sig == SIGKILL || sig == SIGSTOP ||
		    syscall(SYS_rt_sigaction, sig, NULL, &old, 8) < 0)
			continue;
		if (old.handler != SIG_DFL && old.handler != SIG_IGN)
			syscall(SYS_rt_sigaction, sig, &dfl, NULL, 8);
	}
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, mask, NULL, 8);
}

struct child_arg {
	const struct jail_spec *js;
	sigset_t mask;			/* the caller's, restored in the child */
	bool shared;			/* CLONE_VM: reset the handlers first */
};

static void __attribute__((noreturn)) child(const struct child_arg *ca)
{
	static char *const envp[] = { "LC_ALL=C", NULL };
	const struct jail_spec *js = ca->js;
	int parked[JAIL_MAX_FDS], exe, status = -1;

	if (ca->shared)
		reset_handlers(&ca->mask);

	if (js->status_fd >= 0 && (unsigned)js->status_fd < js->nfds)
		status = js->fds[js->status_fd];
	if (js->go_fd >= 0) {
		char go = 0;
		ssize_t n;

		while ((n = read(js->go_fd, &go, 1)) < 0 && errno == EINTR)
			;
		if (n != 1 || go != '1')
			child_fail(status, "waiting for its cgroup (a systemd scope)", ECANCELED);
		close(js->go_fd);
	}
	if (setsid() < 0)
		child_fail(status, "setsid", errno);
	if (js->sandbox)
		enter_root(js, status);

	/* every descriptor to its number: parked high first, as the
	 * numbers may overlap */
	exe = fcntl(js->exe_fd, F_DUPFD_CLOEXEC, JAIL_HIGH_FD);
	if (exe < 0)
		child_fail(status, "the worker binary", errno);
	for (unsigned i = 0; i < js->nfds; i++) {
		parked[i] = -1;
		if (js->fds[i] >= 0 &&
		    (parked[i] = fcntl(js->fds[i], F_DUPFD_CLOEXEC, JAIL_HIGH_FD)) < 0)
			child_fail(status, "moving descriptors", errno);
	}
	for (unsigned i = 0; i < js->nfds; i++) {
		if (parked[i] < 0) {
			close((int)i);
			continue;
		}
		if (dup3(parked[i], (int)i, 0) < 0)
			child_fail(status, "moving descriptors", errno);
	}
	if (js->status_fd >= 0)
		status = js->status_fd;
	/* the rest (the daemon's sockets, the parked copies) end at exec */
	if (syscall(SYS_close_range, js->nfds, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		child_fail(status, "close_range", errno);

	if (js->sandbox)
		drop_privileges(js, status);
	syscall(SYS_execveat, exe, "", js->argv, envp, AT_EMPTY_PATH);
	child_fail(status, "execveat of the worker", errno);
}

/* ---- the daemon ---- */

#if JAIL_SHARED_SPAWN
static void child_entry(void *arg)
{
	child(arg);
}
#endif

int jail_spawn(const struct jail_spec *js, pid_t *pid, int *pidfd, char *msg, size_t msglen)
{
	struct clone_args args;
	struct child_arg ca = { .js = js };
	int fd = -1;
	long r;

	*pid = 0;
	*pidfd = -1;
	if (js->nfds > JAIL_MAX_FDS || js->nfds + 1 >= JAIL_HIGH_FD) {
		snprintf(msg, msglen, "too many descriptors for a worker (%u)", js->nfds);
		return -EMFILE;
	}
	memset(&args, 0, sizeof(args));
	args.flags = CLONE_PIDFD;
	if (js->sandbox)
		args.flags |= CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS |
			      CLONE_NEWNET | CLONE_NEWCGROUP;
	if (js->cgroup_fd >= 0) {
		args.flags |= CLONE_INTO_CGROUP;
		args.cgroup = (uint64_t)js->cgroup_fd;
	}
	args.pidfd = (uint64_t)(uintptr_t)&fd;
	args.exit_signal = SIGCHLD;
#if JAIL_SHARED_SPAWN
	if (js->go_fd < 0) {
		_Alignas(16) unsigned char stack[JAIL_CHILD_STACK];
		sigset_t all;

		/* no signal reaches the child before its handlers are reset */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &ca.mask);
		ca.shared = true;
		args.flags |= CLONE_VM | CLONE_VFORK;
		args.stack = (uint64_t)(uintptr_t)stack;
		args.stack_size = sizeof(stack);
		r = jail_clone3(&args, sizeof(args), child_entry, &ca);
		if (r < 0) {
			errno = (int)-r;
			r = -1;
		}
		pthread_sigmask(SIG_SETMASK, &ca.mask, NULL);
	} else
#endif
		r = syscall(SYS_clone3, &args, sizeof(args));
	if (r < 0) {
		int e = errno;

		snprintf(msg, msglen, "clone3 of the worker%s: %s", js->sandbox ?
			 " into its namespaces and cgroup" : "", strerror(e));
		return -e;
	}
	if (r == 0)
		child(&ca);
	*pid = (pid_t)r;
	*pidfd = fd;
	return 0;
}
