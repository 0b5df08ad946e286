// SPDX-License-Identifier: MIT
/*
 * runas UID GID[,GID...] -- CMD [ARG...]
 *
 * Run CMD as UID with the first GID as its primary group and the others
 * (none: no supplementary groups) as its supplementary groups, for host
 * tests that need callers of several uids without /etc/passwd entries.
 * Must start as root; every step is checked and the process ends (status
 * 125) when one fails, so a command never runs with the wrong identity.
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_GIDS	64

static int number(const char *s, unsigned long *v)
{
	char *end;

	errno = 0;
	*v = strtoul(s, &end, 10);
	return errno || end == s || *end || *v > 0xfffffffeUL ? -1 : 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: runas UID GID[,GID...] -- CMD [ARG...]\n");
	exit(125);
}

int main(int argc, char **argv)
{
	gid_t gids[MAX_GIDS];
	unsigned long uid, v;
	size_t n = 0;
	char *list, *tok, *save;

	if (argc < 5 || strcmp(argv[3], "--"))
		usage();
	if (number(argv[1], &uid) < 0) {
		fprintf(stderr, "runas: bad uid '%s'\n", argv[1]);
		usage();
	}
	list = argv[2];
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (number(tok, &v) < 0 || n == MAX_GIDS) {
			fprintf(stderr, "runas: bad gid '%s' (or more than %d)\n", tok, MAX_GIDS);
			usage();
		}
		gids[n++] = (gid_t)v;
	}
	if (!n)
		usage();
	/* groups first: once the uid is dropped they cannot be changed */
	if (setgroups(n - 1, gids + 1) < 0) {
		perror("runas: setgroups");
		return 125;
	}
	if (setresgid(gids[0], gids[0], gids[0]) < 0) {
		perror("runas: setresgid");
		return 125;
	}
	if (setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) < 0) {
		perror("runas: setresuid");
		return 125;
	}
	/* no way back */
	if (uid != 0 && setresuid(0, 0, 0) == 0) {
		fprintf(stderr, "runas: could become root again\n");
		return 125;
	}
	execvp(argv[4], argv + 4);
	fprintf(stderr, "runas: %s: %s\n", argv[4], strerror(errno));
	return 127;
}
