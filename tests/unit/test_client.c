// SPDX-License-Identifier: MIT
/*
 * libarmvm against a scripted fake daemon: a forked child that accepts one
 * connection on a Unix socket in a temporary directory.  The child reports
 * failures through its exit status, which fake_finish() checks.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "libarmvm.h"

struct fake {
	char dir[64];
	char path[96];
	pid_t pid;
};

typedef void (*fake_script)(int fd);

#define CHECK(x)							\
	do {								\
		if (!(x)) {						\
			fprintf(stderr, "fake daemon: %s:%d: %s\n",	\
				__FILE__, __LINE__, #x);		\
			_exit(1);					\
		}							\
	} while (0)

static void fake_start(struct fake *f, fake_script script)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int lfd, cfd;

	snprintf(f->dir, sizeof(f->dir), "/tmp/armvm-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/armvmd.sock", f->dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);

	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);

	fflush(NULL);
	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		alarm(30);
		do {
			cfd = accept(lfd, NULL, NULL);
		} while (cfd < 0 && errno == EINTR);
		CHECK(cfd >= 0);
		close(lfd);
		script(cfd);
		close(cfd);
		_exit(0);
	}
	close(lfd);
}

static void fake_finish(struct fake *f)
{
	int status;
	pid_t r;

	do {
		r = waitpid(f->pid, &status, 0);
	} while (r < 0 && errno == EINTR);
	assert_int_equal(r, f->pid);
	unlink(f->path);
	rmdir(f->dir);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static struct armvm *fake_connect(struct fake *f)
{
	struct armvm *c;
	int err = 1;

	c = armvm_connect(f->path, &err);
	assert_non_null(c);
	assert_int_equal(err, 0);
	assert_true(armvm_fd(c) >= 0);
	return c;
}

/* ---- the fake daemon's side ---- */

static void srv_write(int fd, const char *s, size_t len)
{
	ssize_t n;

	while (len) {
		n = send(fd, s, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		CHECK(n > 0);
		s += n;
		len -= n;
	}
}

static void srv_puts(int fd, const char *s)
{
	srv_write(fd, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3)))
srv_printf(int fd, const char *fmt, ...)
{
	char *s;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	CHECK(n >= 0);
	srv_write(fd, s, n);
	free(s);
}

/* One request line, or NULL at end of file. */
static json_t *srv_read(int fd)
{
	char buf[4096];
	size_t len = 0;
	json_error_t jerr;
	json_t *msg;
	ssize_t n;

	for (;;) {
		CHECK(len < sizeof(buf));
		n = read(fd, buf + len, 1);
		if (n < 0 && errno == EINTR)
			continue;
		CHECK(n >= 0);
		if (n == 0) {
			CHECK(len == 0);
			return NULL;
		}
		if (buf[len] == '\n')
			break;
		len++;
	}
	msg = json_loadb(buf, len, 0, &jerr);
	CHECK(msg);
	CHECK(json_is_object(msg));
	CHECK(json_is_string(json_object_get(msg, "jsonrpc")));
	CHECK(!strcmp(json_string_value(json_object_get(msg, "jsonrpc")), "2.0"));
	return msg;
}

static json_int_t srv_read_call(int fd, const char *method)
{
	json_t *req = srv_read(fd);
	json_t *id;
	json_int_t v;

	CHECK(req);
	CHECK(!strcmp(json_string_value(json_object_get(req, "method")),
		      method));
	id = json_object_get(req, "id");
	CHECK(json_is_integer(id));
	v = json_integer_value(id);
	json_decref(req);
	return v;
}

static void srv_wait_eof(int fd)
{
	json_t *msg = srv_read(fd);

	CHECK(!msg);
}

/* ---- tests ---- */

static void script_result(int fd)
{
	json_t *req, *want;
	json_int_t id;

	req = srv_read(fd);
	CHECK(req);
	CHECK(!strcmp(json_string_value(json_object_get(req, "method")),
		      "host.info"));
	CHECK(!json_object_get(req, "params"));
	id = json_integer_value(json_object_get(req, "id"));
	json_decref(req);
	/* split mid-message so the client has to reassemble the line */
	srv_printf(fd, "{\"jsonrpc\":\"2.0\",\"id\":%" JSON_INTEGER_FORMAT ",",
		   id);
	usleep(50000);
	srv_puts(fd, "\"result\":{\"arch\":\"aarch64\",\"kvm\":true}}\n");

	req = srv_read(fd);
	CHECK(req);
	CHECK(json_integer_value(json_object_get(req, "id")) == id + 1);
	want = json_pack("{s:i, s:[s]}", "x", 1, "y", "z");
	CHECK(json_equal(json_object_get(req, "params"), want));
	json_decref(want);
	json_decref(req);
	srv_printf(fd, "{\"jsonrpc\":\"2.0\",\"id\":%" JSON_INTEGER_FORMAT
		   ",\"result\":[1,2]}\n", id + 1);
	srv_wait_eof(fd);
}

static void test_call_result(void **state)
{
	struct armvm_error e;
	struct fake f;
	struct armvm *c;
	json_t *res, *params;

	(void)state;
	fake_start(&f, script_result);
	c = fake_connect(&f);

	assert_int_equal(armvm_call(c, "host.info", NULL, &res, &e), ARMVM_OK);
	assert_non_null(res);
	assert_string_equal(json_string_value(json_object_get(res, "arch")),
			    "aarch64");
	assert_true(json_is_true(json_object_get(res, "kvm")));
	json_decref(res);

	params = json_pack("{s:i, s:[s]}", "x", 1, "y", "z");
	assert_int_equal(armvm_call_timeout(c, "echo", params, &res, &e, 5000),
			 ARMVM_OK);
	json_decref(params);
	assert_true(json_is_array(res));
	assert_int_equal(json_array_size(res), 2);
	json_decref(res);

	armvm_close(c);
	fake_finish(&f);
}

static void script_error(int fd)
{
	json_int_t id = srv_read_call(fd, "vm.create");

	srv_printf(fd, "{\"jsonrpc\":\"2.0\",\"id\":%" JSON_INTEGER_FORMAT
		   ",\"error\":{\"code\":-32602,\"message\":\"bad memory\","
		   "\"data\":{\"param\":\"memory\",\"reason\":\"too big\"}}}\n",
		   id);
	/* an error the daemon could not tie to a request has id null */
	srv_read_call(fd, "vm.create");
	srv_puts(fd, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":"
		 "{\"code\":-32001,\"message\":\"request too large\"}}\n");
	srv_wait_eof(fd);
}

static void test_call_error(void **state)
{
	struct armvm_error e;
	struct fake f;
	struct armvm *c;
	json_t *res;
	int r;

	(void)state;
	fake_start(&f, script_error);
	c = fake_connect(&f);

	r = armvm_call(c, "vm.create", NULL, &res, &e);
	assert_int_equal(r, ARMVM_RPC_ERROR);
	assert_null(res);
	assert_int_equal(e.code, ARMVM_E_INVALID_PARAMS);
	assert_string_equal(e.message, "bad memory");
	assert_non_null(e.data);
	assert_string_equal(json_string_value(json_object_get(e.data, "param")),
			    "memory");
	assert_string_equal(json_string_value(json_object_get(e.data, "reason")),
			    "too big");
	assert_string_equal(armvm_strerror(r, &e), "bad memory");
	armvm_error_clear(&e);
	assert_null(e.data);

	r = armvm_call(c, "vm.create", NULL, &res, &e);
	assert_int_equal(r, ARMVM_RPC_ERROR);
	assert_int_equal(e.code, ARMVM_E_TOO_LARGE);
	assert_null(e.data);
	armvm_error_clear(&e);

	armvm_close(c);
	fake_finish(&f);
}

static void script_notify(int fd)
{
	json_int_t id = srv_read_call(fd, "vm.start");
	json_t *msg;

	srv_puts(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"vm.state\","
		 "\"params\":{\"name\":\"a\",\"state\":\"running\"}}\n");
	/* a late answer to some other call must be dropped */
	srv_puts(fd, "{\"jsonrpc\":\"2.0\",\"id\":999,\"result\":false}\n");
	srv_puts(fd, "\n{\"jsonrpc\":\"2.0\",\"method\":\"vm.console\"}\n");
	srv_printf(fd, "{\"jsonrpc\":\"2.0\",\"id\":%" JSON_INTEGER_FORMAT
		   ",\"result\":true}\n", id);

	msg = srv_read(fd);
	CHECK(msg);
	CHECK(!json_object_get(msg, "id"));
	CHECK(!strcmp(json_string_value(json_object_get(msg, "method")),
		      "client.hello"));
	CHECK(json_integer_value(json_object_get(json_object_get(msg, "params"),
						 "n")) == 7);
	json_decref(msg);
	srv_puts(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"vm.exit\"}\n");
	srv_wait_eof(fd);
}

static void test_notification_queued(void **state)
{
	struct armvm_error e;
	struct fake f;
	struct armvm *c;
	json_t *res, *msg, *params;

	(void)state;
	fake_start(&f, script_notify);
	c = fake_connect(&f);

	assert_int_equal(armvm_call(c, "vm.start", NULL, &res, &e), ARMVM_OK);
	assert_true(json_is_true(res));
	json_decref(res);

	assert_int_equal(armvm_next_notification(c, &msg, 0), 1);
	assert_string_equal(json_string_value(json_object_get(msg, "method")),
			    "vm.state");
	assert_string_equal(json_string_value(json_object_get(
		json_object_get(msg, "params"), "state")), "running");
	json_decref(msg);
	assert_int_equal(armvm_next_notification(c, &msg, 0), 1);
	assert_string_equal(json_string_value(json_object_get(msg, "method")),
			    "vm.console");
	json_decref(msg);
	assert_int_equal(armvm_next_notification(c, &msg, 0), 0);
	assert_null(msg);

	params = json_pack("{s:i}", "n", 7);
	assert_int_equal(armvm_notify(c, "client.hello", params), 0);
	json_decref(params);
	assert_int_equal(armvm_next_notification(c, &msg, 5000), 1);
	assert_string_equal(json_string_value(json_object_get(msg, "method")),
			    "vm.exit");
	json_decref(msg);
	assert_int_equal(armvm_next_notification(c, &msg, 50), 0);

	armvm_close(c);
	fake_finish(&f);
}

static void script_reset(int fd)
{
	srv_read_call(fd, "host.info");
	srv_puts(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"vm.state\"}\n");
	srv_puts(fd, "{\"jsonrpc\":\"2.0\",\"id\":1,\"resu");
}

static void test_reset_mid_response(void **state)
{
	struct armvm_error e;
	struct fake f;
	struct armvm *c;
	json_t *res, *msg;

	(void)state;
	fake_start(&f, script_reset);
	c = fake_connect(&f);

	assert_int_equal(armvm_call(c, "host.info", NULL, &res, &e),
			 -ECONNRESET);
	assert_null(res);
	assert_int_equal(armvm_call(c, "host.info", NULL, &res, &e),
			 -ECONNRESET);
	/* what arrived before the close is still delivered */
	assert_int_equal(armvm_next_notification(c, &msg, 1000), 1);
	json_decref(msg);
	assert_int_equal(armvm_next_notification(c, &msg, 1000), -ECONNRESET);
	assert_non_null(armvm_strerror(-ECONNRESET, NULL));

	armvm_close(c);
	fake_finish(&f);
}

static void script_timeout(int fd)
{
	json_int_t first = srv_read_call(fd, "slow");
	json_int_t second = srv_read_call(fd, "fast");

	srv_printf(fd, "{\"jsonrpc\":\"2.0\",\"id\":%" JSON_INTEGER_FORMAT
		   ",\"result\":\"first\"}\n", first);
	srv_printf(fd, "{\"jsonrpc\":\"2.0\",\"id\":%" JSON_INTEGER_FORMAT
		   ",\"result\":\"second\"}\n", second);
	srv_wait_eof(fd);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_timeout(void **state)
{
	struct armvm_error e;
	struct fake f;
	struct armvm *c;
	json_t *res;
	int64_t t0, dt;

	(void)state;
	fake_start(&f, script_timeout);
	c = fake_connect(&f);

	t0 = now_ms();
	assert_int_equal(armvm_call_timeout(c, "slow", NULL, &res, &e, 100),
			 -ETIMEDOUT);
	dt = now_ms() - t0;
	assert_in_range(dt, 95, 5000);
	assert_null(res);

	/* the late answer to "slow" must not be taken for this one */
	assert_int_equal(armvm_call_timeout(c, "fast", NULL, &res, &e, 5000),
			 ARMVM_OK);
	assert_string_equal(json_string_value(res), "second");
	json_decref(res);

	armvm_close(c);
	fake_finish(&f);
}

static volatile sig_atomic_t signals_seen;

static void on_usr1(int sig)
{
	(void)sig;
	signals_seen++;
}

static void script_eintr(int fd)
{
	json_int_t id = srv_read_call(fd, "host.info");
	int i;

	for (i = 0; i < 10; i++) {
		kill(getppid(), SIGUSR1);
		usleep(15000);
	}
	srv_printf(fd, "{\"jsonrpc\":\"2.0\",\"id\":%" JSON_INTEGER_FORMAT
		   ",\"result\":{}}\n", id);
	srv_read_call(fd, "host.info");
	for (i = 0; i < 10; i++) {
		kill(getppid(), SIGUSR1);
		usleep(15000);
	}
	srv_wait_eof(fd);
}

static void test_eintr(void **state)
{
	struct sigaction sa = { .sa_handler = on_usr1 }, old;
	struct armvm_error e;
	struct fake f;
	struct armvm *c;
	json_t *res;
	int64_t t0, dt;

	(void)state;
	/* no SA_RESTART: poll() really sees EINTR */
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
	signals_seen = 0;
	fake_start(&f, script_eintr);
	c = fake_connect(&f);

	assert_int_equal(armvm_call(c, "host.info", NULL, &res, &e), ARMVM_OK);
	json_decref(res);
	t0 = now_ms();
	assert_int_equal(armvm_call_timeout(c, "host.info", NULL, &res, &e,
					    300), -ETIMEDOUT);
	dt = now_ms() - t0;
	assert_in_range(dt, 295, 5000);
	assert_true(signals_seen > 0);

	armvm_close(c);
	fake_finish(&f);
	sigaction(SIGUSR1, &old, NULL);
}

#define BIG_RESULT (3u << 20)

static void script_big(int fd)
{
	json_int_t id = srv_read_call(fd, "big");
	char *s = malloc(BIG_RESULT);

	CHECK(s);
	memset(s, 'a', BIG_RESULT);
	srv_printf(fd, "{\"jsonrpc\":\"2.0\",\"id\":%" JSON_INTEGER_FORMAT
		   ",\"result\":\"", id);
	srv_write(fd, s, BIG_RESULT);
	srv_puts(fd, "\"}\n");
	free(s);
	srv_wait_eof(fd);
}

static void test_large_message(void **state)
{
	struct armvm_error e;
	struct fake f;
	struct armvm *c;
	json_t *res;

	(void)state;
	fake_start(&f, script_big);
	c = fake_connect(&f);
	assert_int_equal(armvm_call(c, "big", NULL, &res, &e), ARMVM_OK);
	assert_int_equal(json_string_length(res), BIG_RESULT);
	json_decref(res);
	armvm_close(c);
	fake_finish(&f);
}

static void srv_flood(int fd, size_t total)
{
	size_t chunk = 1u << 20, n;
	char *s = malloc(chunk);

	CHECK(s);
	memset(s, 'x', chunk);
	while (total) {
		n = total < chunk ? total : chunk;
		srv_write(fd, s, n);
		total -= n;
	}
	free(s);
}

static void script_oversized(int fd)
{
	json_int_t id;

	/* the client gives up before the line ends, then skips its tail */
	srv_read_call(fd, "huge");
	srv_flood(fd, (64u << 20) + 16);
	usleep(200000);
	srv_puts(fd, "\n{\"jsonrpc\":\"2.0\",\"method\":\"after\"}\n");

	/* a complete line one byte over the limit */
	srv_read_call(fd, "huge");
	srv_flood(fd, (64u << 20) + 1);
	srv_puts(fd, "\n");
	id = srv_read_call(fd, "small");
	srv_printf(fd, "{\"jsonrpc\":\"2.0\",\"id\":%" JSON_INTEGER_FORMAT
		   ",\"result\":1}\n", id);
	srv_wait_eof(fd);
}

static void test_oversized_line(void **state)
{
	struct armvm_error e;
	struct fake f;
	struct armvm *c;
	json_t *res, *msg;

	(void)state;
	fake_start(&f, script_oversized);
	c = fake_connect(&f);
	assert_int_equal(armvm_call(c, "huge", NULL, &res, &e), -EMSGSIZE);
	/* the client skips to the next line and carries on */
	assert_int_equal(armvm_next_notification(c, &msg, 10000), 1);
	assert_string_equal(json_string_value(json_object_get(msg, "method")),
			    "after");
	json_decref(msg);

	assert_int_equal(armvm_call(c, "huge", NULL, &res, &e), -EMSGSIZE);
	assert_int_equal(armvm_call(c, "small", NULL, &res, &e), ARMVM_OK);
	json_decref(res);
	armvm_close(c);
	fake_finish(&f);
}

static void script_refuse(int fd)
{
	char buf[65536];
	size_t got = 0;
	ssize_t n;

	/* read part of an endless request, refuse it, hang up */
	while (got < (1u << 20)) {
		n = read(fd, buf, sizeof(buf));
		CHECK(n > 0);
		got += n;
	}
	srv_puts(fd, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":"
		 "{\"code\":-32001,\"message\":\"Request too large\","
		 "\"data\":{\"max_bytes\":1048576}}}\n");
}

static void test_refused_while_sending(void **state)
{
	size_t big = 16u << 20;
	struct armvm_error e;
	struct fake f;
	struct armvm *c;
	json_t *res, *params;
	char *s;

	(void)state;
	s = malloc(big + 1);
	assert_non_null(s);
	memset(s, 'p', big);
	s[big] = '\0';
	params = json_pack("[s]", s);
	free(s);
	assert_non_null(params);

	fake_start(&f, script_refuse);
	c = fake_connect(&f);
	assert_int_equal(armvm_call(c, "vm.create", params, &res, &e),
			 ARMVM_RPC_ERROR);
	assert_int_equal(e.code, ARMVM_E_TOO_LARGE);
	armvm_error_clear(&e);
	assert_int_equal(armvm_call(c, "host.info", NULL, &res, &e),
			 -ECONNRESET);
	json_decref(params);
	armvm_close(c);
	fake_finish(&f);
}

static void script_garbage(int fd)
{
	srv_read_call(fd, "host.info");
	srv_puts(fd, "this is not json\n");
	srv_wait_eof(fd);
}

static void test_garbage(void **state)
{
	struct armvm_error e;
	struct fake f;
	struct armvm *c;
	json_t *res;

	(void)state;
	fake_start(&f, script_garbage);
	c = fake_connect(&f);
	assert_int_equal(armvm_call(c, "host.info", NULL, &res, &e), -EPROTO);
	armvm_close(c);
	fake_finish(&f);
}

static void test_connect_errors(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[] = "/tmp/armvm-test-XXXXXX", path[96], *longp;
	int err = 0, fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/missing.sock", dir);
	assert_null(armvm_connect(path, &err));
	assert_int_equal(err, -ENOENT);

	/* a socket file nobody listens on */
	snprintf(path, sizeof(path), "%s/stale.sock", dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_null(armvm_connect(path, &err));
	assert_int_equal(err, -ECONNREFUSED);
	unlink(path);
	rmdir(dir);

	longp = malloc(300);
	assert_non_null(longp);
	memset(longp, 'a', 299);
	longp[0] = '/';
	longp[299] = '\0';
	assert_null(armvm_connect(longp, &err));
	assert_int_equal(err, -ENAMETOOLONG);
	free(longp);

	assert_null(armvm_connect(path, NULL));
}

static void test_bad_arguments(void **state)
{
	struct armvm_error e;
	json_t *res = json_true(), *msg;
	json_t *scalar = json_integer(1);

	(void)state;
	assert_int_equal(armvm_call(NULL, "x", NULL, &res, &e), -EINVAL);
	assert_null(res);
	assert_int_equal(armvm_notify(NULL, "x", NULL), -EINVAL);
	assert_int_equal(armvm_next_notification(NULL, &msg, 0), -EINVAL);
	assert_int_equal(armvm_call(NULL, "x", scalar, &res, &e), -EINVAL);
	json_decref(scalar);
	assert_int_equal(armvm_fd(NULL), -1);
	armvm_close(NULL);
	armvm_error_clear(NULL);
	assert_non_null(armvm_strerror(-ETIMEDOUT, NULL));
	assert_non_null(armvm_strerror(ARMVM_RPC_ERROR, NULL));
	assert_string_equal(armvm_strerror(-ENOENT, NULL), strerror(ENOENT));
}

static void test_default_socket(void **state)
{
	const char *old = getenv("ARMVMD_SOCKET");
	char *saved = old ? strdup(old) : NULL;

	(void)state;
	assert_int_equal(unsetenv("ARMVMD_SOCKET"), 0);
	assert_string_equal(armvm_default_socket(), ARMVM_DEFAULT_SOCKET);
	assert_string_equal(ARMVM_DEFAULT_SOCKET, "/run/armvmd/armvmd.sock");
	assert_int_equal(setenv("ARMVMD_SOCKET", "/tmp/elsewhere.sock", 1), 0);
	assert_string_equal(armvm_default_socket(), "/tmp/elsewhere.sock");
	assert_int_equal(setenv("ARMVMD_SOCKET", "", 1), 0);
	assert_string_equal(armvm_default_socket(), ARMVM_DEFAULT_SOCKET);

	if (saved)
		setenv("ARMVMD_SOCKET", saved, 1);
	else
		unsetenv("ARMVMD_SOCKET");
	free(saved);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_call_result),
		cmocka_unit_test(test_call_error),
		cmocka_unit_test(test_notification_queued),
		cmocka_unit_test(test_reset_mid_response),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_eintr),
		cmocka_unit_test(test_large_message),
		cmocka_unit_test(test_oversized_line),
		cmocka_unit_test(test_refused_while_sending),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_connect_errors),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_default_socket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
