// SPDX-License-Identifier: MIT
/*
 * armvmctl run: the exit status a VM's end gives, the names it makes up
 * for unnamed VMs, and its --timeout durations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

/* armvmctl's objects are not in the test library: build it here */
#include "run_outcome.c"

static void test_final_states(void **state)
{
	(void)state;
	assert_true(run_state_final("stopped"));
	assert_true(run_state_final("crashed"));
	assert_true(run_state_final("destroyed"));
	assert_false(run_state_final("running"));
	assert_false(run_state_final("created"));
	assert_false(run_state_final("paused"));
	assert_false(run_state_final("creating"));
	assert_false(run_state_final(""));
	assert_false(run_state_final(NULL));
}

/* the reasons as the worker and the daemon word them */
static void test_exit_codes(void **state)
{
	static const struct {
		const char *state, *reason;
		int code;
	} cases[] = {
		{ "stopped", "guest powered off", RUN_EXIT_POWEROFF },
		{ "stopped", "guest powered off (power key)", RUN_EXIT_POWEROFF },
		{ "destroyed", "guest powered off; policy destroy", RUN_EXIT_POWEROFF },
		{ "stopped", "guest reset; on_reboot=stop", RUN_EXIT_RESET },
		{ "destroyed", "guest reset (PSCI SYSTEM_RESET); policy destroy",
		  RUN_EXIT_RESET },
		{ "stopped", "forced stop", RUN_EXIT_STOPPED },
		{ "stopped", "forced stop: the worker was killed", RUN_EXIT_STOPPED },
		{ "stopped", "the guest ignored the power key for 30 s: forced",
		  RUN_EXIT_STOPPED },
		{ "destroyed", "destroyed on request", RUN_EXIT_STOPPED },
		{ "stopped", NULL, RUN_EXIT_STOPPED },
		{ "crashed", "worker killed by signal 9 (Killed)", RUN_EXIT_CRASHED },
		{ "crashed", "worker exited with status 2", RUN_EXIT_CRASHED },
		/* a crash is a crash whatever its words */
		{ "crashed", "guest powered off", RUN_EXIT_CRASHED },
		{ "running", "started", RUN_EXIT_FAILED },
		{ NULL, NULL, RUN_EXIT_FAILED },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(run_exit_code(cases[i].state, cases[i].reason),
				 cases[i].code);
	/* the outcomes are told apart, and from armvmctl's own 1..4 */
	assert_true(RUN_EXIT_RESET > 4);
	assert_int_not_equal(RUN_EXIT_RESET, RUN_EXIT_STOPPED);
	assert_int_not_equal(RUN_EXIT_STOPPED, RUN_EXIT_CRASHED);
	assert_int_not_equal(RUN_EXIT_CRASHED, RUN_EXIT_TIMEOUT);
	assert_int_not_equal(RUN_EXIT_TIMEOUT, RUN_EXIT_FAILED);
	assert_true(RUN_EXIT_FAILED < RUN_EXIT_SIGNAL);
}

static void test_names(void **state)
{
	char a[64], b[64], tiny[8];

	(void)state;
	assert_int_equal(run_name(a, sizeof(a), 4242, 1), 0);
	assert_string_equal(a, "run-4242-1");
	assert_int_equal(run_name(b, sizeof(b), 4242, 2), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(run_name(b, sizeof(b), 4243, 1), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(run_name(tiny, sizeof(tiny), 4242, 1), -1);
	/* exactly what fits */
	assert_int_equal(run_name(tiny, sizeof(tiny), 1, 2), 0);
	assert_string_equal(tiny, "run-1-2");
}

static void test_durations(void **state)
{
	static const struct {
		const char *s;
		double sec;
	} good[] = {
		{ "3", 3 }, { "0", 0 }, { "2.5", 2.5 }, { "90s", 90 },
		{ "1.5m", 90 }, { "2h", 7200 }, { "0.25s", 0.25 },
	};
	static const char *const bad[] = {
		"", "-1", "+3", " 3", "3x", "3ss", "m", "s", "nan", "inf",
		"1e9", "600h",
	};
	double sec;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		sec = -1;
		assert_int_equal(run_parse_duration(good[i].s, &sec), 0);
		assert_true(sec == good[i].sec);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(run_parse_duration(bad[i], &sec), -1);
	assert_int_equal(run_parse_duration(NULL, &sec), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_final_states),
		cmocka_unit_test(test_exit_codes),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_durations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
