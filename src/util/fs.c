// SPDX-License-Identifier: MIT
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"

int mkdir_p(const char *dir, mode_t mode)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", dir) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int share_with_group(const char *path, gid_t gid, mode_t mode)
{
	if (chown(path, (uid_t)-1, gid) < 0 && errno != EPERM)
		return -errno;
	return chmod(path, mode) < 0 ? -errno : 0;
}

int group_lookup(const char *name, gid_t *gid)
{
	FILE *f = fopen("/etc/group", "r");
	char line[1024];
	size_t n = strlen(name);
	int r = -ENOENT;

	if (!f)
		return -ENOENT;
	while (fgets(line, sizeof(line), f)) {
		char *gidp;

		/* name:password:gid:members */
		if (strncmp(line, name, n) || line[n] != ':')
			continue;
		gidp = strchr(line + n + 1, ':');
		if (gidp) {
			*gid = (gid_t)strtoul(gidp + 1, NULL, 10);
			r = 0;
		}
		break;
	}
	fclose(f);
	return r;
}
