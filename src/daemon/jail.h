/* SPDX-License-Identifier: MIT */
/*
 * Spawning a worker into its jail: clone3() with new mount, pid, ipc, uts
 * and network namespaces, straight into its own cgroup (CLONE_INTO_CGROUP),
 * then in the child, before anything of the worker runs:
 *
 *   1. the mount tree made private, an empty read-only tmpfs mounted on
 *      the VM's root/ directory, pivot_root into it, the old root detached
 *      (no /proc, /dev or host file left to open);
 *   2. the descriptors of the worker (spec, status, logs, /dev/kvm, images,
 *      disks, TAPs, sockets) moved to their numbers, every other closed;
 *   3. rlimits (open files, processes, core 0, file size; address space
 *      when there is no cgroup to bound its memory);
 *   4. every capability dropped from the bounding and ambient sets, the
 *      groups, gid and uid set to the VM's own ids, no_new_privs;
 *   5. execveat() of the worker binary, held open since the daemon started.
 *
 * The child shares the daemon's memory until its exec (CLONE_VM |
 * CLONE_VFORK; a fork when it must wait for go_fd, and in sanitizer
 * builds): it makes raw system calls only (no malloc, no stdio, no glibc
 * set*id broadcast), and the daemon's signal handlers are reset in it.  A failed step is
 * written to the status descriptor as the worker's own error line
 * ({"error":{"code","message"}}) and the child exits WORKER_EXIT_SETUP.
 * Without the sandbox (--no-sandbox) only steps 2 and 5 run, as root.
 */
#ifndef ARMVMD_JAIL_H
#define ARMVMD_JAIL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define JAIL_MAX_FDS	64

struct jail_spec {
	bool sandbox;
	int exe_fd;			/* the worker binary (O_PATH) */
	const char *root_dir;		/* empty directory to pivot into (absolute) */
	const char *hostname;		/* in its uts namespace */
	uid_t uid;
	gid_t gid;
	int cgroup_fd;			/* -1: stay in the daemon's */
	uint64_t nofile, nproc, fsize;	/* rlimits (0: leave) */
	uint64_t as;			/* RLIMIT_AS (0: leave): the memory bound without a cgroup */
	int fds[JAIL_MAX_FDS];		/* child's descriptor i = fds[i]; -1: none */
	unsigned nfds;
	int status_fd;			/* where a failed step is reported (one of fds[]) */
	int go_fd;			/* -1, or the child waits for a byte '1' on it first
					 * (its cgroup is being made for it: scope.h) */
	char *const *argv;
};

/* Spawn; the child's pid (in the daemon's pid namespace) and a pidfd for
 * it (or -1).  0 or -errno with msg filled. */
int jail_spawn(const struct jail_spec *js, pid_t *pid, int *pidfd, char *msg, size_t msglen);

#endif
