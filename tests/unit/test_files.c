// SPDX-License-Identifier: MIT
/*
 * Files opened as the caller (daemon/files.c): real permission refusals
 * (files made by root, opened as uid 65534), groups, types that are not
 * files, descriptors passed in the wrong mode, the thread's credentials
 * restored after every call, a uid's groups from the files, and TAPs
 * where the machine lets the test make them.  The permission cases need
 * root (as on CI) and are skipped without it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/if_tun.h>

#include "daemon/files.h"

#define NOBODY		65534
#define TEST_GID	4242		/* a group nobody is in */

static char top[64];

static void path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", top, name);
}

static void put(const char *name, mode_t mode, gid_t gid)
{
	char p[128];
	int fd;

	path_of(p, sizeof(p), name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "secret\n", 7), 7);
	if (geteuid() == 0)
		assert_int_equal(fchown(fd, 0, gid), 0);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static struct server_peer_cred cred(uid_t uid, gid_t gid, unsigned ngroups, const gid_t *groups)
{
	struct server_peer_cred c = { .pid = 1, .uid = uid, .gid = gid, .known = true };

	c.ngroups = ngroups;
	for (unsigned i = 0; i < ngroups; i++)
		c.groups[i] = groups[i];
	return c;
}

static const char *dstr(const struct files_refusal *why, const char *key)
{
	return json_string_value(json_object_get(why->data, key));
}

static json_int_t dint(const struct files_refusal *why, const char *key)
{
	json_t *v = json_object_get(why->data, key);

	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static void need_root(void)
{
	if (geteuid() != 0)
		skip();
}

/* the thread is root again, with exactly the groups it had */
static void assert_creds_back(const gid_t *groups, int n)
{
	gid_t now[64];
	int k = getgroups(64, now);

	assert_int_equal(setfsuid((uid_t)-1), 0);
	assert_int_equal(setfsgid((gid_t)-1), 0);
	assert_int_equal(k, n);
	assert_memory_equal(now, groups, (size_t)n * sizeof(gid_t));
}

static int setup(void **state)
{
	snprintf(top, sizeof(top), "/tmp/armvmd-test-files.XXXXXX");
	if (!mkdtemp(top))
		return -1;
	/* others may look in: the refusals below are the files' own */
	return chmod(top, 0755);
}

static int teardown(void **state)
{
	char cmd[96];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_root_only_file(void **state)
{
	/* groups of its own, to see them come back exactly */
	static const gid_t mine[] = { 0, 7, 100 };
	struct server_peer_cred nobody = cred(NOBODY, NOBODY, 0, NULL);
	struct server_peer_cred root = cred(0, 0, 0, NULL);
	struct files_refusal why = { 0 };
	char p[128];
	int fd, fl;

	need_root();
	assert_int_equal(syscall(SYS_setgroups, 3, mine), 0);
	put("shadow", 0600, 0);
	path_of(p, sizeof(p), "shadow");

	assert_int_equal(files_open_as(&nobody, "kernel", p, FILES_READ, NULL, &why), -1);
	assert_int_equal(why.code, ARMVM_E_PERMISSION);
	assert_string_equal(dstr(&why, "param"), "kernel");
	assert_string_equal(dstr(&why, "path"), p);
	assert_string_equal(dstr(&why, "mode"), "read");
	assert_int_equal(dint(&why, "uid"), NOBODY);
	assert_string_equal(dstr(&why, "errno"), "EACCES");
	assert_string_equal(dstr(&why, "reason"), "permission");
	assert_non_null(strstr(why.message, "kernel "));
	assert_non_null(strstr(why.message, p));
	assert_non_null(strstr(why.message, "uid 65534 cannot open it for reading"));
	assert_null(strstr(why.message, "secret"));
	files_refusal_clear(&why);
	assert_null(why.data);
	assert_creds_back(mine, 3);

	/* root opens it as root: blocking, close-on-exec */
	fd = files_open_as(&root, "kernel", p, FILES_READ_WRITE, NULL, &why);
	assert_true(fd >= 0);
	assert_null(why.data);
	fl = fcntl(fd, F_GETFL);
	assert_int_equal(fl & O_ACCMODE, O_RDWR);
	assert_false(fl & O_NONBLOCK);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	assert_creds_back(mine, 3);

	/* a directory in the way refuses the same */
	assert_int_equal(chmod(top, 0700), 0);
	assert_int_equal(files_open_as(&nobody, "initrd", p, FILES_READ, NULL, &why), -1);
	assert_int_equal(why.code, ARMVM_E_PERMISSION);
	assert_string_equal(dstr(&why, "errno"), "EACCES");
	files_refusal_clear(&why);
	assert_int_equal(chmod(top, 0755), 0);
	assert_creds_back(mine, 3);
}

static void test_read_only_file(void **state)
{
	struct server_peer_cred nobody = cred(NOBODY, NOBODY, 0, NULL);
	struct files_refusal why = { 0 };
	char p[128];
	int fd;

	need_root();
	put("image", 0644, 0);
	path_of(p, sizeof(p), "image");
	fd = files_open_as(&nobody, "disk 0", p, FILES_READ, NULL, &why);
	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	close(fd);

	assert_int_equal(files_open_as(&nobody, "disk 0", p, FILES_READ_WRITE, NULL, &why), -1);
	assert_int_equal(why.code, ARMVM_E_PERMISSION);
	assert_string_equal(dstr(&why, "mode"), "read-write");
	assert_string_equal(dstr(&why, "errno"), "EACCES");
	assert_non_null(strstr(why.message, "for reading and writing"));
	files_refusal_clear(&why);
	assert_int_equal(setfsuid((uid_t)-1), 0);
}

static void test_groups(void **state)
{
	static const gid_t in[] = { 100, TEST_GID };
	static const gid_t mine[] = { 0, TEST_GID };
	struct server_peer_cred member = cred(NOBODY, NOBODY, 2, in);
	struct server_peer_cred primary = cred(NOBODY, TEST_GID, 0, NULL);
	struct server_peer_cred outsider = cred(NOBODY, NOBODY, 1, in);
	struct files_refusal why = { 0 };
	char p[128];
	int fd;

	need_root();
	put("shared", 0640, TEST_GID);
	path_of(p, sizeof(p), "shared");

	/* through a supplementary group */
	fd = files_open_as(&member, "dtb", p, FILES_READ, NULL, &why);
	assert_true(fd >= 0);
	close(fd);
	/* through the primary one */
	fd = files_open_as(&primary, "dtb", p, FILES_READ, NULL, &why);
	assert_true(fd >= 0);
	close(fd);
	/* the group may read, not write */
	assert_int_equal(files_open_as(&member, "dtb", p, FILES_READ_WRITE, NULL, &why), -1);
	files_refusal_clear(&why);
	/* the daemon thread's own groups grant nothing: they are replaced */
	assert_int_equal(syscall(SYS_setgroups, 2, mine), 0);
	assert_int_equal(files_open_as(&outsider, "dtb", p, FILES_READ, NULL, &why), -1);
	assert_string_equal(dstr(&why, "reason"), "permission");
	files_refusal_clear(&why);
	assert_creds_back(mine, 2);
}

static void alarm_fail(int sig)
{
	(void)sig;
	/* an open that blocks: the test has failed */
	_exit(99);
}

static void test_not_files(void **state)
{
	/* the daemon's own user (root on CI): the types alone refuse */
	struct server_peer_cred root = cred(geteuid(), getegid(), 0, NULL);
	struct server_peer_cred nobody = cred(NOBODY, NOBODY, 0, NULL);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct files_refusal why = { 0 };
	char p[128];
	int s;

	/* a directory */
	assert_int_equal(files_open_as(&root, "kernel", top, FILES_READ, NULL, &why), -1);
	assert_int_equal(why.code, ARMVM_E_IMAGE);
	assert_string_equal(dstr(&why, "reason"), "not-a-file");
	assert_non_null(strstr(why.message, "a directory"));
	files_refusal_clear(&why);
	assert_int_equal(files_open_as(&root, "disk 1", top, FILES_READ_WRITE, NULL, &why), -1);
	assert_int_equal(why.code, ARMVM_E_INVALID_PARAMS);
	files_refusal_clear(&why);

	/* a FIFO nobody writes to: refused, and at once */
	path_of(p, sizeof(p), "fifo");
	assert_int_equal(mkfifo(p, 0666), 0);
	signal(SIGALRM, alarm_fail);
	alarm(10);
	assert_int_equal(files_open_as(&root, "initrd", p, FILES_READ, NULL, &why), -1);
	assert_string_equal(dstr(&why, "reason"), "not-a-file");
	assert_non_null(strstr(why.message, "a FIFO"));
	files_refusal_clear(&why);
	if (geteuid() == 0) {
		assert_int_equal(files_open_as(&nobody, "initrd", p, FILES_READ, NULL, &why), -1);
		assert_string_equal(dstr(&why, "reason"), "not-a-file");
		files_refusal_clear(&why);
	}
	alarm(0);
	signal(SIGALRM, SIG_DFL);

	/* a socket, a character device */
	path_of(sa.sun_path, sizeof(sa.sun_path), "sock");
	snprintf(p, sizeof(p), "%s", sa.sun_path);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(files_open_as(&root, "dtb", p, FILES_READ, NULL, &why), -1);
	assert_non_null(strstr(why.message, "a socket"));
	files_refusal_clear(&why);
	close(s);
	assert_int_equal(files_open_as(&root, "dtb", "/dev/null", FILES_READ, NULL, &why), -1);
	assert_string_equal(dstr(&why, "reason"), "not-a-file");
	assert_non_null(strstr(why.message, "a character device"));
	files_refusal_clear(&why);

	/* missing, relative, unknown caller */
	path_of(p, sizeof(p), "missing");
	assert_int_equal(files_open_as(&root, "kernel", p, FILES_READ, NULL, &why), -1);
	assert_int_equal(why.code, ARMVM_E_IMAGE);
	assert_string_equal(dstr(&why, "reason"), "missing");
	assert_string_equal(dstr(&why, "errno"), "ENOENT");
	files_refusal_clear(&why);
	assert_int_equal(files_open_as(&root, "kernel", "Image", FILES_READ, NULL, &why), -1);
	assert_int_equal(why.code, ARMVM_E_INVALID_PARAMS);
	assert_string_equal(dstr(&why, "reason"), "relative-path");
	files_refusal_clear(&why);
	root.known = false;
	assert_int_equal(files_open_as(&root, "kernel", "/etc/hostname", FILES_READ, NULL, &why),
			 -1);
	assert_int_equal(why.code, ARMVM_E_PERMISSION);
	assert_null(json_object_get(why.data, "uid"));
	files_refusal_clear(&why);
}

static const char *block_device(void)
{
	static const char *const cands[] = { "/dev/loop0", "/dev/ram0", "/dev/loop1" };
	struct stat st;

	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++)
		if (stat(cands[i], &st) == 0 && S_ISBLK(st.st_mode))
			return cands[i];
	return NULL;
}

static void test_block_device(void **state)
{
	struct server_peer_cred root = cred(0, 0, 0, NULL);
	struct files_policy allow = { .allow_block_devices = true };
	struct files_refusal why = { 0 };
	const char *dev = block_device();
	int fd;

	if (!dev || geteuid() != 0)
		skip();
	/* root too: block devices are the daemon's option, not the caller's */
	assert_int_equal(files_open_as(&root, "disk 0", dev, FILES_READ, NULL, &why), -1);
	assert_int_equal(why.code, ARMVM_E_PERMISSION);
	assert_string_equal(dstr(&why, "reason"), "block-device");
	assert_non_null(strstr(why.message, "--allow-block-devices"));
	files_refusal_clear(&why);

	fd = files_open_as(&root, "disk 0", dev, FILES_READ, &allow, &why);
	if (fd < 0 && why.data && !strcmp(dstr(&why, "reason"), "not-a-file")) {
		/* an unbound loop device may answer ENXIO */
		files_refusal_clear(&why);
		return;
	}
	assert_true(fd >= 0);
	assert_int_equal(files_check_fd(&root, "disk 0", fd, dev, FILES_READ, NULL, &why), -1);
	assert_string_equal(dstr(&why, "reason"), "block-device");
	files_refusal_clear(&why);
	assert_int_equal(files_check_fd(&root, "disk 0", fd, dev, FILES_READ, &allow, &why), 0);
	close(fd);
}

static void test_check_fd(void **state)
{
	struct server_peer_cred who = cred(1000, 1000, 0, NULL);
	struct files_refusal why = { 0 };
	char p[128];
	int ro, rw, wo, ap, pa, dir;

	put("disk", 0644, 0);
	path_of(p, sizeof(p), "disk");
	ro = open(p, O_RDONLY | O_CLOEXEC);
	rw = open(p, O_RDWR | O_CLOEXEC);
	wo = open(p, O_WRONLY | O_CLOEXEC);
	ap = open(p, O_RDWR | O_APPEND | O_CLOEXEC);
	pa = open(p, O_PATH | O_CLOEXEC);
	dir = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(ro >= 0 && rw >= 0 && wo >= 0 && ap >= 0 && pa >= 0 && dir >= 0);

	assert_int_equal(files_check_fd(&who, "disk 0", ro, p, FILES_READ, NULL, &why), 0);
	assert_int_equal(files_check_fd(&who, "disk 0", rw, p, FILES_READ, NULL, &why), 0);
	assert_int_equal(files_check_fd(&who, "disk 0", rw, p, FILES_READ_WRITE, NULL, &why), 0);
	assert_null(why.data);

	assert_int_equal(files_check_fd(&who, "disk 0", ro, p, FILES_READ_WRITE, NULL, &why), -1);
	assert_int_equal(why.code, ARMVM_E_INVALID_PARAMS);
	assert_string_equal(dstr(&why, "reason"), "fd-mode");
	assert_string_equal(dstr(&why, "mode"), "read-write");
	assert_string_equal(dstr(&why, "path"), p);
	assert_int_equal(dint(&why, "uid"), 1000);
	assert_non_null(strstr(why.message, "read-only"));
	files_refusal_clear(&why);

	assert_int_equal(files_check_fd(&who, "kernel", wo, "k", FILES_READ, NULL, &why), -1);
	assert_string_equal(dstr(&why, "reason"), "fd-mode");
	files_refusal_clear(&why);
	assert_int_equal(files_check_fd(&who, "kernel", pa, NULL, FILES_READ, NULL, &why), -1);
	assert_string_equal(dstr(&why, "reason"), "fd-mode");
	assert_string_equal(dstr(&why, "path"), "descriptor");
	files_refusal_clear(&why);
	assert_int_equal(files_check_fd(&who, "disk 0", ap, p, FILES_READ_WRITE, NULL, &why), -1);
	assert_non_null(strstr(why.message, "O_APPEND"));
	files_refusal_clear(&why);
	assert_int_equal(files_check_fd(&who, "disk 0", ap, p, FILES_READ, NULL, &why), 0);
	assert_int_equal(files_check_fd(&who, "dtb", dir, "d", FILES_READ, NULL, &why), -1);
	assert_int_equal(why.code, ARMVM_E_IMAGE);
	assert_string_equal(dstr(&why, "reason"), "not-a-file");
	files_refusal_clear(&why);
	assert_int_equal(files_check_fd(&who, "dtb", -1, "d", FILES_READ, NULL, &why), -1);
	assert_string_equal(dstr(&why, "reason"), "bad-fd");
	files_refusal_clear(&why);

	close(ro);
	close(rw);
	close(wo);
	close(ap);
	close(pa);
	close(dir);
}

static void test_cred_of_uid(void **state)
{
	struct server_peer_cred c;
	bool has0 = false;

	assert_int_equal(files_cred_of_uid(0, &c), 0);
	assert_true(c.known);
	assert_int_equal(c.uid, 0);
	assert_int_equal(c.gid, 0);
	for (unsigned i = 0; i < c.ngroups; i++)
		has0 |= c.groups[i] == 0;
	assert_true(has0);

	/* no passwd entry: its own number as the group, nothing else */
	assert_int_equal(files_cred_of_uid(3999999999u, &c), 0);
	assert_int_equal(c.uid, 3999999999u);
	assert_int_equal(c.gid, 3999999999u);
	assert_int_equal(c.ngroups, 0);
}

/* --- TAPs: only where /dev/net/tun and CAP_NET_ADMIN let the test --- */

static bool tap_usable(void)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	ok = ioctl(fd, TUNSETIFF, &ifr) == 0;
	close(fd);
	return ok;
}

static long sysfs_owner(const char *name)
{
	char p[96], text[32] = "";
	FILE *f;

	snprintf(p, sizeof(p), "/sys/class/net/%s/owner", name);
	f = fopen(p, "re");
	if (!f)
		return -2;
	if (!fgets(text, sizeof(text), f))
		text[0] = '\0';
	fclose(f);
	return strtol(text, NULL, 10);
}

static void test_tap(void **state)
{
	struct server_peer_cred nobody = cred(NOBODY, NOBODY, 0, NULL);
	struct server_peer_cred other = cred(NOBODY - 1, NOBODY - 1, 0, NULL);
	struct server_peer_cred root = cred(0, 0, 0, NULL);
	struct files_refusal why = { 0 };
	char name[IFNAMSIZ], got[IFNAMSIZ], pname[IFNAMSIZ];
	const char *allow[1];
	struct files_policy policy = { .allow_taps = allow, .n_allow_taps = 1 };
	struct ifreq ifr;
	int a, b, p;

	if (!tap_usable())
		skip();
	snprintf(name, sizeof(name), "avt%d", (int)(getpid() % 100000));
	snprintf(pname, sizeof(pname), "avp%d", (int)(getpid() % 100000));

	/* a missing one is made for the caller and goes with its fd */
	a = files_open_tap(&nobody, "net 0", name, NULL, got, &why);
	assert_true(a >= 0);
	assert_string_equal(got, name);
	assert_int_equal(sysfs_owner(name), NOBODY);

	/* someone else's: refused before it is touched */
	assert_int_equal(files_open_tap(&other, "net 0", name, NULL, got, &why), -1);
	assert_int_equal(why.code, ARMVM_E_PERMISSION);
	assert_string_equal(dstr(&why, "reason"), "not-owner");
	assert_string_equal(dstr(&why, "tap"), name);
	assert_string_equal(dstr(&why, "param"), "net 0");
	assert_int_equal(dint(&why, "uid"), NOBODY - 1);
	assert_int_equal(dint(&why, "owner"), NOBODY);
	files_refusal_clear(&why);
	/* its own, but in use */
	assert_int_equal(files_open_tap(&nobody, "net 0", name, NULL, got, &why), -1);
	assert_string_equal(dstr(&why, "reason"), "busy");
	files_refusal_clear(&why);
	close(a);
	assert_int_equal(sysfs_owner(name), -2);

	/* the kernel names it */
	a = files_open_tap(&nobody, "net 0", "", NULL, got, &why);
	assert_true(a >= 0);
	assert_int_equal(sysfs_owner(got), NOBODY);
	close(a);

	/* a persistent TAP of nobody's: nobody may, another only when allowed */
	p = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	assert_true(p >= 0);
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", pname);
	assert_int_equal(ioctl(p, TUNSETIFF, &ifr), 0);
	assert_int_equal(ioctl(p, TUNSETOWNER, (unsigned long)NOBODY), 0);
	assert_int_equal(ioctl(p, TUNSETPERSIST, 1UL), 0);
	close(p);

	b = files_open_tap(&nobody, "net 1", pname, NULL, got, &why);
	assert_true(b >= 0);
	close(b);
	assert_int_equal(files_open_tap(&other, "net 1", pname, NULL, got, &why), -1);
	assert_string_equal(dstr(&why, "reason"), "not-owner");
	files_refusal_clear(&why);
	allow[0] = pname;
	b = files_open_tap(&other, "net 1", pname, &policy, got, &why);
	assert_true(b >= 0);
	close(b);
	/* root may use any; it takes persistence off again */
	b = files_open_tap(&root, "net 1", pname, NULL, got, &why);
	assert_true(b >= 0);
	assert_int_equal(ioctl(b, TUNSETPERSIST, 0UL), 0);
	close(b);

	/* a name that is not an interface name, an interface that is no TAP */
	assert_int_equal(files_open_tap(&nobody, "net 0", "../x", NULL, got, &why), -1);
	assert_string_equal(dstr(&why, "reason"), "bad-name");
	files_refusal_clear(&why);
	assert_int_equal(files_open_tap(&nobody, "net 0", "lo", NULL, got, &why), -1);
	assert_string_equal(dstr(&why, "reason"), "not-a-tap");
	files_refusal_clear(&why);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_root_only_file),
		T(test_read_only_file),
		T(test_groups),
		T(test_not_files),
		T(test_block_device),
		T(test_check_fd),
		T(test_cred_of_uid),
		T(test_tap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
