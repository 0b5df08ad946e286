// SPDX-License-Identifier: MIT
/*
 * sockio: talk to a Unix stream socket (a VM's hvc0.sock) from a test.
 *
 *   sockio PATH [SECONDS]
 *
 * Connects, sends all of stdin, then prints what comes back until SECONDS
 * (default 2) pass without any output or the peer closes.  Exit 0 once
 * connected and stdin is sent, 1 on errors.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	double quiet = argc > 2 ? atof(argv[2]) : 2.0;
	char buf[4096];
	ssize_t n;
	int fd;

	if (argc < 2 || strlen(argv[1]) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "usage: sockio PATH [SECONDS]\n");
		return 2;
	}
	strcpy(addr.sun_path, argv[1]);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		fprintf(stderr, "sockio: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	while ((n = read(0, buf, sizeof(buf))) > 0)
		if (send_all(fd, buf, (size_t)n) < 0) {
			fprintf(stderr, "sockio: send: %s\n", strerror(errno));
			return 1;
		}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r = poll(&p, 1, (int)(quiet * 1000));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		fwrite(buf, 1, (size_t)n, stdout);
		fflush(stdout);
	}
	close(fd);
	return 0;
}
