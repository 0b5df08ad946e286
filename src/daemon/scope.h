/* SPDX-License-Identifier: MIT */
/*
 * A worker's cgroup as a transient systemd scope, where the daemon's own
 * cgroup cannot hold the VM cgroups (systemd before 254 starts a delegated
 * unit's main process in the unit's cgroup, which may then give no
 * controller to children: cgroup.h).  systemd makes the scope
 * (StartTransientUnit on its private socket, /run/systemd/private: the
 * D-Bus wire protocol spoken directly, no bus daemon, no library), moves
 * the worker into it and keeps its bounds (MemoryMax, MemorySwapMax,
 * TasksMax, CPUWeight) across daemon restarts; the scope goes when the
 * worker does.  Scopes go into machine.slice, as VMs' do elsewhere.
 */
#ifndef ARMVMD_SCOPE_H
#define ARMVMD_SCOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SCOPE_SLICE	"machine.slice"

/* Can scopes be made here (systemd's private socket, as root)? */
bool scope_available(void);

/* The unit name of a VM's worker scope: "armvm-NAME-UID.scope". */
int scope_unit_name(const char *vm, uid_t uid, char *buf, size_t len);

/*
 * Put pid in a new scope named unit with these bounds, and wait (at most
 * a few seconds) until the kernel shows it there.  Blocking: the job
 * thread's.  0, or -errno with msg filled (systemd's own error text when
 * it refused).
 */
int scope_create(pid_t pid, const char *unit, const char *description, uint64_t mem_max,
		 uint64_t tasks_max, uint64_t cpu_weight, char *msg, size_t msglen);

/* The StartTransientUnit call scope_create sends, into out (for the
 * tests): its length or -errno. */
ssize_t scope_request(pid_t pid, const char *unit, const char *description, uint64_t mem_max,
		      uint64_t tasks_max, uint64_t cpu_weight, unsigned char *out, size_t cap);

#endif
