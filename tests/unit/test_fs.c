// SPDX-License-Identifier: MIT
/*
 * The file system helpers: symlinks planted where a directory, a file or a
 * temporary was expected are never followed; failed writes (injected EIO,
 * short writes, failed fsync or close, and a real ENOSPC on a small tmpfs
 * when the test may mount one) leave the old file as it was.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/fs.h"

#define OTHER_UID	12345
#define OTHER_GID	23456

static char top[64];
static int topfd = -1;

static void path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", top, name);
}

static void put(const char *name, const char *text)
{
	int fd = openat(topfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void assert_content(int dirfd, const char *name, const char *text)
{
	size_t len = 0;
	int err = 0;
	char *buf = fs_read_at(dirfd, name, 1 << 20, &len, &err);

	assert_int_equal(err, 0);
	assert_non_null(buf);
	assert_int_equal(len, strlen(text));
	assert_string_equal(buf, text);
	free(buf);
}

static bool exists_at(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static int setup(void **state)
{
	snprintf(top, sizeof(top), "/tmp/armvmd-test-fs.XXXXXX");
	if (!mkdtemp(top))
		return -1;
	topfd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return topfd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	fs_set_test_ops(NULL);
	close(topfd);
	topfd = -1;
	return fs_remove_tree_at(AT_FDCWD, top);
}

static void test_opendir_at(void **state)
{
	int fd;

	assert_int_equal(mkdirat(topfd, "d", 0755), 0);
	assert_int_equal(symlinkat("d", topfd, "link"), 0);
	put("file", "x");
	fd = fs_opendir_at(topfd, "d");
	assert_true(fd >= 0);
	close(fd);
	fd = fs_opendir_at(topfd, "link");
	assert_true(fd == -ELOOP || fd == -ENOTDIR);
	assert_int_equal(fs_opendir_at(topfd, "file"), -ENOTDIR);
	assert_int_equal(fs_opendir_at(topfd, "missing"), -ENOENT);
	fd = fs_opendir_at(AT_FDCWD, top);
	assert_true(fd >= 0);
	close(fd);
}

static void test_mkdir_open_at(void **state)
{
	struct stat st;
	mode_t old = umask(077);
	int fd;

	fd = fs_mkdir_open_at(topfd, "new", 0751);
	umask(old);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0751);	/* not the umask's */
	close(fd);
	/* existing: fine, mode left alone */
	assert_int_equal(fchmodat(topfd, "new", 0700, 0), 0);
	fd = fs_mkdir_open_at(topfd, "new", 0755);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	close(fd);
	/* a symlink to a directory where one is wanted: refused, target untouched */
	assert_int_equal(mkdirat(topfd, "target", 0700), 0);
	assert_int_equal(symlinkat("target", topfd, "swapped"), 0);
	fd = fs_mkdir_open_at(topfd, "swapped", 0755);
	assert_true(fd == -ELOOP || fd == -ENOTDIR);
	assert_int_equal(fstatat(topfd, "target", &st, 0), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	/* a dangling symlink: nothing created at its target */
	assert_int_equal(symlinkat("nowhere", topfd, "dangling"), 0);
	fd = fs_mkdir_open_at(topfd, "dangling", 0755);
	assert_true(fd == -ELOOP || fd == -ENOTDIR);
	assert_false(exists_at(topfd, "nowhere"));
	put("file", "x");
	assert_int_equal(fs_mkdir_open_at(topfd, "file", 0755), -ENOTDIR);
}

static void test_write_atomic(void **state)
{
	struct stat st;

	assert_int_equal(fs_write_atomic_at(topfd, "a.json", "one", 3, 0600), 0);
	assert_content(topfd, "a.json", "one");
	assert_int_equal(fstatat(topfd, "a.json", &st, 0), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(fs_write_atomic_at(topfd, "a.json", "two!", 4, 0640), 0);
	assert_content(topfd, "a.json", "two!");
	assert_int_equal(fstatat(topfd, "a.json", &st, 0), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_false(exists_at(topfd, ".a.json.tmp"));
	/* empty */
	assert_int_equal(fs_write_atomic_at(topfd, "empty", "", 0, 0600), 0);
	assert_content(topfd, "empty", "");
	/* a stale temporary is replaced */
	put(".a.json.tmp", "stale");
	assert_int_equal(fs_write_atomic_at(topfd, "a.json", "three", 5, 0600), 0);
	assert_content(topfd, "a.json", "three");
	assert_false(exists_at(topfd, ".a.json.tmp"));
	/* names that are not one component */
	assert_int_equal(fs_write_atomic_at(topfd, "x/y", "z", 1, 0600), -EINVAL);
	assert_int_equal(fs_write_atomic_at(topfd, "", "z", 1, 0600), -EINVAL);
	assert_int_equal(fs_write_atomic_at(topfd, "..", "z", 1, 0600), -EINVAL);
}

static void test_write_atomic_symlinks(void **state)
{
	struct stat st;

	/* the temporary planted as a symlink to a victim: the link goes, the
	 * victim stays as it was */
	put("victim", "precious");
	assert_int_equal(symlinkat("victim", topfd, ".b.json.tmp"), 0);
	assert_int_equal(fs_write_atomic_at(topfd, "b.json", "new", 3, 0600), 0);
	assert_content(topfd, "victim", "precious");
	assert_content(topfd, "b.json", "new");
	/* the file itself a symlink: replaced by a regular file, target kept */
	assert_int_equal(symlinkat("victim", topfd, "c.json"), 0);
	assert_int_equal(fs_write_atomic_at(topfd, "c.json", "mine", 4, 0600), 0);
	assert_int_equal(fstatat(topfd, "c.json", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_content(topfd, "victim", "precious");
	assert_content(topfd, "c.json", "mine");
	/* a directory where the file should be: an error, nothing else */
	assert_int_equal(mkdirat(topfd, "d.json", 0700), 0);
	assert_true(fs_write_atomic_at(topfd, "d.json", "x", 1, 0600) < 0);
	assert_false(exists_at(topfd, ".d.json.tmp"));
}

/* fault injection */
static int fail_write_errno, fail_fsync_errno, fail_close_errno, fail_dirsync_errno;
static size_t write_piece;	/* short writes of at most this, when set */
static size_t write_budget;	/* ENOSPC once this much is written, when set */
static size_t written;
static unsigned writes;

static ssize_t inj_write(int fd, const void *buf, size_t len)
{
	writes++;
	if (fail_write_errno) {
		errno = fail_write_errno;
		return -1;
	}
	if (write_piece && len > write_piece)
		len = write_piece;
	if (write_budget) {
		if (written >= write_budget) {
			errno = ENOSPC;
			return -1;
		}
		if (len > write_budget - written)
			len = write_budget - written;
	}
	ssize_t n = write(fd, buf, len);

	if (n > 0)
		written += (size_t)n;
	return n;
}

static int inj_fsync(int fd)
{
	struct stat st;
	bool dir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);

	if (dir && fail_dirsync_errno) {
		errno = fail_dirsync_errno;
		return -1;
	}
	if (!dir && fail_fsync_errno) {
		errno = fail_fsync_errno;
		return -1;
	}
	return fsync(fd);
}

static int inj_close(int fd)
{
	close(fd);		/* the fd is gone either way, as on Linux */
	if (fail_close_errno) {
		errno = fail_close_errno;
		return -1;
	}
	return 0;
}

static const struct fs_test_ops inj_ops = {
	.write = inj_write, .fsync = inj_fsync, .close = inj_close,
};

static void inj_reset(void)
{
	fail_write_errno = fail_fsync_errno = fail_close_errno = fail_dirsync_errno = 0;
	write_piece = write_budget = written = 0;
	writes = 0;
	fs_set_test_ops(&inj_ops);
}

/* the new text does not land, the old stays, no temporary is left */
static void assert_failed_save(int expect)
{
	static const char text[] = "{\"version\": 1, \"the new\": \"definition\"}\n";

	assert_int_equal(fs_write_atomic_at(topfd, "vm.json", text, sizeof(text) - 1, 0600),
			 expect);
	assert_content(topfd, "vm.json", "old definition");
	assert_false(exists_at(topfd, ".vm.json.tmp"));
}

static void test_write_atomic_failures(void **state)
{
	static char big[10000];

	put("vm.json", "old definition");

	inj_reset();
	fail_write_errno = EIO;
	assert_failed_save(-EIO);

	inj_reset();
	fail_write_errno = ENOSPC;
	assert_failed_save(-ENOSPC);

	/* some bytes written, then the disk is full */
	inj_reset();
	write_piece = 7;
	write_budget = 20;
	assert_failed_save(-ENOSPC);
	assert_true(writes > 2);

	inj_reset();
	fail_fsync_errno = EIO;
	assert_failed_save(-EIO);

	inj_reset();
	fail_close_errno = EIO;
	assert_failed_save(-EIO);

	inj_reset();
	fail_write_errno = EDQUOT;
	assert_failed_save(-EDQUOT);

	/* short writes are continued, not taken for the end */
	inj_reset();
	write_piece = 3;
	memset(big, 'b', sizeof(big) - 1);
	assert_int_equal(fs_write_atomic_at(topfd, "big", big, sizeof(big) - 1, 0600), 0);
	assert_true(writes >= (sizeof(big) - 1) / 3);
	assert_content(topfd, "big", big);

	/* the rename happened but the directory did not sync: told, the new
	 * file stays (there is no going back after a rename) */
	inj_reset();
	fail_dirsync_errno = EIO;
	assert_int_equal(fs_write_atomic_at(topfd, "vm.json", "newer", 5, 0600), -EIO);
	assert_content(topfd, "vm.json", "newer");
	assert_false(exists_at(topfd, ".vm.json.tmp"));
	fs_set_test_ops(NULL);
}

/* A real full file system: a 64 KiB tmpfs in a mount namespace of our own
 * (needs root, and a single-threaded process: not under qemu-user). */
static void test_write_atomic_enospc_tmpfs(void **state)
{
	char mnt[PATH_MAX];
	size_t big_len = 256 << 10;
	char *big;
	int fd;

	if (unshare(CLONE_NEWNS) < 0) {
		print_message("no mount namespace (%s): skipped\n", strerror(errno));
		skip();
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		skip();
	path_of(mnt, sizeof(mnt), "small");
	assert_int_equal(mkdir(mnt, 0700), 0);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=64k,mode=0700") < 0) {
		print_message("cannot mount a tmpfs (%s): skipped\n", strerror(errno));
		skip();
	}
	fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(fs_write_atomic_at(fd, "vm.json", "old definition", 14, 0600), 0);
	big = malloc(big_len);
	assert_non_null(big);
	memset(big, 'x', big_len);
	assert_int_equal(fs_write_atomic_at(fd, "vm.json", big, big_len, 0600), -ENOSPC);
	assert_content(fd, "vm.json", "old definition");
	assert_false(exists_at(fd, ".vm.json.tmp"));
	/* and the space came back: a save that fits works again */
	assert_int_equal(fs_write_atomic_at(fd, "vm.json", big, 16 << 10, 0600), 0);
	free(big);
	close(fd);
	assert_int_equal(umount(mnt), 0);
}

static void test_read_at(void **state)
{
	size_t len = 99;
	int err = 0;
	char *buf;

	put("f", "hello");
	buf = fs_read_at(topfd, "f", 5, &len, &err);
	assert_non_null(buf);
	assert_int_equal(len, 5);
	assert_string_equal(buf, "hello");
	free(buf);
	assert_null(fs_read_at(topfd, "f", 4, &len, &err));
	assert_int_equal(err, -EFBIG);
	put("empty", "");
	buf = fs_read_at(topfd, "empty", 0, &len, &err);
	assert_non_null(buf);
	assert_int_equal(len, 0);
	assert_int_equal(buf[0], '\0');
	free(buf);
	assert_int_equal(symlinkat("f", topfd, "link"), 0);
	assert_null(fs_read_at(topfd, "link", 100, &len, &err));
	assert_int_equal(err, -ELOOP);
	/* a FIFO is refused without waiting for a writer */
	assert_int_equal(mkfifoat(topfd, "fifo", 0600), 0);
	assert_null(fs_read_at(topfd, "fifo", 100, &len, &err));
	assert_int_equal(err, -EINVAL);
	assert_int_equal(mkdirat(topfd, "dir", 0700), 0);
	assert_null(fs_read_at(topfd, "dir", 100, &len, &err));
	assert_int_equal(err, -EINVAL);
	assert_null(fs_read_at(topfd, "missing", 100, &len, &err));
	assert_int_equal(err, -ENOENT);
}

static void test_remove_tree(void **state)
{
	int d;

	/* outside the tree: must survive */
	assert_int_equal(mkdirat(topfd, "outside", 0700), 0);
	put("outside/keep", "precious");
	put("keepfile", "precious");

	assert_int_equal(mkdirat(topfd, "tree", 0700), 0);
	assert_int_equal(mkdirat(topfd, "tree/sub", 0700), 0);
	assert_int_equal(mkdirat(topfd, "tree/sub/deeper", 0700), 0);
	put("tree/a", "1");
	put("tree/sub/b", "2");
	put("tree/sub/deeper/c", "3");
	assert_int_equal(symlinkat("../outside", topfd, "tree/dirlink"), 0);
	assert_int_equal(symlinkat("../../keepfile", topfd, "tree/sub/filelink"), 0);
	assert_int_equal(mkfifoat(topfd, "tree/fifo", 0600), 0);
	assert_int_equal(fs_remove_tree_at(topfd, "tree"), 0);
	assert_false(exists_at(topfd, "tree"));
	assert_content(topfd, "outside/keep", "precious");
	assert_content(topfd, "keepfile", "precious");

	/* the tree itself a symlink: the link goes, not what it points at */
	assert_int_equal(symlinkat("outside", topfd, "swapped"), 0);
	assert_int_equal(fs_remove_tree_at(topfd, "swapped"), 0);
	assert_false(exists_at(topfd, "swapped"));
	assert_content(topfd, "outside/keep", "precious");

	assert_int_equal(fs_remove_tree_at(topfd, "missing"), -ENOENT);
	assert_int_equal(fs_remove_tree_at(topfd, "."), -EINVAL);
	assert_int_equal(fs_remove_tree_at(topfd, "outside/keep"), -EINVAL);

	/* too deep to be ours: refused, and what it could reach is gone */
	d = fs_mkdir_open_at(topfd, "deep", 0700);
	assert_true(d >= 0);
	for (int i = 0; i < 20; i++) {
		int n = fs_mkdir_open_at(d, "d", 0700);

		assert_true(n >= 0);
		close(d);
		d = n;
	}
	close(d);
	assert_int_equal(fs_remove_tree_at(topfd, "deep"), -ELOOP);
	assert_true(exists_at(topfd, "deep"));
	for (int i = 20; i >= 0; i--) {
		char p[PATH_MAX] = "deep";

		for (int k = 0; k < i; k++)
			strcat(p, "/d");
		assert_int_equal(unlinkat(topfd, p, AT_REMOVEDIR), 0);
	}

	/* by path */
	assert_int_equal(mkdirat(topfd, "bypath", 0700), 0);
	put("bypath/x", "1");
	{
		char p[PATH_MAX];

		path_of(p, sizeof(p), "bypath");
		assert_int_equal(fs_remove_tree_at(AT_FDCWD, p), 0);
	}
	assert_false(exists_at(topfd, "bypath"));
}

static void test_share(void **state)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	bool root = geteuid() == 0;
	gid_t gid = root ? OTHER_GID : getegid();
	char p[PATH_MAX];
	struct stat st;
	int s;

	put("file", "x");
	assert_int_equal(mkdirat(topfd, "dir", 0700), 0);
	path_of(addr.sun_path, sizeof(addr.sun_path), "sock");
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&addr, sizeof(addr)), 0);

	assert_int_equal(fs_share_at(topfd, "file", gid, 0640), 0);
	assert_int_equal(fstatat(topfd, "file", &st, 0), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_gid, gid);
	assert_int_equal(fs_share_at(topfd, "dir", gid, 0750), 0);
	assert_int_equal(fstatat(topfd, "dir", &st, 0), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(st.st_gid, gid);
	assert_int_equal(fs_share_at(topfd, "sock", gid, 0660), 0);
	assert_int_equal(fstatat(topfd, "sock", &st, 0), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(st.st_gid, gid);
	close(s);

	/* a symlink where the socket was: refused, its target unchanged */
	put("victim", "x");
	assert_int_equal(fchmodat(topfd, "victim", 0600, 0), 0);
	assert_int_equal(symlinkat("victim", topfd, "link"), 0);
	assert_int_equal(fs_share_at(topfd, "link", gid, 0666), -ELOOP);
	path_of(p, sizeof(p), "link");
	assert_int_equal(share_with_group(p, gid, 0666), -ELOOP);
	assert_int_equal(fstatat(topfd, "victim", &st, 0), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_gid, getegid());

	/* by path, the old way */
	path_of(p, sizeof(p), "file");
	assert_int_equal(share_with_group(p, gid, 0604), 0);
	assert_int_equal(fstatat(topfd, "file", &st, 0), 0);
	assert_int_equal(st.st_mode & 07777, 0604);
	assert_int_equal(fs_share_at(topfd, "missing", gid, 0600), -ENOENT);
}

static void test_mkdir_p(void **state)
{
	char p[PATH_MAX];
	struct stat st;

	path_of(p, sizeof(p), "a/b//c/");
	assert_int_equal(mkdir_p(p, 0700), 0);
	assert_int_equal(fstatat(topfd, "a/b/c", &st, 0), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(fstatat(topfd, "a/b", &st, 0), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_int_equal(mkdir_p(p, 0700), 0);	/* again: fine */

	/* a file in the way */
	put("a/file", "x");
	path_of(p, sizeof(p), "a/file/sub");
	assert_int_equal(mkdir_p(p, 0700), -ENOTDIR);

	/* our own symlink in a directory only we can change: followed
	 * (the /var/run -> /run case) */
	assert_int_equal(mkdirat(topfd, "real", 0755), 0);
	assert_int_equal(symlinkat("real", topfd, "trusted"), 0);
	path_of(p, sizeof(p), "trusted/x");
	assert_int_equal(mkdir_p(p, 0700), 0);
	assert_true(exists_at(topfd, "real/x"));

	/* the same symlink in a directory others may write: refused */
	assert_int_equal(mkdirat(topfd, "open", 0777), 0);
	assert_int_equal(fchmodat(topfd, "open", 0777, 0), 0);
	assert_int_equal(symlinkat("../real", topfd, "open/link"), 0);
	path_of(p, sizeof(p), "open/link/y");
	assert_true(mkdir_p(p, 0700) < 0);
	assert_false(exists_at(topfd, "real/y"));

	/* a symlink somebody else made: refused, nothing made at its target */
	if (geteuid() == 0) {
		assert_int_equal(symlinkat("real", topfd, "planted"), 0);
		assert_int_equal(fchownat(topfd, "planted", OTHER_UID, OTHER_GID,
					  AT_SYMLINK_NOFOLLOW), 0);
		path_of(p, sizeof(p), "planted/z");
		assert_true(mkdir_p(p, 0700) < 0);
		assert_false(exists_at(topfd, "real/z"));
		/* and as the last component */
		path_of(p, sizeof(p), "planted");
		assert_true(mkdir_p(p, 0700) < 0);
	}
}

static void test_check_private_dir(void **state)
{
	char p[PATH_MAX], why[256];

	path_of(p, sizeof(p), "priv");
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(fs_check_private_dir(p, why, sizeof(why)), 0);

	assert_int_equal(chmod(p, 0777), 0);
	assert_int_equal(fs_check_private_dir(p, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "writable by its group and others (mode 0777)"));
	assert_non_null(strstr(why, p));
	assert_int_equal(chmod(p, 0775), 0);
	assert_int_equal(fs_check_private_dir(p, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "writable by its group (mode 0775)"));
	assert_int_equal(chmod(p, 01757), 0);
	assert_int_equal(fs_check_private_dir(p, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "writable by others"));
	assert_int_equal(chmod(p, 0700), 0);

	if (geteuid() == 0) {
		assert_int_equal(chown(p, OTHER_UID, 0), 0);
		assert_int_equal(fs_check_private_dir(p, why, sizeof(why)), -EPERM);
		assert_non_null(strstr(why, "is owned by uid 12345, not root"));
		assert_int_equal(chown(p, 0, 0), 0);
	}

	path_of(p, sizeof(p), "symlinked");
	assert_int_equal(symlinkat("priv", topfd, "symlinked"), 0);
	assert_int_equal(fs_check_private_dir(p, why, sizeof(why)), -ELOOP);
	assert_non_null(strstr(why, "is a symlink"));

	put("file", "x");
	path_of(p, sizeof(p), "file");
	assert_int_equal(fs_check_private_dir(p, why, sizeof(why)), -ENOTDIR);
	assert_non_null(strstr(why, "is not a directory"));

	path_of(p, sizeof(p), "missing");
	assert_int_equal(fs_check_private_dir(p, why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, "missing"));
	assert_int_equal(fs_check_private_dir(p, NULL, 0), -ENOENT);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_opendir_at),
		T(test_mkdir_open_at),
		T(test_write_atomic),
		T(test_write_atomic_symlinks),
		T(test_write_atomic_failures),
		T(test_read_at),
		T(test_remove_tree),
		T(test_share),
		T(test_mkdir_p),
		T(test_check_private_dir),
		/* last: it moves the process into a mount namespace of its own */
		T(test_write_atomic_enospc_tmpfs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
