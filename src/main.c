// SPDX-License-Identifier: MIT
/*
 * The armvmd program: the supervisor.  Each VM's worker is a program of
 * its own (src/worker_main.c, armvmd-worker), spawned into its jail.
 */
#include "daemon/main.h"

int main(int argc, char **argv)
{
	return daemon_main(argc, argv);
}
