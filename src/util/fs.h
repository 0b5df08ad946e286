/* SPDX-License-Identifier: MIT */
#ifndef ARMVMD_FS_H
#define ARMVMD_FS_H

#include <sys/types.h>

/* Create dir and its missing parents (parents 0755, dir itself mode).
 * 0 or -errno; an existing directory is fine. */
int mkdir_p(const char *dir, mode_t mode);

#endif
