// SPDX-License-Identifier: MIT
/*
 * The armvmd-worker program: one VM's worker (src/vm/worker.h).  A binary
 * of its own, so that a VM is never a fork of the supervisor's memory:
 * the supervisor execs it into the worker's jail.
 *
 *   armvmd-worker --spec-fd N [--log-level L]
 *   armvmd-worker --pool-fd N [--kvm-fd K --vm-type T] [--log-level L]
 *                                                 (waiting warm in a pool)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "vm/worker.h"

int main(int argc, char **argv)
{
	enum log_level level;
	int spec_fd = -1, pool_fd = -1, kvm_fd = -1;
	long vm_type = -1;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v) {
			fprintf(stderr, "armvmd-worker: %s needs a value\n", a);
			return 2;
		}
		if (!strcmp(a, "--spec-fd"))
			spec_fd = atoi(v);
		else if (!strcmp(a, "--pool-fd"))
			pool_fd = atoi(v);
		else if (!strcmp(a, "--kvm-fd"))
			kvm_fd = atoi(v);
		else if (!strcmp(a, "--vm-type"))
			vm_type = atol(v);
		else if (!strcmp(a, "--log-level") && log_parse_level(v, &level) == 0)
			log_set_level(level);
		else {
			fprintf(stderr, "armvmd-worker: unexpected '%s' (it is started "
				"by armvmd, not by hand)\n", a);
			return 2;
		}
		i++;
	}
	if (pool_fd >= 0)
		return worker_pool_main(pool_fd, kvm_fd, vm_type);
	if (spec_fd < 0) {
		fprintf(stderr, "armvmd-worker: --spec-fd or --pool-fd is needed (it is started by "
			"armvmd, not by hand)\n");
		return 2;
	}
	return worker_main(spec_fd);
}
