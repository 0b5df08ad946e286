// SPDX-License-Identifier: MIT
/* Logging to stderr with a level and the source place; journald adds time. */
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"

static enum log_level log_threshold = LOG_INFO;
static const char *log_prefix = "armvmd";

static const char *const level_names[] = {
	[LOG_DEBUG] = "debug",
	[LOG_INFO] = "info",
	[LOG_WARN] = "warn",
	[LOG_ERROR] = "error",
};

/* sd-daemon(3) priority prefixes, so journald keeps the level */
static const char *const level_prio[] = {
	[LOG_DEBUG] = "<7>",
	[LOG_INFO] = "<6>",
	[LOG_WARN] = "<4>",
	[LOG_ERROR] = "<3>",
};

/* stderr kept to a size (log_set_rotation_fd), under the lock: log lines
 * come from several threads */
static struct {
	pthread_mutex_t lock;
	int old_fd;			/* NAME.1; -1: no rotation */
	uint64_t max;
	bool on;			/* ever set up: take the lock */
} rot = { .lock = PTHREAD_MUTEX_INITIALIZER, .old_fd = -1 };

int log_copy_rotate(int cur_fd, int old_fd)
{
	char buf[65536];
	off_t off = 0;

	if (old_fd < 0 || ftruncate(old_fd, 0) < 0)
		return -1;
	for (;;) {
		ssize_t n = pread(cur_fd, buf, sizeof(buf), off), w = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		while (w < n) {
			ssize_t k = pwrite(old_fd, buf + w, (size_t)(n - w), off + w);

			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				return -1;
			w += k;
		}
		off += n;
	}
	return ftruncate(cur_fd, 0);
}

int log_set_rotation_fd(int old_fd, uint64_t max_bytes)
{
	struct stat st;
	int prev;

	if (old_fd >= 0 && (fstat(old_fd, &st) < 0 || !S_ISREG(st.st_mode)))
		return -EINVAL;
	pthread_mutex_lock(&rot.lock);
	__atomic_store_n(&rot.on, true, __ATOMIC_RELEASE);
	prev = rot.old_fd;
	rot.old_fd = max_bytes ? old_fd : -1;
	rot.max = max_bytes < LOG_FILE_MAX_MIN ? LOG_FILE_MAX_MIN : max_bytes;
	pthread_mutex_unlock(&rot.lock);
	if (prev >= 0 && prev != old_fd)
		close(prev);
	if (!max_bytes && old_fd >= 0)
		close(old_fd);
	return 0;
}

int log_set_rotation(const char *path, uint64_t max_bytes)
{
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	char dir[PATH_MAX], older[256];
	struct stat err_st, st;
	int dfd, fd, r;

	if (!max_bytes)
		return log_set_rotation_fd(-1, 0);
	if (slash)
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path),
			 path);
	if (snprintf(older, sizeof(older), "%s.1", name) >= (int)sizeof(older))
		return -ENAMETOOLONG;
	/* (openat by hand: fs.c logs, so log.c must not need it) */
	dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		r = -errno;
		close(dfd);
		return r;
	}
	if (fstat(STDERR_FILENO, &err_st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_dev != err_st.st_dev || st.st_ino != err_st.st_ino) {
		close(dfd);
		return -ESTALE;
	}
	/* whatever was planted as NAME.1 is replaced, never followed */
	unlinkat(dfd, older, 0);
	fd = openat(dfd, older, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY |
		    O_CLOEXEC, 0640);
	r = fd < 0 ? -errno : 0;
	close(dfd);
	return r < 0 ? r : log_set_rotation_fd(fd, max_bytes);
}

/* Under rot.lock: make room for a line of len bytes. */
static void rotate_locked(size_t len)
{
	struct stat st;

	if (fstat(STDERR_FILENO, &st) < 0 || !st.st_size ||
	    (uint64_t)st.st_size + len <= rot.max)
		return;
	/* NAME.1 gets the full log, NAME starts over (O_APPEND: at 0) */
	if (log_copy_rotate(STDERR_FILENO, rot.old_fd) == 0)
		return;
	/* cannot rotate: start over in place rather than grow */
	if (ftruncate(STDERR_FILENO, 0) < 0)
		rot.max = UINT64_MAX;	/* nothing to be done; stop trying */
}

static void log_write(const char *line, size_t len)
{
	/* a process that never rotates (the supervisor, which forks) never
	 * takes the lock */
	bool rotating = __atomic_load_n(&rot.on, __ATOMIC_ACQUIRE);
	size_t off = 0;

	if (rotating) {
		pthread_mutex_lock(&rot.lock);
		if (rot.old_fd >= 0)
			rotate_locked(len);
	}
	while (off < len) {
		ssize_t n = write(STDERR_FILENO, line + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (rotating)
		pthread_mutex_unlock(&rot.lock);
}

void log_set_level(enum log_level level)
{
	log_threshold = level;
}

void log_set_prefix(const char *prefix)
{
	log_prefix = prefix;
}

int log_parse_level(const char *name, enum log_level *level)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (!strcmp(name, level_names[i])) {
			*level = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void log_msg(enum log_level level, const char *file, int lineno,
	     const char *fmt, ...)
{
	char buf[1024], line[1280];
	const char *base = strrchr(file, '/');
	va_list ap;
	int n;

	if (level < log_threshold)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/* one write per line so lines from several threads do not interleave */
	/* journald adds the program and pid itself, and reads the level
	 * from the sd-daemon(3) prefix */
	if (getenv("JOURNAL_STREAM"))
		n = snprintf(line, sizeof(line), "%s%s: %s (%s:%d)\n", level_prio[level],
			     level_names[level], buf, base ? base + 1 : file, lineno);
	else
		n = snprintf(line, sizeof(line), "%s[%d] %s: %s (%s:%d)\n", log_prefix,
			     (int)getpid(), level_names[level], buf,
			     base ? base + 1 : file, lineno);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';	/* cut, but still a line */
	}
	log_write(line, (size_t)n);
}
