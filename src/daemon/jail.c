// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
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
	for (int cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			child_fail(status, "dropping a capability", errno);
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

static void __attribute__((noreturn)) child(const struct jail_spec *js)
{
	static char *const envp[] = { "LC_ALL=C", NULL };
	int parked[JAIL_MAX_FDS], exe, status = -1;

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

int jail_spawn(const struct jail_spec *js, pid_t *pid, int *pidfd, char *msg, size_t msglen)
{
	struct clone_args args;
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
	r = syscall(SYS_clone3, &args, sizeof(args));
	if (r < 0) {
		int e = errno;

		snprintf(msg, msglen, "clone3 of the worker%s: %s", js->sandbox ?
			 " into its namespaces and cgroup" : "", strerror(e));
		return -e;
	}
	if (r == 0)
		child(js);
	*pid = (pid_t)r;
	*pidfd = fd;
	return 0;
}
