// SPDX-License-Identifier: MIT
/*
 * rpc-abuse: feed a running armvmd malformed and hostile input and check
 * that each gets the right JSON-RPC error (or a closed connection) while the
 * daemon keeps serving other clients.
 *
 *   rpc-abuse [--socket PATH]
 *
 * Prints one line per check and "N passed, N failed"; exit 0 iff all pass.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "libarmvm.h"

static const char *sock_path;
static int passed, failed;

static void check(bool ok, const char *what, const char *detail)
{
	printf("%s %s%s%s\n", ok ? "ok  " : "FAIL", what,
	       detail && *detail ? ": " : "", detail ? detail : "");
	if (ok)
		passed++;
	else
		failed++;
	fflush(stdout);
}

static int raw_connect(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static bool send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/* Read one line (max 1 MiB) within timeout_ms.  NULL on EOF or timeout;
 * *closed tells which. */
static json_t *read_json_line(int fd, int timeout_ms, bool *closed)
{
	static char buf[1 << 20];
	size_t len = 0;

	*closed = false;
	while (len < sizeof(buf) - 1) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r = poll(&p, 1, timeout_ms);

		if (r <= 0)
			return NULL;
		ssize_t n = recv(fd, buf + len, 1, 0);
		if (n <= 0) {
			*closed = true;
			return NULL;
		}
		if (buf[len] == '\n') {
			buf[len] = '\0';
			return json_loads(buf, JSON_DECODE_ANY, NULL);
		}
		len++;
	}
	return NULL;
}

static int code_of(json_t *resp)
{
	return (int)json_integer_value(json_object_get(
		json_object_get(resp, "error"), "code"));
}

/* One line in, expect an error code; then the same connection still works. */
static void expect_error(const char *what, const char *line, int code)
{
	int fd = raw_connect();
	bool closed;
	char detail[160];
	json_t *r;

	if (fd < 0) {
		check(false, what, "cannot connect");
		return;
	}
	send_all(fd, line, strlen(line));
	send_all(fd, "\n", 1);
	r = read_json_line(fd, 10000, &closed);
	snprintf(detail, sizeof(detail), "expected %d, got %d%s", code,
		 r ? code_of(r) : 0, closed ? " (closed)" : "");
	check(r && code_of(r) == code, what, detail);
	json_decref(r);

	const char *again = "{\"jsonrpc\":\"2.0\",\"id\":99,\"method\":\"rpc.methods\"}\n";
	send_all(fd, again, strlen(again));
	r = read_json_line(fd, 10000, &closed);
	check(r && json_is_array(json_object_get(r, "result")),
	      "  ...and the connection still serves", NULL);
	json_decref(r);
	close(fd);
}

/* The daemon answers host.info on a fresh connection through libarmvm. */
static bool daemon_serves(void)
{
	struct armvm_error e = { 0 };
	json_t *result = NULL;
	int err = 0;
	struct armvm *c = armvm_connect(sock_path, &err);
	int r;

	if (!c)
		return false;
	r = armvm_call_timeout(c, "host.info", NULL, &result, &e, 10000);
	armvm_error_clear(&e);
	armvm_close(c);
	json_decref(result);
	return r == ARMVM_OK;
}

static void test_huge_line(void)
{
	size_t size = 10u << 20;
	char *big = malloc(size);
	int fd = raw_connect();
	bool closed = false, sent;
	json_t *r;

	if (!big || fd < 0) {
		check(false, "10 MB line", "setup");
		free(big);
		return;
	}
	memset(big, ' ', size);
	memcpy(big, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"host.info\",\"x\":\"", 48);
	big[size - 1] = '\n';
	sent = send_all(fd, big, size);	/* may fail once the daemon closes */
	r = read_json_line(fd, 10000, &closed);
	check((r && code_of(r) == ARMVM_E_TOO_LARGE) || closed || !sent,
	      "10 MB line gets -32001 or a closed connection", NULL);
	json_decref(r);
	close(fd);
	free(big);
	check(daemon_serves(), "  ...and the daemon serves others", NULL);
}

static void test_disconnect_mid_request(void)
{
	for (int i = 0; i < 20; i++) {
		int fd = raw_connect();

		if (fd < 0)
			break;
		send_all(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"meth", 30);
		close(fd);
	}
	check(daemon_serves(), "clients leaving mid-request", NULL);
}

static void test_slow_client_blocks_nobody(void)
{
	int slow = raw_connect();

	if (slow < 0) {
		check(false, "slow client", "cannot connect");
		return;
	}
	send_all(slow, "{\"jsonrpc\":\"2.0\",", 17);
	check(daemon_serves(), "a half-sent request blocks nobody", NULL);
	close(slow);
}

static void test_flood_without_reading(void)
{
	static const char req[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"rpc.methods\"}\n";
	int fd = raw_connect();
	int sent = 0;

	if (fd < 0) {
		check(false, "flood", "cannot connect");
		return;
	}
	/* never read: the daemon must bound what it queues for us */
	for (int i = 0; i < 20000; i++) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };

		if (poll(&p, 1, 2000) <= 0 || (p.revents & (POLLERR | POLLHUP)))
			break;
		if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) <= 0)
			break;
		sent++;
	}
	check(daemon_serves(), "a client that floods and never reads", NULL);
	close(fd);
	printf("     (flood sent %d requests before blocking)\n", sent);
}

static void test_many_clients(void)
{
	enum { N = 100 };
	static const char req[] = "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"host.info\"}\n";
	int fds[N];
	int answered = 0;
	bool closed;

	for (int i = 0; i < N; i++) {
		fds[i] = raw_connect();
		if (fds[i] >= 0)
			send_all(fds[i], req, sizeof(req) - 1);
	}
	for (int i = 0; i < N; i++) {
		if (fds[i] < 0)
			continue;
		json_t *r = read_json_line(fds[i], 10000, &closed);

		if (r && json_is_object(json_object_get(r, "result")))
			answered++;
		json_decref(r);
		close(fds[i]);
	}
	char detail[64];
	snprintf(detail, sizeof(detail), "%d of %d answered", answered, N);
	check(answered == N, "100 concurrent clients", detail);
}

static void test_batch(void)
{
	static const char req[] =
		"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"host.info\"},"
		"{\"jsonrpc\":\"2.0\",\"method\":\"host.info\"},"
		"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"no.such\"},7]\n";
	int fd = raw_connect();
	bool closed;
	json_t *r;

	send_all(fd, req, sizeof(req) - 1);
	r = read_json_line(fd, 10000, &closed);
	check(json_is_array(r) && json_array_size(r) == 3 &&
	      code_of(json_array_get(r, 1)) == ARMVM_E_NO_METHOD &&
	      code_of(json_array_get(r, 2)) == ARMVM_E_INVALID_REQUEST,
	      "batch: results, no answer to the notification, per-item errors", NULL);
	json_decref(r);

	/* a lone notification gets nothing back */
	send_all(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"host.info\"}\n", 39);
	r = read_json_line(fd, 1500, &closed);
	check(!r && !closed, "notification gets no answer", NULL);
	json_decref(r);
	close(fd);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	sock_path = armvm_default_socket();
	while ((c = getopt_long(argc, argv, "s:", opts, NULL)) != -1) {
		if (c != 's') {
			fprintf(stderr, "usage: rpc-abuse [--socket PATH]\n");
			return 2;
		}
		sock_path = optarg;
	}

	check(daemon_serves(), "daemon answers host.info", sock_path);
	expect_error("not JSON", "this is not json", ARMVM_E_PARSE);
	expect_error("binary garbage", "\x01\x02\xff\xfe{{", ARMVM_E_PARSE);
	expect_error("JSON, not JSON-RPC", "{\"hello\":\"world\"}", ARMVM_E_INVALID_REQUEST);
	expect_error("a bare number", "42", ARMVM_E_INVALID_REQUEST);
	expect_error("wrong version",
		     "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"host.info\"}",
		     ARMVM_E_INVALID_REQUEST);
	expect_error("empty batch", "[]", ARMVM_E_INVALID_REQUEST);
	expect_error("unknown method",
		     "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"vm.explode\"}",
		     ARMVM_E_NO_METHOD);
	expect_error("unknown parameter",
		     "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"host.info\",\"params\":{\"verbose\":true}}",
		     ARMVM_E_INVALID_PARAMS);
	expect_error("params of the wrong kind",
		     "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"host.info\",\"params\":\"all\"}",
		     ARMVM_E_INVALID_REQUEST);
	test_batch();
	test_huge_line();
	test_disconnect_mid_request();
	test_slow_client_blocks_nobody();
	test_flood_without_reading();
	test_many_clients();
	check(daemon_serves(), "daemon still answers at the end", NULL);

	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
