// SPDX-License-Identifier: MIT
/*
 * File system helpers.  The daemon runs as root in directories that other
 * processes may write into (workers, and once they are confined, less
 * trusted ones), so nothing here follows a symlink it did not expect:
 * every step is an openat/mkdirat/unlinkat relative to a directory fd,
 * with O_NOFOLLOW where a name is opened.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"
#include "util/log.h"

/* deeper trees in a VM's runtime directory are not ours: refuse them */
#define FS_TREE_DEPTH_MAX	16

static const struct fs_test_ops real_ops = {
	.write = write,
	.fsync = fsync,
	.close = close,
};
static const struct fs_test_ops *ops = &real_ops;

void fs_set_test_ops(const struct fs_test_ops *test_ops)
{
	ops = test_ops ? test_ops : &real_ops;
}

/* -errno, never 0 (an injected failure may leave errno alone) */
static int neg_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}

/* a single path component: not empty, no '/', not . or .. */
static bool plain_name(const char *name)
{
	return *name && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
}

int fs_opendir_at(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int fs_mkdir_open_at(int dirfd, const char *name, mode_t mode)
{
	bool made = mkdirat(dirfd, name, mode) == 0;
	int fd, r;

	if (!made && errno != EEXIST)
		return -errno;
	fd = fs_opendir_at(dirfd, name);
	/* what we made has exactly the mode asked for, whatever the umask */
	if (fd >= 0 && made && fchmod(fd, mode) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* Can nobody but root and us change the entries of directory fd
 * (AT_FDCWD: of the directory a first component is looked up in)? */
static bool dir_is_trusted(int fd, const char *name)
{
	struct stat st;
	int r = fd == AT_FDCWD ? stat(name[0] == '/' ? "/" : ".", &st) : fstat(fd, &st);

	return r == 0 && (st.st_uid == 0 || st.st_uid == geteuid()) &&
	       !(st.st_mode & (S_IWGRP | S_IWOTH));
}

/* One component of mkdir_p: a directory fd, or -errno. */
static int mkdir_step(int cur, const char *name, mode_t mode)
{
	struct stat st;
	int fd = fs_mkdir_open_at(cur, name, mode);

	if (fd != -ELOOP && fd != -ENOTDIR)
		return fd;
	/*
	 * A symlink that only root (or we) could have made, in a directory
	 * only root (or we) can change, is the system's (/var/run -> /run):
	 * follow it.  Anything else is refused.
	 */
	if (fstatat(cur, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISLNK(st.st_mode) ||
	    (st.st_uid != 0 && st.st_uid != geteuid()) || !dir_is_trusted(cur, name))
		return fd;
	fd = openat(cur, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int mkdir_p(const char *dir, mode_t mode)
{
	char buf[PATH_MAX];
	char *p, *next;
	int cur = AT_FDCWD;

	if (snprintf(buf, sizeof(buf), "%s", dir) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	if (!buf[0])
		return -ENOENT;
	/*
	 * The first component is looked up by its path ("/run", not "run"
	 * under an fd of "/"): the same to the kernel, and qemu-user's -L
	 * prefix maps "/" itself elsewhere.  Every later one under the fd of
	 * the one before.
	 */
	for (p = buf; *p; p = next) {
		bool last = true;
		int fd;

		if (cur != AT_FDCWD)
			while (*p == '/')
				p++;
		next = p + strspn(p, "/");
		if (!*next)
			break;		/* only slashes left: "/" itself */
		next = strchr(next, '/');
		if (next)
			*next++ = '\0';
		else
			next = p + strlen(p);
		for (const char *q = next; *q; q++)
			if (*q != '/')
				last = false;
		if (!strcmp(p + strspn(p, "/"), ".") && cur != AT_FDCWD)
			continue;
		fd = mkdir_step(cur, p, last ? mode : 0755);
		if (cur != AT_FDCWD)
			close(cur);
		if (fd < 0)
			return fd;
		cur = fd;
	}
	if (cur != AT_FDCWD)
		close(cur);
	return 0;
}

static int write_replace(int dirfd, const char *name, const void *buf, size_t len,
			 mode_t mode, bool sync);

int fs_write_atomic_at(int dirfd, const char *name, const void *buf, size_t len,
		       mode_t mode)
{
	return write_replace(dirfd, name, buf, len, mode, true);
}

int fs_write_replace_at(int dirfd, const char *name, const void *buf, size_t len,
			mode_t mode)
{
	return write_replace(dirfd, name, buf, len, mode, false);
}

static int write_replace(int dirfd, const char *name, const void *buf, size_t len,
			 mode_t mode, bool sync)
{
	char tmp[NAME_MAX + 1];
	const char *p = buf;
	size_t off = 0;
	int fd, r = 0;

	if (!plain_name(name))
		return -EINVAL;
	if (snprintf(tmp, sizeof(tmp), ".%s.tmp", name) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	/* a temporary left by a write that never finished */
	if (unlinkat(dirfd, tmp, 0) < 0 && errno != ENOENT)
		return -errno;
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    mode & 07777);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, mode & 07777) < 0)
		r = -errno;
	while (!r && off < len) {
		ssize_t n = ops->write(fd, p + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			r = neg_errno();
		else if (n == 0)
			r = -EIO;	/* no progress and no reason: do not spin */
		else
			off += (size_t)n;
	}
	if (!r && sync && ops->fsync(fd) < 0)
		r = neg_errno();
	/* a failed close can be the first word of a failed write (NFS) */
	if (ops->close(fd) < 0 && !r)
		r = neg_errno();
	if (!r && renameat(dirfd, tmp, dirfd, name) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(dirfd, tmp, 0);
		return r;
	}
	if (sync && ops->fsync(dirfd) < 0) {
		r = neg_errno();
		log_error("%s was replaced, but syncing its directory failed (%s): "
			  "the change may not survive a crash", name, strerror(-r));
		return r;
	}
	return 0;
}

char *fs_read_at(int dirfd, const char *name, size_t max, size_t *len, int *err)
{
	size_t lim = max > SIZE_MAX - 2 ? SIZE_MAX : max + 2;
	size_t cap, n = 0;
	char *buf = NULL;
	struct stat st;
	int fd, r = 0;

	/* O_NONBLOCK: opening a FIFO must not wait for a writer */
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		r = -EFBIG;
		goto out;
	}
	/* room for the NUL and for one byte more, to see the end at once */
	cap = (size_t)st.st_size + 2;
	buf = malloc(cap);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t k;

		if (n + 1 == cap) {
			size_t ncap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
			char *nb;

			if (n > max) {
				r = -EFBIG;	/* it grew while we read it */
				goto out;
			}
			if (ncap > lim)
				ncap = lim;
			nb = realloc(buf, ncap);
			if (!nb) {
				r = -ENOMEM;
				goto out;
			}
			buf = nb;
			cap = ncap;
		}
		k = read(fd, buf + n, cap - 1 - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = -errno;
			goto out;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	if (n > max) {
		r = -EFBIG;
		goto out;
	}
	buf[n] = '\0';
	if (len)
		*len = n;
out:
	if (fd >= 0)
		close(fd);
	if (r < 0) {
		free(buf);
		buf = NULL;
	}
	if (err)
		*err = r;
	return buf;
}

static int remove_tree(int dirfd, const char *name, int depth)
{
	struct dirent *de;
	DIR *dh;
	int fd, r = 0;

	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK |
		    O_CLOEXEC);
	if (fd < 0) {
		/* a symlink or a file where a directory was: unlink that */
		if (errno == ENOTDIR || errno == ELOOP)
			return unlinkat(dirfd, name, 0) < 0 ? -errno : 0;
		return -errno;
	}
	if (depth >= FS_TREE_DEPTH_MAX) {
		close(fd);
		return -ELOOP;
	}
	dh = fdopendir(fd);
	if (!dh) {
		r = -errno;
		close(fd);
		return r;
	}
	for (;;) {
		int q;

		errno = 0;
		de = readdir(dh);
		if (!de) {
			if (errno && !r)
				r = -errno;
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (de->d_type == DT_DIR) {
			q = remove_tree(fd, de->d_name, depth + 1);
		} else {
			q = unlinkat(fd, de->d_name, 0) < 0 ? -errno : 0;
			if (q == -EISDIR || q == -EPERM)	/* DT_UNKNOWN */
				q = remove_tree(fd, de->d_name, depth + 1);
		}
		if (q < 0 && q != -ENOENT && !r)
			r = q;
	}
	closedir(dh);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && !r)
		r = -errno;
	return r;
}

int fs_remove_tree_at(int dirfd, const char *name)
{
	/* a path only from the current directory; under a dirfd, one name */
	if (!*name || !strcmp(name, ".") || !strcmp(name, "..") ||
	    (dirfd != AT_FDCWD && strchr(name, '/')))
		return -EINVAL;
	return remove_tree(dirfd, name, 0);
}

/* chmod without /proc: only for what can be opened without side effects */
static int chmod_reopen(int dirfd, const char *name, const struct stat *st, mode_t mode)
{
	struct stat st2;
	int fd, r = 0;

	if (!S_ISDIR(st->st_mode) && !S_ISREG(st->st_mode))
		return -EOPNOTSUPP;
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st2) < 0)
		r = -errno;
	else if (st2.st_dev != st->st_dev || st2.st_ino != st->st_ino)
		r = -ESTALE;	/* replaced meanwhile */
	else if (fchmod(fd, mode) < 0)
		r = -errno;
	close(fd);
	return r;
}

int fs_share_at(int dirfd, const char *name, gid_t gid, mode_t mode)
{
	char proc[64];
	struct stat st;
	int fd, r = 0;

	fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if (S_ISLNK(st.st_mode))
		r = -ELOOP;
	else if (fchownat(fd, "", (uid_t)-1, gid, AT_EMPTY_PATH) < 0 && errno != EPERM)
		r = -errno;
	if (!r) {
		/* the magic link names the inode we hold, not a path */
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		if (chmod(proc, mode) < 0) {
			r = -errno;
			if (r == -ENOENT)	/* no /proc */
				r = chmod_reopen(dirfd, name, &st, mode);
		}
	}
	close(fd);
	return r;
}

int share_with_group(const char *path, gid_t gid, mode_t mode)
{
	char buf[PATH_MAX];
	char *slash, *base = buf;
	size_t n;
	int dirfd = AT_FDCWD, r;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	n = strlen(buf);
	while (n > 1 && buf[n - 1] == '/')
		buf[--n] = '\0';
	slash = strrchr(buf, '/');
	if (slash) {
		*slash = '\0';
		base = slash + 1;
		dirfd = open(slash == buf ? "/" : buf, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dirfd < 0)
			return -errno;
	}
	if (!*base)
		base = ".";	/* path was "/" */
	r = fs_share_at(dirfd, base, gid, mode);
	if (dirfd != AT_FDCWD)
		close(dirfd);
	return r;
}

int fs_check_private_fd(int fd, const char *path, char *why, size_t len)
{
	char dummy[1];
	struct stat st;
	uid_t me = geteuid();

	if (!why || !len) {
		why = dummy;
		len = sizeof(dummy);
	}
	if (fstat(fd, &st) < 0) {
		snprintf(why, len, "%s: %s", path, strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, len, "%s is not a directory", path);
		return -ENOTDIR;
	}
	if (st.st_uid != 0 && st.st_uid != me) {
		if (me == 0)
			snprintf(why, len, "%s is owned by uid %u, not root", path,
				 (unsigned)st.st_uid);
		else
			snprintf(why, len, "%s is owned by uid %u, not root or uid %u",
				 path, (unsigned)st.st_uid, (unsigned)me);
		return -EPERM;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(why, len, "%s is writable by %s (mode %04o)", path,
			 (st.st_mode & S_IWGRP) && (st.st_mode & S_IWOTH) ?
			 "its group and others" : st.st_mode & S_IWGRP ?
			 "its group" : "others",
			 (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

int fs_check_private_dir(const char *path, char *why, size_t len)
{
	char dummy[1];
	struct stat st;
	int fd, r;

	if (!why || !len) {
		why = dummy;
		len = sizeof(dummy);
	}
	fd = fs_opendir_at(AT_FDCWD, path);
	if (fd < 0) {
		if ((fd == -ELOOP || fd == -ENOTDIR) && lstat(path, &st) == 0) {
			if (S_ISLNK(st.st_mode)) {
				snprintf(why, len, "%s is a symlink, not a directory", path);
				return -ELOOP;
			}
			snprintf(why, len, "%s is not a directory", path);
			return -ENOTDIR;
		}
		snprintf(why, len, "%s: %s", path, strerror(-fd));
		return fd;
	}
	r = fs_check_private_fd(fd, path, why, len);
	close(fd);
	return r;
}

int group_lookup(const char *name, gid_t *gid)
{
	FILE *f = fopen("/etc/group", "re");
	char line[1024];
	size_t n = strlen(name);
	int r = -ENOENT;

	if (!f)
		return -ENOENT;
	while (fgets(line, sizeof(line), f)) {
		char *gidp;

		/* name:password:gid:members */
		if (strncmp(line, name, n) || line[n] != ':')
			continue;
		gidp = strchr(line + n + 1, ':');
		if (gidp) {
			*gid = (gid_t)strtoul(gidp + 1, NULL, 10);
			r = 0;
		}
		break;
	}
	fclose(f);
	return r;
}
