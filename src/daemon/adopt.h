/* SPDX-License-Identifier: MIT */
#ifndef ARMVMD_ADOPT_H
#define ARMVMD_ADOPT_H

struct daemon;

/* Re-adopt the workers a previous daemon left running, then autostart. */
void restore_workers(struct daemon *d);

#endif
