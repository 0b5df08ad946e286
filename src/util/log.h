/* SPDX-License-Identifier: MIT */
#ifndef ARMVMD_LOG_H
#define ARMVMD_LOG_H

#include <errno.h>
#include <stdint.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level level);
int log_parse_level(const char *name, enum log_level *level);
void log_set_prefix(const char *prefix);

/* worker.log is kept under this (spec.json limits.worker_log_bytes) */
#define LOG_FILE_MAX_DEFAULT	(1u << 20)
#define LOG_FILE_MAX_MIN	(4u << 10)
/*
 * The log (stderr, opened read-write and O_APPEND, as a worker's
 * worker.log) kept under max_bytes (0: unbounded; less than
 * LOG_FILE_MAX_MIN is taken as that).  A line that would pass the bound
 * first copies the whole log into old_fd (NAME.1, read-write, not
 * O_APPEND; the older copy is dropped) and empties stderr: descriptors
 * only, no path opened or renamed, so a jailed worker can rotate.  old_fd
 * is the log's from now on.  0 or -errno.
 */
int log_set_rotation_fd(int old_fd, uint64_t max_bytes);
/* The same with path.1 made fresh beside path (never following a link
 * planted there); -ESTALE when stderr is not path. */
int log_set_rotation(const char *path, uint64_t max_bytes);
/* old_fd gets cur_fd's contents, cur_fd is emptied: 0 or -1 (errno). */
int log_copy_rotate(int cur_fd, int old_fd);
void log_msg(enum log_level level, const char *file, int line,
	     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define log_debug(...) log_msg(LOG_DEBUG, __FILE__, __LINE__, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __FILE__, __LINE__, __VA_ARGS__)

/* log an error with strerror(-r) appended and return r (negative errno) */
#define log_errno(r, fmt, ...) \
	(log_error(fmt ": %s", ##__VA_ARGS__, strerror(-(r))), (r))

#endif
