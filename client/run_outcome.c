// SPDX-License-Identifier: MIT
/*
 * armvmctl run: exit statuses, generated names, durations.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_outcome.h"

bool run_state_final(const char *state)
{
	return state && (!strcmp(state, "stopped") || !strcmp(state, "crashed") ||
			 !strcmp(state, "destroyed"));
}

static bool starts_with(const char *s, const char *prefix)
{
	return s && !strncmp(s, prefix, strlen(prefix));
}

/*
 * The reasons are the worker's (src/vm/worker.c) and the supervisor's
 * (src/daemon/registry.c): "guest powered off", "guest powered off (power
 * key)", "guest powered off; policy destroy"; "guest reset; on_reboot=stop",
 * "guest reset (PSCI SYSTEM_RESET); policy destroy"; anything else that
 * stops or removes a VM was done to it ("forced stop", "the guest ignored
 * the power key for 30 s: forced", "destroyed on request").
 */
int run_exit_code(const char *state, const char *reason)
{
	if (!run_state_final(state))
		return RUN_EXIT_FAILED;
	if (!strcmp(state, "crashed"))
		return RUN_EXIT_CRASHED;
	if (starts_with(reason, "guest powered off"))
		return RUN_EXIT_POWEROFF;
	if (starts_with(reason, "guest reset"))
		return RUN_EXIT_RESET;
	return RUN_EXIT_STOPPED;
}

int run_name(char *buf, size_t len, long pid, unsigned n)
{
	char name[48];	/* any long and unsigned fit */
	int w = snprintf(name, sizeof(name), "run-%ld-%u", pid, n);

	if (w < 0 || (size_t)w >= len)
		return -1;
	memcpy(buf, name, (size_t)w + 1);
	return 0;
}

int run_parse_duration(const char *s, double *sec)
{
	double v, mult = 1;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s)
		return -1;
	if (*end) {
		if (end[1])
			return -1;
		switch (*end) {
		case 's':
			break;
		case 'm':
			mult = 60;
			break;
		case 'h':
			mult = 3600;
			break;
		default:
			return -1;
		}
	}
	v *= mult;
	/* also refuses NaN and infinity: at most about 23 days */
	if (!(v >= 0 && v <= 2000000.0))
		return -1;
	*sec = v;
	return 0;
}
