/* SPDX-License-Identifier: MIT */
#ifndef ARMVMD_LOG_H
#define ARMVMD_LOG_H

#include <errno.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level level);
int log_parse_level(const char *name, enum log_level *level);
void log_set_prefix(const char *prefix);
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
