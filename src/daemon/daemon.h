/* SPDX-License-Identifier: MIT */
/* The supervisor's one handle: everything the daemon owns hangs off it. */
#ifndef ARMVMD_DAEMON_H
#define ARMVMD_DAEMON_H

#include <ev.h>

struct daemon {
	struct ev_loop *loop;
};

#endif
