/* SPDX-License-Identifier: MIT */
#ifndef ARMVMD_FS_H
#define ARMVMD_FS_H

#include <sys/types.h>

/* Create dir and its missing parents (parents 0755, dir itself mode).
 * 0 or -errno; an existing directory is fine. */
int mkdir_p(const char *dir, mode_t mode);

/* A group's id from /etc/group (no NSS: the static build has none).
 * 0 or -ENOENT. */
int group_lookup(const char *name, gid_t *gid);

#endif
