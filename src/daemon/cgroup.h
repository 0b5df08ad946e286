/* SPDX-License-Identifier: MIT */
/*
 * cgroup v2 for the VM workers: one cgroup per VM, with memory, pids and
 * cpu limits, below the daemon's own cgroup.
 *
 * Layout (cgroup_layout_for):
 *   the daemon in the root cgroup "/" (no init system managing cgroups:
 *   the test host, a minimal host): the VMs go in "/armvmd/vms/NAME" and
 *   the daemon stays in the root, which cgroup v2 exempts from the
 *   no-internal-processes rule;
 *   the daemon already in "/BASE/supervisor" (systemd 254 and later with
 *   Delegate= and DelegateSubgroup=supervisor, or a daemon that moved
 *   itself before): the VMs go in "/BASE/vms/NAME";
 *   the daemon in "/BASE" itself (a delegated cgroup without systemd, or
 *   systemd before 254): it first moves itself into "/BASE/supervisor"
 *   -- a cgroup with processes cannot give controllers to its children.
 *   Under systemd only with CGROUP_MOVE_SELF (see cgroup_init).
 * +memory +pids +cpu are enabled in every subtree_control from BASE down
 * to vms.  Everything below the mount is reached through directory fds,
 * one component at a time, never following a symlink.
 */
#ifndef ARMVMD_CGROUP_H
#define ARMVMD_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#define CGROUP_MOUNT_DEFAULT	"/sys/fs/cgroup"
#define CGROUP_PATH_MAX		256
/* the controllers every VM cgroup gets, as cgroup.subtree_control takes them */
#define CGROUP_CONTROLLERS	"memory pids cpu"
#define CGROUP_SUPERVISOR	"supervisor"
#define CGROUP_VMS		"vms"
/* the top of the VM tree for a daemon in the root cgroup */
#define CGROUP_ROOT_TOP		"armvmd"

struct cgroup_base {
	int root_fd;		/* O_DIRECTORY fd of the cgroup2 mount */
	int vms_fd;		/* the parent of the per-VM cgroups */
	char path[CGROUP_PATH_MAX];	/* that parent, relative to the mount
					 * ("/system.slice/armvmd.service/vms") */
	bool ok;
	bool moved;		/* the daemon moved itself into BASE/supervisor */
	char why[256];		/* why not, when !ok */
};

/*
 * cgroup_init_flags: under systemd, the daemon moves itself out of its
 * unit's cgroup only with this flag.  systemd puts a service's new main process into the unit's
 * cgroup itself (before 254, or without DelegateSubgroup=), and cgroup v2
 * lets no process join a cgroup that gives controllers to its children: so
 * once the daemon has moved and VMs run in BASE/vms, armvmd.service cannot
 * be started again (restart, upgrade, socket activation after a stop) until
 * every VM has ended -- the start fails at step CGROUP, status 219.
 */
#define CGROUP_MOVE_SELF	(1u << 0)
/* systemd manages the cgroup tree (cgroup_init finds out:
 * /run/systemd/system exists); for cgroup_init_from */
#define CGROUP_SYSTEMD		(1u << 1)

/*
 * Find the daemon's own cgroup (/proc/self/cgroup), move the daemon into
 * BASE/supervisor when needed and allowed, and make the VM tree (see
 * above).  0 with cg->ok, or -errno with !cg->ok and a sentence in cg->why:
 *   -ENOENT      no cgroup v2 line in /proc/self/cgroup, or no mount
 *   -ENOTSUP     mount is not a cgroup2 file system (a v1 or hybrid host),
 *                or memory, pids or cpu are not available to BASE
 *   -EPERM       under systemd, BASE is not delegated to the daemon (no
 *                Delegate= in its unit: no trusted.delegate), or the daemon
 *                is in the root cgroup of a systemd host
 *   -EBUSY       under systemd, the daemon is at the top of its unit's
 *                cgroup and flags lack CGROUP_MOVE_SELF (the fix:
 *                DelegateSubgroup=supervisor, systemd 254); or a cgroup
 *                that must give controllers to its children holds processes
 *   other        a cgroup file operation failed
 * Nothing has moved when it fails before the move.  cgroup_close() is
 * right either way.
 */
int cgroup_init(struct cgroup_base *cg, const char *mount);
/* The same with flags (CGROUP_MOVE_SELF). */
int cgroup_init_flags(struct cgroup_base *cg, const char *mount, unsigned flags);

/* cgroup_init with the text of /proc/self/cgroup given, and CGROUP_SYSTEMD
 * in flags when systemd manages the tree: for the tests. */
int cgroup_init_from(struct cgroup_base *cg, const char *mount,
		     const char *self_cgroup, unsigned flags);

/*
 * Create (or reuse, when it exists without processes) the cgroup of VM
 * name with memory.max = mem_max bytes, memory.swap.max = 0 (when the
 * kernel has swap accounting), pids.max = pids_max, cpu.weight = weight
 * (1..10000, more is taken as 10000); 0 for any of the three is the
 * kernel's default (no limit; weight 100).  Returns its O_RDONLY|O_DIRECTORY|O_CLOEXEC fd, for clone3's
 * CLONE_INTO_CGROUP, or -errno with a sentence in msg: -EBUSY when it
 * exists with processes in it, -EINVAL for a bad name, -ENOTSUP
 * when !cg->ok.  A cgroup made here is removed again when a limit cannot
 * be set.
 */
int cgroup_vm_create(struct cgroup_base *cg, const char *name, uint64_t mem_max,
		     unsigned pids_max, unsigned weight, char *msg, size_t msglen);

/* Move process pid into the cgroup open at fd (a pooled worker into its
 * VM's).  0 or -errno. */
int cgroup_move_pid(int fd, pid_t pid);

/* Remove the cgroup of VM name: 0 (also when there is none), -EBUSY while
 * processes are in it (also for a moment after the last one has ended:
 * retry), or -errno. */
int cgroup_vm_remove(struct cgroup_base *cg, const char *name);

/* Remove every VM cgroup that has no process left (those of workers that
 * ended, whenever they ended); the others stay.  How many went. */
unsigned cgroup_sweep(struct cgroup_base *cg);

/* The VM's cgroup path as /proc/PID/cgroup shows it after "0::" (for
 * vm.info).  0, -ENOTSUP when !cg->ok, -ENAMETOOLONG, -EINVAL. */
int cgroup_vm_path(const struct cgroup_base *cg, const char *name, char *buf, size_t len);

/*
 * The VM cgroup's figures, for vm.info: {"path", "memory_current",
 * "memory_peak", "memory_max", "pids_current", "pids_max", "oom_kills"}
 * (bytes and counts; a limit of "max" is null; a file the kernel does not
 * have, such as memory.peak before 5.19, leaves its key out).  NULL when
 * !cg->ok or the VM has no cgroup.
 */
json_t *cgroup_vm_stats(const struct cgroup_base *cg, const char *name);

/* The same figures of the cgroup open at fd (path: for the answer). */
json_t *cgroup_stats_fd(int fd, const char *path);

void cgroup_close(struct cgroup_base *cg);

/* ---- the pure parts, for the tests ---- */

/* The cgroup v2 path in the text of /proc/PID/cgroup (its "0::/PATH" line)
 * into path.  0, -ENOENT (no such line: cgroup v1 only), -EINVAL (not an
 * absolute path, or with "." or ".." or empty components), -ENAMETOOLONG. */
int cgroup_parse_self(const char *text, char *path, size_t len);

struct cgroup_layout {
	char base[CGROUP_PATH_MAX];	/* what must be delegated ("/armvmd" for the root) */
	char supervisor[CGROUP_PATH_MAX];	/* the daemon's cgroup after init */
	char vms[CGROUP_PATH_MAX];	/* the parent of the VM cgroups */
	bool root;			/* the daemon is in the root cgroup (and stays) */
	bool move;			/* the daemon must move itself into supervisor */
};
/* The layout for a daemon in cgroup self (a cgroup_parse_self path).
 * 0 or -ENAMETOOLONG. */
int cgroup_layout_for(const char *self, struct cgroup_layout *l);

/*
 * The cgroup directory name of VM name.  VM names (plan_name_valid) may
 * hold '.', and so may look like a kernel interface file ("memory.max",
 * "cgroup.procs") now or in a later kernel; such a name, and one that
 * starts with '_', gets a '_' in front (systemd escapes unit cgroups the
 * same way), so the mapping stays one to one.  0, -EINVAL (empty, '/',
 * "." or ".."), -ENAMETOOLONG.
 */
int cgroup_vm_dirname(const char *name, char *buf, size_t len);

/* The value of key in a flat keyed file (memory.events: "oom_kill 3\n").
 * 0 or -ENOENT. */
int cgroup_parse_keyed(const char *text, const char *key, uint64_t *val);

/* The words of want (space separated) that are missing from the list have
 * (cgroup.controllers), space separated into missing ("" when none).
 * true when none is missing. */
bool cgroup_has_all(const char *have, const char *want, char *missing, size_t len);

#endif
