// SPDX-License-Identifier: MIT
/*
 * The hand-off of a VM to a pooled worker (rpc/handoff.h) over a real
 * socketpair: the line and its descriptors arrive together and in order,
 * a line longer than the socket buffer goes through while the peer
 * reads, a peer that closes first is told apart from one that breaks the
 * line off, and limits on length and descriptors are kept (what came
 * with a refused line is closed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rpc/handoff.h"

static void pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

static bool same_file(int a, int b)
{
	struct stat x, y;

	return fstat(a, &x) == 0 && fstat(b, &y) == 0 && x.st_ino == y.st_ino &&
	       x.st_dev == y.st_dev;
}

static void test_line_and_fds(void **state)
{
	int sv[2], p[2], fds[8], got[8];
	unsigned n;
	size_t len;
	int err;
	char *line;

	(void)state;
	pair(sv);
	assert_int_equal(pipe(p), 0);
	fds[0] = p[0];
	fds[1] = p[1];
	fds[2] = open("/dev/null", O_RDONLY);
	assert_int_equal(handoff_send(sv[0], "{\"a\":1}", fds, 3, 8, 4096, 1000), 0);
	line = handoff_recv(sv[1], 4096, got, 8, &n, &len, &err);
	assert_non_null(line);
	assert_string_equal(line, "{\"a\":1}");
	assert_int_equal(len, 7);
	assert_int_equal(n, 3);
	for (unsigned i = 0; i < 3; i++) {
		assert_true(same_file(fds[i], got[i]));
		assert_true(fcntl(got[i], F_GETFD) & FD_CLOEXEC);
	}
	/* the received pipe end works */
	assert_int_equal(write(got[1], "x", 1), 1);
	char c = 0;
	assert_int_equal(read(p[0], &c, 1), 1);
	assert_int_equal(c, 'x');
	free(line);
	for (unsigned i = 0; i < 3; i++) {
		close(fds[i]);
		close(got[i]);
	}
	close(sv[0]);
	close(sv[1]);
}

struct reader {
	int sock;
	char *line;
	size_t len;
	unsigned nfds;
	int fds[4];
	int err;
};

static void *read_thread(void *arg)
{
	struct reader *r = arg;

	r->line = handoff_recv(r->sock, 8u << 20, r->fds, 4, &r->nfds, &r->len, &r->err);
	return NULL;
}

/* 3 MiB: many times the socket's buffer, sent while the peer reads */
static void test_long_line(void **state)
{
	size_t big = 3u << 20;
	char *text = malloc(big + 1);
	struct reader r = { 0 };
	pthread_t t;
	int sv[2], fd;

	(void)state;
	pair(sv);
	for (size_t i = 0; i < big; i++)
		text[i] = (char)('a' + i % 26);
	text[big] = '\0';
	fd = open("/dev/null", O_RDONLY);
	r.sock = sv[1];
	assert_int_equal(pthread_create(&t, NULL, read_thread, &r), 0);
	assert_int_equal(handoff_send(sv[0], text, &fd, 1, 4, 8u << 20, 5000), 0);
	pthread_join(t, NULL);
	assert_non_null(r.line);
	assert_int_equal(r.len, big);
	assert_memory_equal(r.line, text, big);
	assert_int_equal(r.nfds, 1);
	assert_true(same_file(fd, r.fds[0]));
	close(r.fds[0]);
	free(r.line);
	free(text);
	close(fd);
	close(sv[0]);
	close(sv[1]);
}

static void test_closed_before_and_during(void **state)
{
	int sv[2], got[4], err = 1;
	unsigned n = 9;
	size_t len;

	(void)state;
	/* closed before a byte: 0, nothing to do */
	pair(sv);
	close(sv[0]);
	assert_null(handoff_recv(sv[1], 4096, got, 4, &n, &len, &err));
	assert_int_equal(err, 0);
	assert_int_equal(n, 0);
	close(sv[1]);

	/* half a line, a descriptor with it, then the end: -EPROTO, closed */
	pair(sv);
	int fd = open("/dev/null", O_RDONLY);
	struct iovec iov = { "{\"half\":", 8 };
	union { char b[CMSG_SPACE(sizeof(int))]; struct cmsghdr a; } ctl;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
			     .msg_controllen = sizeof(ctl.b) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	assert_int_equal(sendmsg(sv[0], &mh, 0), 8);
	close(sv[0]);
	assert_null(handoff_recv(sv[1], 4096, got, 4, &n, &len, &err));
	assert_int_equal(err, -EPROTO);
	assert_int_equal(n, 0);
	close(sv[1]);
	close(fd);
}

static void test_limits(void **state)
{
	int sv[2], fds[6], got[4], err;
	unsigned n;
	size_t len;

	(void)state;
	for (int i = 0; i < 6; i++)
		fds[i] = open("/dev/null", O_RDONLY);
	pair(sv);
	/* the sender keeps its own limits */
	assert_int_equal(handoff_send(sv[0], "{}", fds, 6, 4, 4096, 100), -E2BIG);
	assert_int_equal(handoff_send(sv[0], "0123456789", NULL, 0, 4, 8, 100), -E2BIG);
	/* more descriptors than the receiver takes: refused, all closed */
	assert_int_equal(handoff_send(sv[0], "{}", fds, 6, 8, 4096, 100), 0);
	assert_null(handoff_recv(sv[1], 4096, got, 4, &n, &len, &err));
	assert_int_equal(err, -EMSGSIZE);
	assert_int_equal(n, 0);
	close(sv[0]);
	close(sv[1]);
	/* a line longer than the receiver takes */
	pair(sv);
	assert_int_equal(handoff_send(sv[0], "0123456789abcdef", NULL, 0, 4, 4096, 100), 0);
	assert_null(handoff_recv(sv[1], 8, got, 4, &n, &len, &err));
	assert_int_equal(err, -EMSGSIZE);
	close(sv[0]);
	close(sv[1]);
	/* a peer that reads nothing: the sender gives up after its bound */
	pair(sv);
	int sz = 4096;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	char *big = malloc(1u << 20);
	memset(big, 'x', (1u << 20) - 1);
	big[(1u << 20) - 1] = '\0';
	assert_int_equal(handoff_send(sv[0], big, NULL, 0, 4, 2u << 20, 50), -ETIMEDOUT);
	free(big);
	close(sv[0]);
	close(sv[1]);
	/* the peer gone: EPIPE, no SIGPIPE */
	pair(sv);
	close(sv[1]);
	assert_int_equal(handoff_send(sv[0], "{}", NULL, 0, 4, 4096, 100), -EPIPE);
	close(sv[0]);
	for (int i = 0; i < 6; i++)
		close(fds[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_and_fds),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_closed_before_and_during),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
