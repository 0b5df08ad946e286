/* SPDX-License-Identifier: MIT */
/*
 * armvmctl run: what a VM's end means as an exit status, the names it
 * makes up, its --timeout.  Pure functions, unit-tested
 * (tests/unit/test_run_outcome.c).
 */
#ifndef ARMVMCTL_RUN_OUTCOME_H
#define ARMVMCTL_RUN_OUTCOME_H

#include <stdbool.h>
#include <stddef.h>

/* the exit status of armvmctl run (armvmctl(1), EXIT STATUS) */
enum run_exit {
	RUN_EXIT_POWEROFF	= 0,	/* the guest powered off */
	RUN_EXIT_RESET		= 121,	/* the guest reset; --on-reboot stop/destroy */
	RUN_EXIT_STOPPED	= 122,	/* stopped or destroyed by someone else */
	RUN_EXIT_CRASHED	= 123,	/* guest error; worker failed or killed */
	RUN_EXIT_TIMEOUT	= 124,	/* --timeout expired: stopped by force */
	RUN_EXIT_FAILED		= 125,	/* usage, armvmd unreachable, create refused */
	RUN_EXIT_SIGNAL		= 128,	/* + the signal; Ctrl-] is 128 + SIGINT */
};

/* the state a VM ends a run in: stopped, crashed or destroyed */
bool run_state_final(const char *state);

/*
 * The exit status for a VM that ended in state with reason (the state
 * event's, as armvmd and the worker word them); RUN_EXIT_FAILED for a
 * state that is no end.
 */
int run_exit_code(const char *state, const char *reason);

/* "run-PID-N" in buf; -1 when it does not fit */
int run_name(char *buf, size_t len, long pid, unsigned n);

/*
 * --timeout: seconds (fractions allowed), or with a unit: 90s, 1.5m, 2h.
 * 0 means no limit.  -1 for anything else.
 */
int run_parse_duration(const char *s, double *sec);

#endif
