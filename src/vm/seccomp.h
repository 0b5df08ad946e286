/* SPDX-License-Identifier: MIT */
/*
 * The worker's seccomp-BPF allowlists, one per kind of thread (aarch64
 * only).  The loop thread installs SECCOMP_LOOP once the VM is set up; the
 * vCPU threads it creates afterwards inherit that filter and each stacks
 * SECCOMP_VCPU on top, so a vCPU thread may make only the syscalls of both
 * lists.  A call outside the list raises SIGSYS (SECCOMP_RET_TRAP), which
 * seccomp_report_init() turns into a report and WORKER_EXIT_SECCOMP; a
 * syscall of another architecture kills the process outright.
 */
#ifndef ARMVMD_SECCOMP_H
#define ARMVMD_SECCOMP_H

#include <stdbool.h>
#include <stddef.h>

enum seccomp_kind { SECCOMP_LOOP, SECCOMP_VCPU };

/* What the VM's plan has: a list only opens what its devices need. */
struct seccomp_conf {
	bool tap;		/* virtio-net: TUNSETOFFLOAD on the TAP */
	bool disks;		/* virtio-blk: preadv, pwritev, fdatasync, fallocate */
	int kick_signal;	/* vcpu_kick()'s signal; 0: SIGUSR1 */
};

/*
 * SIGSYS handler for the whole process: a violation writes
 * "seccomp: syscall NAME (NR)" to log_fd and
 * {"code":WORKER_EXIT_SECCOMP,"reason":"seccomp: syscall NAME (NR)"} over
 * exit_fd, then ends the process with WORKER_EXIT_SECCOMP.  Either fd may
 * be -1.  Call before seccomp_install().  0 or -errno.
 */
int seccomp_report_init(int exit_fd, int log_fd);

/* Install kind's filter on the calling thread (sets no_new_privs, no
 * TSYNC).  0 or -errno. */
int seccomp_install(enum seccomp_kind kind, const struct seccomp_conf *conf);

/* The names of kind's allowed syscalls (docs, tests): fills up to max of
 * names and returns how many there are. */
size_t seccomp_list(enum seccomp_kind kind, const struct seccomp_conf *conf,
		    const char **names, size_t max);

/* aarch64 syscall nr's name; NULL if unknown */
const char *seccomp_syscall_name(long nr);

#endif
