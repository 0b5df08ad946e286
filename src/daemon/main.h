/* SPDX-License-Identifier: MIT */
#ifndef ARMVMD_DAEMON_MAIN_H
#define ARMVMD_DAEMON_MAIN_H

/* armvmd as the supervisor: options, loop, shutdown.  The exit status. */
int daemon_main(int argc, char **argv);

#endif
