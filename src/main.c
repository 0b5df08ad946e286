// SPDX-License-Identifier: MIT
/*
 * The armvmd program: the supervisor, or (re-executed by it with --worker)
 * one VM's worker.  Only this file knows both; src/daemon/ and src/vm/
 * include nothing of each other.
 *
 *   armvmd [daemon options]                       the supervisor
 *   armvmd --worker DIR --status-fd N [--log-level L]   a worker
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/main.h"
#include "util/log.h"
#if ARMVMD_KVM
#include "vm/worker.h"
#endif

static int worker_mode(int argc, char **argv)
{
	const char *dir = NULL;
	int status_fd = -1;
	enum log_level level;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v) {
			fprintf(stderr, "armvmd: %s needs a value\n", a);
			return 2;
		}
		if (!strcmp(a, "--worker"))
			dir = v;
		else if (!strcmp(a, "--status-fd"))
			status_fd = atoi(v);
		else if (!strcmp(a, "--log-level") && log_parse_level(v, &level) == 0)
			log_set_level(level);
		else {
			fprintf(stderr, "armvmd: worker: unexpected '%s'\n", a);
			return 2;
		}
		i++;
	}
#if ARMVMD_KVM
	return worker_main(dir, status_fd);
#else
	fprintf(stderr, "armvmd: this build has no KVM support for --worker %s "
		"(status fd %d)\n", dir, status_fd);
	return 2;
#endif
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--worker"))
			return worker_mode(argc, argv);
	return daemon_main(argc, argv);
}
