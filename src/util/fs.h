/* SPDX-License-Identifier: MIT */
/*
 * File system helpers for the runtime and state directories: everything
 * relative to a directory fd, and no symlink followed in what the daemon
 * creates, removes, reads, writes or shares there.
 */
#ifndef ARMVMD_FS_H
#define ARMVMD_FS_H

#include <stddef.h>
#include <sys/types.h>

/* Create dir and its missing parents (parents 0755, dir itself mode),
 * one component at a time with openat/mkdirat.  A component that is a
 * symlink is refused (-ELOOP) unless root or the caller's euid owns it
 * (so /var/run -> /run still works).  0 or -errno; an existing directory
 * is fine. */
int mkdir_p(const char *dir, mode_t mode);

/* A group's id from /etc/group (no NSS: the static build has none).
 * 0 or -ENOENT. */
int group_lookup(const char *name, gid_t *gid);

/* Give path to group gid with mode (its owner unchanged), not following a
 * symlink in its last component.  A process that may not change the group
 * (not root, not a member) keeps its own group and still sets the mode.
 * 0 or -errno. */
int share_with_group(const char *path, gid_t gid, mode_t mode);

/* Open directory name under dirfd (AT_FDCWD for a path) with
 * O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC.  fd or -errno (-ELOOP or -ENOTDIR for
 * a symlink). */
int fs_opendir_at(int dirfd, const char *name);

/* mkdirat(dirfd, name, mode) (an existing real directory is fine; a symlink
 * or other file is -ENOTDIR/-ELOOP), then fs_opendir_at.  A directory made
 * here gets exactly mode (no umask).  fd or -errno. */
int fs_mkdir_open_at(int dirfd, const char *name, mode_t mode);

/* Atomically replace name (no '/') under dirfd with buf: ".NAME.tmp" is
 * created O_EXCL|O_NOFOLLOW (a stale one removed first), written whole,
 * fsync'd, closed, renamed over name, and dirfd fsync'd.  Any failure
 * (short write, ENOSPC, EIO, failed close) returns -errno, removes the
 * temporary and leaves the old file as it was.  A failed directory fsync
 * after the rename is logged and returned: the new file is in place but
 * may not survive a crash.  Writers of the same name must not run
 * concurrently (they share the temporary). */
int fs_write_atomic_at(int dirfd, const char *name, const void *buf, size_t len,
		       mode_t mode);

/* The same without the fsyncs: a file that need not outlive the host (in
 * a runtime directory on tmpfs), replaced whole or not at all. */
int fs_write_replace_at(int dirfd, const char *name, const void *buf, size_t len,
			mode_t mode);

/* Read regular file name under dirfd (O_NOFOLLOW; anything not a regular
 * file is -EINVAL, a symlink -ELOOP) whole, at most max bytes (-EFBIG past
 * it).  Returns a NUL-terminated malloc'd buffer and sets *len (when len
 * is not NULL), or NULL with -errno in *err. */
char *fs_read_at(int dirfd, const char *name, size_t max, size_t *len, int *err);

/* Remove directory name under dirfd and everything in it, depth-first,
 * never following a symlink: symlinks are unlinked, also when name itself
 * is one.  0 or -errno (-ENOENT when name does not exist; the first error
 * met, after removing what could be removed). */
int fs_remove_tree_at(int dirfd, const char *name);

/* share_with_group for name under dirfd without following a symlink (an
 * O_PATH|O_NOFOLLOW fd: fchownat AT_EMPTY_PATH, chmod through
 * /proc/self/fd); works on sockets and directories.  A symlink is -ELOOP.
 * 0 or -errno. */
int fs_share_at(int dirfd, const char *name, gid_t gid, mode_t mode);

/* A runtime or state directory fit for root's daemon: an existing
 * directory (not a symlink), owned by root (or by the daemon's euid), not
 * writable by group or others.  0, or -errno with a sentence in why
 * ("/run/armvmd is owned by uid 1000, not root"). */
int fs_check_private_dir(const char *path, char *why, size_t len);
/* The same for a directory already open as fd (path only names it in why). */
int fs_check_private_fd(int fd, const char *path, char *why, size_t len);

/*
 * Tests only: replace the write, fsync and close that fs_write_atomic_at
 * uses (fault injection: EIO, ENOSPC, short writes, failed close or
 * directory fsync).  NULL restores the real ones.
 */
struct fs_test_ops {
	ssize_t (*write)(int fd, const void *buf, size_t len);
	int (*fsync)(int fd);
	int (*close)(int fd);
};
void fs_set_test_ops(const struct fs_test_ops *ops);

#endif
