// SPDX-License-Identifier: MIT
/*
 * The cgroup v2 helpers: parsing /proc/self/cgroup, the layout for each
 * place the daemon may find itself in, the escaping of VM names, keyed
 * files; cgroup_init refusing what is not a cgroup2 mount.  Then, when
 * this runs as root on a cgroup v2 host with memory, pids and cpu where a
 * test tree can be made without touching anyone's cgroups (the daemon's
 * place is the root cgroup of a host with no systemd, or a cgroup
 * delegated to the test, e.g. systemd-run -p Delegate=yes), the real
 * thing: the move into supervisor, a VM cgroup with its limits, a child
 * cloned into it, its figures, -EBUSY while it runs, removal.  Elsewhere
 * (a hybrid host, qemu-user) those are skipped.
 *
 * ARMVMD_TEST_CGROUP_MOUNT (default /sys/fs/cgroup) names the mount;
 * ARMVMD_TEST_CGROUP_ROOT=1 also builds the root layout (/armvmd/vms) for
 * real: only on a throw-away host, the emulated test host for instance.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "daemon/cgroup.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC	0x63677270
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP	0x200000000ULL
#endif

/* ---- /proc/self/cgroup ---- */

static void test_parse_self(void **state)
{
	char p[CGROUP_PATH_MAX];

	assert_int_equal(cgroup_parse_self("0::/system.slice/armvmd.service\n", p, sizeof(p)), 0);
	assert_string_equal(p, "/system.slice/armvmd.service");
	assert_int_equal(cgroup_parse_self("0::/\n", p, sizeof(p)), 0);
	assert_string_equal(p, "/");
	/* no newline at the end */
	assert_int_equal(cgroup_parse_self("0::/a/b", p, sizeof(p)), 0);
	assert_string_equal(p, "/a/b");
	/* a hybrid host: the v2 line among the v1 ones */
	assert_int_equal(cgroup_parse_self("9:name=systemd:/\n4:memory:/x/y\n"
					   "1:cpu:/\n0::/user.slice/s.scope\n", p, sizeof(p)), 0);
	assert_string_equal(p, "/user.slice/s.scope");
	/* v1 only, or nothing */
	assert_int_equal(cgroup_parse_self("4:memory:/x\n1:cpu:/\n", p, sizeof(p)), -ENOENT);
	assert_int_equal(cgroup_parse_self("", p, sizeof(p)), -ENOENT);
	/* "10::" is not the v2 line */
	assert_int_equal(cgroup_parse_self("10::/x\n", p, sizeof(p)), -ENOENT);
	/* paths that are not walked */
	assert_int_equal(cgroup_parse_self("0::\n", p, sizeof(p)), -EINVAL);
	assert_int_equal(cgroup_parse_self("0::a/b\n", p, sizeof(p)), -EINVAL);
	assert_int_equal(cgroup_parse_self("0::/a//b\n", p, sizeof(p)), -EINVAL);
	assert_int_equal(cgroup_parse_self("0::/a/\n", p, sizeof(p)), -EINVAL);
	assert_int_equal(cgroup_parse_self("0::/a/../b\n", p, sizeof(p)), -EINVAL);
	assert_int_equal(cgroup_parse_self("0::/..\n", p, sizeof(p)), -EINVAL);
	assert_int_equal(cgroup_parse_self("0::/./a\n", p, sizeof(p)), -EINVAL);
	/* names that only start with dots are names */
	assert_int_equal(cgroup_parse_self("0::/..a/.b\n", p, sizeof(p)), 0);
	assert_string_equal(p, "/..a/.b");
	assert_int_equal(cgroup_parse_self("0::/abcdefgh\n", p, 9), -ENAMETOOLONG);
	assert_int_equal(cgroup_parse_self("0::/abcdefg\n", p, 9), 0);
}

/* ---- where the VMs go ---- */

static void test_layout(void **state)
{
	struct cgroup_layout l;
	char longp[400];

	/* the root cgroup: the daemon stays, the VMs in /armvmd/vms */
	assert_int_equal(cgroup_layout_for("/", &l), 0);
	assert_true(l.root);
	assert_false(l.move);
	assert_string_equal(l.base, "/armvmd");
	assert_string_equal(l.supervisor, "/");
	assert_string_equal(l.vms, "/armvmd/vms");

	/* a unit's cgroup (systemd before 254): the daemon moves */
	assert_int_equal(cgroup_layout_for("/system.slice/armvmd.service", &l), 0);
	assert_false(l.root);
	assert_true(l.move);
	assert_string_equal(l.base, "/system.slice/armvmd.service");
	assert_string_equal(l.supervisor, "/system.slice/armvmd.service/supervisor");
	assert_string_equal(l.vms, "/system.slice/armvmd.service/vms");

	/* DelegateSubgroup=supervisor, or a daemon that moved before */
	assert_int_equal(cgroup_layout_for("/system.slice/armvmd.service/supervisor", &l), 0);
	assert_false(l.move);
	assert_string_equal(l.base, "/system.slice/armvmd.service");
	assert_string_equal(l.supervisor, "/system.slice/armvmd.service/supervisor");
	assert_string_equal(l.vms, "/system.slice/armvmd.service/vms");

	/* a child of the root that happens to be called supervisor is a
	 * cgroup of its own, not the root's supervisor */
	assert_int_equal(cgroup_layout_for("/supervisor", &l), 0);
	assert_true(l.move);
	assert_string_equal(l.base, "/supervisor");
	assert_string_equal(l.vms, "/supervisor/vms");
	/* only the whole last name counts */
	assert_int_equal(cgroup_layout_for("/a/xsupervisor", &l), 0);
	assert_true(l.move);
	assert_string_equal(l.base, "/a/xsupervisor");

	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(cgroup_layout_for(longp, &l), -ENAMETOOLONG);
	/* fits, but not with "/supervisor" after it */
	longp[CGROUP_PATH_MAX - 5] = '\0';
	assert_int_equal(cgroup_layout_for(longp, &l), -ENAMETOOLONG);
}

static void test_vm_dirname(void **state)
{
	char d[64];

	assert_int_equal(cgroup_vm_dirname("g1", d, sizeof(d)), 0);
	assert_string_equal(d, "g1");
	assert_int_equal(cgroup_vm_dirname("web-01", d, sizeof(d)), 0);
	assert_string_equal(d, "web-01");
	/* what could be (or become) a kernel interface file */
	assert_int_equal(cgroup_vm_dirname("memory.max", d, sizeof(d)), 0);
	assert_string_equal(d, "_memory.max");
	assert_int_equal(cgroup_vm_dirname("cgroup.procs", d, sizeof(d)), 0);
	assert_string_equal(d, "_cgroup.procs");
	assert_int_equal(cgroup_vm_dirname("a.b", d, sizeof(d)), 0);
	assert_string_equal(d, "_a.b");
	/* a leading '_' is escaped too, so "_a.b" and "a.b" stay apart */
	assert_int_equal(cgroup_vm_dirname("_a.b", d, sizeof(d)), 0);
	assert_string_equal(d, "__a.b");
	assert_int_equal(cgroup_vm_dirname("_x", d, sizeof(d)), 0);
	assert_string_equal(d, "__x");
	/* not names */
	assert_int_equal(cgroup_vm_dirname("", d, sizeof(d)), -EINVAL);
	assert_int_equal(cgroup_vm_dirname("a/b", d, sizeof(d)), -EINVAL);
	assert_int_equal(cgroup_vm_dirname(".", d, sizeof(d)), -EINVAL);
	assert_int_equal(cgroup_vm_dirname("..", d, sizeof(d)), -EINVAL);
	/* the buffer */
	assert_int_equal(cgroup_vm_dirname("abc", d, 4), 0);
	assert_int_equal(cgroup_vm_dirname("abcd", d, 4), -ENAMETOOLONG);
	assert_int_equal(cgroup_vm_dirname("a.c", d, 4), -ENAMETOOLONG);
}

static void test_keyed(void **state)
{
	const char *events = "low 0\nhigh 5\nmax 7\noom 2\noom_kill 1\noom_group_kill 9\n";
	uint64_t v = 0;

	assert_int_equal(cgroup_parse_keyed(events, "oom_kill", &v), 0);
	assert_int_equal(v, 1);
	/* whole keys only: "oom" is not "oom_kill", nor the other way */
	assert_int_equal(cgroup_parse_keyed(events, "oom", &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(cgroup_parse_keyed(events, "oom_group_kill", &v), 0);
	assert_int_equal(v, 9);
	assert_int_equal(cgroup_parse_keyed(events, "kill", &v), -ENOENT);
	assert_int_equal(cgroup_parse_keyed("populated 1\nfrozen 0", "frozen", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(cgroup_parse_keyed("populated x\n", "populated", &v), -ENOENT);
	assert_int_equal(cgroup_parse_keyed("", "populated", &v), -ENOENT);
}

static void test_has_all(void **state)
{
	char miss[64];

	assert_true(cgroup_has_all("cpuset cpu io memory hugetlb pids rdma misc\n",
				   CGROUP_CONTROLLERS, miss, sizeof(miss)));
	assert_string_equal(miss, "");
	assert_false(cgroup_has_all("cpuset io memory\n", CGROUP_CONTROLLERS, miss, sizeof(miss)));
	assert_string_equal(miss, "pids cpu");
	/* "cpuset" is not "cpu" */
	assert_false(cgroup_has_all("cpuset memory pids", "cpu", miss, sizeof(miss)));
	assert_string_equal(miss, "cpu");
	assert_false(cgroup_has_all("", CGROUP_CONTROLLERS, miss, sizeof(miss)));
	assert_string_equal(miss, "memory pids cpu");
	assert_true(cgroup_has_all("memory", "", miss, sizeof(miss)));
}

/* ---- without a usable cgroup2 mount ---- */

static void assert_unusable(struct cgroup_base *cg)
{
	char msg[256], buf[64];

	assert_false(cg->ok);
	assert_true(cg->why[0] != '\0');
	msg[0] = '\0';
	assert_int_equal(cgroup_vm_create(cg, "g1", 1 << 20, 8, 100, msg, sizeof(msg)), -ENOTSUP);
	assert_non_null(strstr(msg, cg->why));
	assert_int_equal(cgroup_vm_path(cg, "g1", buf, sizeof(buf)), -ENOTSUP);
	assert_null(cgroup_vm_stats(cg, "g1"));
	cgroup_close(cg);
	cgroup_close(cg);	/* twice is fine */
}

static void test_init_not_cgroup2(void **state)
{
	char dir[] = "/tmp/armvmd-test-cgroup.XXXXXX";
	struct cgroup_base cg;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(cgroup_init_from(&cg, dir, "0::/\n", 0), -ENOTSUP);
	assert_non_null(strstr(cg.why, "not a cgroup2 mount"));
	assert_unusable(&cg);

	assert_int_equal(cgroup_init_from(&cg, "/nonexistent-armvmd", "0::/\n", 0), -ENOENT);
	assert_non_null(strstr(cg.why, "/nonexistent-armvmd"));
	assert_unusable(&cg);
	rmdir(dir);
}

/* ---- on a real cgroup v2 host ---- */

static const char *mnt(void)
{
	const char *m = getenv("ARMVMD_TEST_CGROUP_MOUNT");

	return m && *m ? m : CGROUP_MOUNT_DEFAULT;
}

static int rd(int dirfd, const char *name, char *buf, size_t len)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static int wr(int dirfd, const char *name, const char *text)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) < 0)
		r = -errno;
	close(fd);
	return r;
}

static void self_cgroup(char *text, size_t len)
{
	int fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, text, len - 1);
	assert_true(n > 0);
	text[n] = '\0';
	close(fd);
}

/*
 * What the real tests need; a reason to skip, or NULL.  *own is the test's
 * own cgroup; *delegated when it was delegated to us (then the test tree
 * is made in it, by cgroup_init itself).
 */
static const char *real_host(char *own, size_t len, bool *delegated, bool *systemd)
{
	static char why[300];
	char text[8192], ctl[128];
	struct statfs sfs;
	struct stat st;
	int fd;

	if (geteuid() != 0)
		return "not root";
	if (statfs(mnt(), &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC) {
		snprintf(why, sizeof(why), "%s is not a cgroup2 mount", mnt());
		return why;
	}
	self_cgroup(text, sizeof(text));
	if (cgroup_parse_self(text, own, len) < 0)
		return "no cgroup v2 path in /proc/self/cgroup";
	*systemd = lstat("/run/systemd/system", &st) == 0;
	*delegated = false;
	if (strcmp(own, "/")) {
		char path[CGROUP_PATH_MAX + 32], v[8] = "";

		snprintf(path, sizeof(path), "%s%s", mnt(), own);
		*delegated = (getxattr(path, "trusted.delegate", v, sizeof(v)) == 1 ||
			      getxattr(path, "user.delegate", v, sizeof(v)) == 1) && v[0] == '1';
		if (!*delegated) {
			snprintf(why, sizeof(why), "the test's cgroup %s is not delegated to it "
				 "(try systemd-run -p Delegate=yes --wait --pty)", own);
			return why;
		}
	} else if (*systemd) {
		return "in the root cgroup of a systemd host: not ours to use";
	}
	fd = open(mnt(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return "cannot open the mount";
	if (!strcmp(own, "/")) {
		char missing[64] = "?";

		if (rd(fd, "cgroup.controllers", ctl, sizeof(ctl)) < 0 ||
		    !cgroup_has_all(ctl, CGROUP_CONTROLLERS, missing, sizeof(missing))) {
			close(fd);
			snprintf(why, sizeof(why), "no %s for cgroup v2 in this kernel "
				 "(cgroup.controllers: \"%s\")", missing, ctl);
			return why;
		}
	}
	close(fd);
	return NULL;
}

static pid_t clone_into(int cgfd)
{
	struct clone_args args = {
		.flags = CLONE_INTO_CGROUP,
		.exit_signal = SIGCHLD,
		.cgroup = (uint64_t)cgfd,
	};

	return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

/* a VM cgroup: limits, a process in it, its figures, removal */
static void exercise_vm(struct cgroup_base *cg)
{
	char msg[256], path[CGROUP_PATH_MAX + 64], want[CGROUP_PATH_MAX + 80];
	char buf[256], text[8192];
	int cgfd, dfd, r, status, tries;
	int go[2];
	json_t *st;
	pid_t pid;

	/* a name with a dot: escaped */
	cgfd = cgroup_vm_create(cg, "t1.x", 64ull << 20, 2, 50, msg, sizeof(msg));
	if (cgfd < 0)
		print_message("cgroup_vm_create: %s\n", msg);
	assert_true(cgfd >= 0);
	assert_int_equal(cgroup_vm_path(cg, "t1.x", path, sizeof(path)), 0);
	snprintf(want, sizeof(want), "%s/_t1.x", cg->path);
	assert_string_equal(path, want);
	dfd = openat(cg->vms_fd, "_t1.x", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	assert_int_equal(rd(dfd, "memory.max", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "67108864");
	if (rd(dfd, "memory.swap.max", buf, sizeof(buf)) == 0)
		assert_string_equal(buf, "0");
	assert_int_equal(rd(dfd, "pids.max", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2");
	assert_int_equal(rd(dfd, "cpu.weight", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "50");

	/* a child cloned straight into it, as the daemon spawns a worker */
	assert_int_equal(pipe2(go, O_CLOEXEC), 0);
	pid = clone_into(cgfd);
	if (pid < 0 && errno == ENOSYS) {
		print_message("no clone3: fork and cgroup.procs instead\n");
		pid = fork();
		if (pid > 0) {
			char p[24];

			snprintf(p, sizeof(p), "%d", (int)pid);
			assert_int_equal(wr(dfd, "cgroup.procs", p), 0);
		}
	}
	assert_true(pid >= 0);
	if (pid == 0) {
		pid_t kids[3];
		int n = 0;
		char c;

		close(go[1]);
		/* pids.max 2: this one and one more */
		for (int i = 0; i < 3; i++) {
			pid_t k = fork();

			if (k == 0) {
				pause();
				_exit(0);
			}
			if (k > 0)
				kids[n++] = k;
		}
		(void)!read(go[0], &c, 1);
		for (int i = 0; i < n; i++) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
		}
		_exit(n);
	}
	close(go[0]);
	snprintf(buf, sizeof(buf), "/proc/%d/cgroup", (int)pid);
	{
		int fd = open(buf, O_RDONLY | O_CLOEXEC);
		ssize_t n;

		assert_true(fd >= 0);
		n = read(fd, text, sizeof(text) - 1);
		close(fd);
		assert_true(n > 0);
		text[n] = '\0';
	}
	snprintf(want, sizeof(want), "0::%s\n", path);
	assert_non_null(strstr(text, want));

	/* wait for the child's forks to be done: pids_current reaches 2 */
	for (tries = 0; tries < 200; tries++) {
		st = cgroup_vm_stats(cg, "t1.x");
		assert_non_null(st);
		r = (int)json_integer_value(json_object_get(st, "pids_current"));
		json_decref(st);
		if (r >= 2)
			break;
		usleep(10000);
	}
	st = cgroup_vm_stats(cg, "t1.x");
	assert_non_null(st);
	assert_string_equal(json_string_value(json_object_get(st, "path")), path);
	assert_int_equal(json_integer_value(json_object_get(st, "pids_current")), 2);
	assert_int_equal(json_integer_value(json_object_get(st, "pids_max")), 2);
	assert_int_equal(json_integer_value(json_object_get(st, "memory_max")), 64 << 20);
	assert_true(json_is_integer(json_object_get(st, "memory_current")));
	assert_int_equal(json_integer_value(json_object_get(st, "oom_kills")), 0);
	json_decref(st);

	/* busy while it runs; and not reused */
	assert_int_equal(cgroup_vm_remove(cg, "t1.x"), -EBUSY);
	assert_int_equal(cgroup_vm_create(cg, "t1.x", 0, 0, 0, msg, sizeof(msg)), -EBUSY);
	assert_non_null(strstr(msg, "still has processes"));

	/* the child: one fork allowed by pids.max, the others refused */
	close(go[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	close(cgfd);

	/* gone once empty (the kernel may lag a moment behind the exit) */
	for (tries = 0; tries < 300; tries++) {
		r = cgroup_vm_remove(cg, "t1.x");
		if (r != -EBUSY)
			break;
		usleep(10000);
	}
	assert_int_equal(r, 0);
	assert_int_equal(cgroup_vm_remove(cg, "t1.x"), 0);	/* none: fine */
	close(dfd);

	/* made again with the defaults, all written */
	cgfd = cgroup_vm_create(cg, "t1.x", 0, 0, 0, msg, sizeof(msg));
	assert_true(cgfd >= 0);
	dfd = openat(cg->vms_fd, "_t1.x", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	assert_int_equal(rd(dfd, "memory.max", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "max");
	assert_int_equal(rd(dfd, "pids.max", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "max");
	assert_int_equal(rd(dfd, "cpu.weight", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "100");
	st = cgroup_vm_stats(cg, "t1.x");
	assert_true(json_is_null(json_object_get(st, "memory_max")));
	json_decref(st);
	/* reuse of an empty one, with new limits */
	close(cgfd);
	cgfd = cgroup_vm_create(cg, "t1.x", 32ull << 20, 5, 10000, msg, sizeof(msg));
	assert_true(cgfd >= 0);
	assert_int_equal(rd(dfd, "memory.max", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "33554432");
	assert_int_equal(rd(dfd, "cpu.weight", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "10000");
	/* past the kernel's bound: its bound */
	close(cgfd);
	cgfd = cgroup_vm_create(cg, "t1.x", 0, 0, 20000, msg, sizeof(msg));
	assert_true(cgfd >= 0);
	assert_int_equal(rd(dfd, "cpu.weight", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "10000");
	close(cgfd);
	close(dfd);
	assert_int_equal(cgroup_vm_create(cg, "a/b", 0, 0, 0, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(cgroup_vm_remove(cg, "t1.x"), 0);
}

/* The daemon in a cgroup of its own: it moves into supervisor. */
static void test_real_delegated(void **state)
{
	char own[CGROUP_PATH_MAX], text[8192], test[64], sup[CGROUP_PATH_MAX + 96];
	char self[CGROUP_PATH_MAX + 8];
	bool delegated, systemd;
	struct cgroup_base cg;
	const char *why = real_host(own, sizeof(own), &delegated, &systemd);
	int root, tfd = -1;
	unsigned flags;

	if (why) {
		print_message("real cgroup test skipped: %s\n", why);
		skip();
	}
	/* a cgroup systemd delegated to the test is the top of a unit: the
	 * move is ours to allow */
	flags = delegated && systemd ? CGROUP_SYSTEMD | CGROUP_MOVE_SELF : 0;
	root = open(mnt(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(root >= 0);
	if (!delegated) {
		/* the root of a host without systemd: a test parent of our own,
		 * given the controllers from the root */
		snprintf(test, sizeof(test), "armvmd-test.%d", (int)getpid());
		assert_int_equal(wr(root, "cgroup.subtree_control", "+memory +pids +cpu"), 0);
		assert_int_equal(mkdirat(root, test, 0755), 0);
		tfd = openat(root, test, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		assert_true(tfd >= 0);
		assert_int_equal(wr(tfd, "cgroup.procs", "0"), 0);
		snprintf(self, sizeof(self), "0::/%s\n", test);
	} else {
		snprintf(self, sizeof(self), "0::%s\n", own);
	}

	assert_int_equal(cgroup_init_from(&cg, mnt(), self, flags), 0);
	assert_true(cg.ok);
	assert_true(cg.moved);
	self_cgroup(text, sizeof(text));
	snprintf(sup, sizeof(sup), "0::%s%s/supervisor\n", delegated ? own : "/",
		 delegated ? "" : test);
	assert_non_null(strstr(text, sup));
	snprintf(sup, sizeof(sup), "%s%s/vms", delegated ? own : "/", delegated ? "" : test);
	assert_string_equal(cg.path, sup);

	exercise_vm(&cg);

	/* init again from supervisor: no second move, the same tree */
	{
		struct cgroup_base cg2;
		char now[CGROUP_PATH_MAX + 96];

		snprintf(now, sizeof(now), "0::%s%s/supervisor\n",
			 delegated ? own : "/", delegated ? "" : test);
		assert_int_equal(cgroup_init_from(&cg2, mnt(), now, flags), 0);
		assert_false(cg2.moved);
		assert_string_equal(cg2.path, cg.path);
		cgroup_close(&cg2);
	}
	cgroup_close(&cg);

	if (!delegated) {
		/* back to the root, and the test tree away */
		assert_int_equal(wr(root, "cgroup.procs", "0"), 0);
		assert_int_equal(unlinkat(tfd, "vms", AT_REMOVEDIR), 0);
		assert_int_equal(unlinkat(tfd, "supervisor", AT_REMOVEDIR), 0);
		close(tfd);
		assert_int_equal(unlinkat(root, test, AT_REMOVEDIR), 0);
	} else {
		/* the delegated cgroup is ours: leave supervisor (we are in
		 * it), remove vms */
		int base = openat(root, own + 1, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		assert_true(base >= 0);
		assert_int_equal(unlinkat(base, "vms", AT_REMOVEDIR), 0);
		close(base);
	}
	close(root);
}

/* The root cgroup of a systemd host is systemd's: refused, nothing made. */
static void test_real_root_under_systemd(void **state)
{
	struct cgroup_base cg;
	struct statfs sfs;

	if (statfs(mnt(), &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC) {
		print_message("skipped: %s is not a cgroup2 mount\n", mnt());
		skip();
	}
	assert_int_equal(cgroup_init_from(&cg, mnt(), "0::/\n", CGROUP_SYSTEMD), -EPERM);
	assert_non_null(strstr(cg.why, "root cgroup of a systemd host"));
	cgroup_close(&cg);
}

/* A root cgroup of our own to make test cgroups in, controllers or not: a
 * reason to skip, or NULL. */
static const char *plain_root(void)
{
	static char why[160];
	char text[8192], own[CGROUP_PATH_MAX];
	struct statfs sfs;
	struct stat st;

	if (geteuid() != 0)
		return "not root";
	if (statfs(mnt(), &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC) {
		snprintf(why, sizeof(why), "%s is not a cgroup2 mount", mnt());
		return why;
	}
	if (lstat("/run/systemd/system", &st) == 0)
		return "systemd manages the tree";
	self_cgroup(text, sizeof(text));
	if (cgroup_parse_self(text, own, sizeof(own)) < 0 || strcmp(own, "/"))
		return "not in the root cgroup";
	return NULL;
}

/*
 * Under systemd: a cgroup without trusted.delegate is not the daemon's; a
 * delegated one with the daemon at its top is refused without
 * CGROUP_MOVE_SELF; from its supervisor the delegation checks pass.
 * Refused before anything moves.  Needs no controllers.
 */
static void test_real_delegation_marks(void **state)
{
	char test[64], self[128], path[CGROUP_PATH_MAX + 64], text[8192], before[8192];
	const char *why = plain_root();
	struct cgroup_base cg;
	int root, tfd, r;

	if (why) {
		print_message("real cgroup test skipped: %s\n", why);
		skip();
	}
	root = open(mnt(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(root >= 0);
	snprintf(test, sizeof(test), "armvmd-test-dm.%d", (int)getpid());
	assert_int_equal(mkdirat(root, test, 0755), 0);
	tfd = openat(root, test, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(tfd >= 0);
	snprintf(self, sizeof(self), "0::/%s\n", test);
	self_cgroup(before, sizeof(before));

	assert_int_equal(cgroup_init_from(&cg, mnt(), self, CGROUP_SYSTEMD), -EPERM);
	assert_non_null(strstr(cg.why, "not delegated"));
	cgroup_close(&cg);

	snprintf(path, sizeof(path), "%s/%s", mnt(), test);
	if (setxattr(path, "trusted.delegate", "1", 1, 0) < 0) {
		print_message("no trusted.delegate on %s (%s): the rest skipped\n",
			      path, strerror(errno));
	} else {
		assert_int_equal(cgroup_init_from(&cg, mnt(), self, CGROUP_SYSTEMD), -EBUSY);
		assert_non_null(strstr(cg.why, "DelegateSubgroup=supervisor"));
		cgroup_close(&cg);

		/* DelegateSubgroup=supervisor: past the checks; made, or
		 * stopped by the controllers this kernel lacks */
		assert_int_equal(mkdirat(tfd, "supervisor", 0755), 0);
		snprintf(self, sizeof(self), "0::/%s/supervisor\n", test);
		r = cgroup_init_from(&cg, mnt(), self, CGROUP_SYSTEMD);
		if (r < 0)
			print_message("from supervisor: %s\n", cg.why);
		assert_true(r == 0 || r == -ENOTSUP);
		assert_false(cg.moved);
		cgroup_close(&cg);
		if (r == 0)
			assert_int_equal(unlinkat(tfd, "vms", AT_REMOVEDIR), 0);
		assert_int_equal(unlinkat(tfd, "supervisor", AT_REMOVEDIR), 0);
	}
	self_cgroup(text, sizeof(text));
	assert_string_equal(text, before);
	close(tfd);
	assert_int_equal(unlinkat(root, test, AT_REMOVEDIR), 0);
	close(root);
}

/* The root layout for real, /armvmd/vms: only where asked. */
static void test_real_root_layout(void **state)
{
	char own[CGROUP_PATH_MAX];
	bool delegated, systemd;
	struct cgroup_base cg;
	const char *why = real_host(own, sizeof(own), &delegated, &systemd);
	const char *want = getenv("ARMVMD_TEST_CGROUP_ROOT");

	if (!why && (strcmp(own, "/") || !want || strcmp(want, "1")))
		why = "not asked for (ARMVMD_TEST_CGROUP_ROOT=1, in the root cgroup)";
	if (why) {
		print_message("root layout test skipped: %s\n", why);
		skip();
	}
	assert_int_equal(cgroup_init_from(&cg, mnt(), "0::/\n", 0), 0);
	assert_false(cg.moved);
	assert_string_equal(cg.path, "/armvmd/vms");
	exercise_vm(&cg);
	cgroup_close(&cg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_self),
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_vm_dirname),
		cmocka_unit_test(test_keyed),
		cmocka_unit_test(test_has_all),
		cmocka_unit_test(test_init_not_cgroup2),
		cmocka_unit_test(test_real_root_under_systemd),
		cmocka_unit_test(test_real_delegation_marks),
		cmocka_unit_test(test_real_delegated),
		cmocka_unit_test(test_real_root_layout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
