// SPDX-License-Identifier: MIT
/* Logging to stderr with a level and the source place; journald adds time. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

void log_msg(enum log_level level, const char *file, int line,
	     const char *fmt, ...)
{
	char buf[1024];
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
		dprintf(STDERR_FILENO, "%s%s: %s (%s:%d)\n", level_prio[level],
			level_names[level], buf, base ? base + 1 : file, line);
	else
		dprintf(STDERR_FILENO, "%s[%d] %s: %s (%s:%d)\n", log_prefix,
			(int)getpid(), level_names[level], buf,
			base ? base + 1 : file, line);
}
