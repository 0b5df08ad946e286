// SPDX-License-Identifier: MIT
/* The hand-off of a VM to a pooled worker (handoff.h). */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rpc/handoff.h"

/* SCM_RIGHTS carries at most 253 descriptors per message */
#define HANDOFF_FDS_MAX	253

int handoff_send(int sock, const char *text, const int *fds, unsigned nfds,
		 unsigned max_fds, size_t max_len, int timeout_ms)
{
	size_t len = strlen(text), off = 0;
	char *ctl = NULL, *line;
	int r = 0;

	if (nfds > max_fds || nfds > HANDOFF_FDS_MAX || len >= max_len)
		return -E2BIG;
	line = malloc(len + 1);
	if (nfds)
		ctl = calloc(1, CMSG_SPACE(nfds * sizeof(int)));
	if (!line || (nfds && !ctl)) {
		free(line);
		free(ctl);
		return -ENOMEM;
	}
	memcpy(line, text, len);
	line[len++] = '\n';
	while (off < len) {
		struct iovec iov = { line + off, len - off };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;

		/* the descriptors ride on the first bytes */
		if (off == 0 && nfds) {
			struct cmsghdr *c;

			mh.msg_control = ctl;
			mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
			memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
		}
		n = sendmsg(sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pf = { .fd = sock, .events = POLLOUT };

			if (poll(&pf, 1, timeout_ms) <= 0) {
				r = -ETIMEDOUT;
				break;
			}
			continue;
		}
		if (n < 0) {
			r = -errno;
			break;
		}
		off += (size_t)n;
	}
	free(ctl);
	free(line);
	return r;
}

static void close_all(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		close(fds[i]);
}

char *handoff_recv(int sock, size_t max_len, int *fds, unsigned max_fds, unsigned *nfds,
		   size_t *len, int *err)
{
	size_t have = 0, cap = max_len < 16384 ? max_len + 1 : 16384;
	/* room for one more than is taken: too many is seen by the count,
	 * also where MSG_CTRUNC is not reported */
	size_t ctl_len = CMSG_SPACE((max_fds < HANDOFF_FDS_MAX ? max_fds + 1 : HANDOFF_FDS_MAX) *
				    sizeof(int));
	char *buf = malloc(cap), *ctl = calloc(1, ctl_len), *nl = NULL;
	bool too_many = false;

	*nfds = 0;
	*err = 0;
	if (!buf || !ctl) {
		*err = -ENOMEM;
		goto fail;
	}
	while (!nl) {
		struct iovec iov = { buf + have, cap - have - 1 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = ctl, .msg_controllen = ctl_len };
		ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*err = -errno;
			goto fail;
		}
		for (struct cmsghdr *c = mh.msg_controllen ? CMSG_FIRSTHDR(&mh) : NULL; c;
		     c = CMSG_NXTHDR(&mh, c)) {
			unsigned k;

			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			k = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			for (unsigned i = 0; i < k; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				if (*nfds < max_fds) {
					fds[(*nfds)++] = fd;
				} else {
					close(fd);
					too_many = true;
				}
			}
		}
		if (mh.msg_flags & MSG_CTRUNC)
			too_many = true;
		if (n == 0) {
			*err = have ? -EPROTO : 0;
			goto fail;
		}
		have += (size_t)n;
		buf[have] = '\0';
		nl = memchr(buf + have - (size_t)n, '\n', (size_t)n);
		if (!nl && have >= max_len) {
			*err = -EMSGSIZE;
			goto fail;
		}
		if (!nl && have + 1 >= cap) {
			size_t ncap = cap * 2 > max_len + 1 ? max_len + 1 : cap * 2;
			char *more = realloc(buf, ncap);

			if (!more) {
				*err = -ENOMEM;
				goto fail;
			}
			buf = more;
			cap = ncap;
		}
	}
	if (too_many) {
		*err = -EMSGSIZE;
		goto fail;
	}
	*nl = '\0';
	*len = (size_t)(nl - buf);
	free(ctl);
	return buf;
fail:
	close_all(fds, *nfds);
	*nfds = 0;
	free(buf);
	free(ctl);
	return NULL;
}
