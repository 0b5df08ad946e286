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

/* Give path to group gid with mode (its owner unchanged).  A process that
 * may not change the group (not root, not a member) keeps its own group
 * and still sets the mode.  0 or -errno. */
int share_with_group(const char *path, gid_t gid, mode_t mode);

#endif
