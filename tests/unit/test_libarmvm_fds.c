// SPDX-License-Identifier: MIT
/*
 * libarmvm passing descriptors: against a forked fake daemon that
 * recvmsg()s the raw stream (the descriptors come with the request's first
 * bytes, once, also when the line is too long for one write), and against
 * the real RPC server on a thread (server_call_fds hands the handler the
 * same files).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "libarmvm.h"
#include "rpc/rpc.h"
#include "rpc/server.h"

#define CHECK(x)							\
	do {								\
		if (!(x)) {						\
			fprintf(stderr, "fake daemon: %s:%d: %s\n",	\
				__FILE__, __LINE__, #x);		\
			_exit(1);					\
		}							\
	} while (0)

static char dir[64], sock_path[96];
static ino_t want[2];		/* the inodes the fake must receive */
static size_t pad_len;		/* a long request: partial writes */

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/armvm-test-fds-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(sock_path, sizeof(sock_path), "%s/armvmd.sock", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[96];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int make_file(const char *name, const char *text)
{
	char p[128];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	return fd;
}

static ino_t ino_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

/*
 * The fake: read the stream with recvmsg, note which reads brought
 * descriptors, check the line and the files, answer.
 */
static void fake_script(int fd)
{
	size_t cap = pad_len + 65536, len = 0;
	char *buf = malloc(cap), *nl = NULL;
	unsigned got = 0, batches = 0;
	size_t first_at = (size_t)-1;
	int fds[8];
	json_t *req, *params, *k, *disks, *ans;
	char *text;

	CHECK(buf);
	/* let the client's socket buffer fill up first */
	if (pad_len)
		usleep(200 * 1000);
	while (!nl) {
		union {
			struct cmsghdr h;
			char b[CMSG_SPACE(sizeof(int) * 8)];
		} ctl;
		struct iovec iov = { .iov_base = buf + len, .iov_len = cap - len };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
				    .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b) };
		ssize_t n = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);

		CHECK(n > 0);
		for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
			unsigned k2 = (unsigned)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));

			CHECK(h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS);
			CHECK(got + k2 <= 8);
			memcpy(fds + got, CMSG_DATA(h), k2 * sizeof(int));
			got += k2;
			batches++;
			first_at = len;
		}
		len += (size_t)n;
		CHECK(len < cap);
		nl = memchr(buf, '\n', len);
	}
	/* once, with the first bytes of the request */
	CHECK(batches == 1 && first_at == 0 && got == 2);
	CHECK((size_t)(nl - buf) + 1 == len);
	CHECK(ino_of(fds[0]) == want[0] && ino_of(fds[1]) == want[1]);
	/* shared with the client: read with pread */
	CHECK(pread(fds[0], buf + len, 6, 0) == 6 && !memcmp(buf + len, "kernel", 6));

	req = json_loadb(buf, len, 0, NULL);
	CHECK(req);
	params = json_object_get(req, "params");
	k = json_object_get(params, "kernel");
	CHECK(json_integer_value(json_object_get(k, "fd")) == 0);
	CHECK(!strcmp(json_string_value(json_object_get(k, "path")), "/boot/Image"));
	disks = json_object_get(params, "disks");
	CHECK(json_integer_value(json_object_get(json_array_get(disks, 0), "fd")) == 1);
	CHECK(!pad_len || strlen(json_string_value(json_object_get(params, "pad"))) == pad_len);
	ans = json_pack("{s:s, s:O, s:b}", "jsonrpc", "2.0", "id", json_object_get(req, "id"),
			"result", 1);
	text = json_dumps(ans, JSON_COMPACT);
	CHECK(text);
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text) && write(fd, "\n", 1) == 1);
	free(text);
	json_decref(ans);
	json_decref(req);
	free(buf);
}

static pid_t fake_start(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int lfd, cfd;
	pid_t pid;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(30);
		cfd = accept(lfd, NULL, NULL);
		CHECK(cfd >= 0);
		fake_script(cfd);
		close(cfd);
		_exit(0);
	}
	close(lfd);
	return pid;
}

static void fake_finish(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void call_with_fds(size_t pad)
{
	struct armvm_error e;
	json_t *params, *res = NULL;
	struct armvm *c;
	int fds[2], err, r;
	char *p = NULL;
	pid_t pid;

	fds[0] = make_file("kernel", "kernel image");
	fds[1] = make_file("disk", "disk image");
	want[0] = ino_of(fds[0]);
	want[1] = ino_of(fds[1]);
	pad_len = pad;
	pid = fake_start();

	params = json_pack("{s:o, s:[{s:i, s:s, s:b}]}",
			   "kernel", armvm_file_param(0, "/boot/Image"),
			   "disks", "fd", 1, "path", "/var/disk.img", "readonly", 0);
	assert_non_null(params);
	if (pad) {
		p = malloc(pad + 1);
		assert_non_null(p);
		memset(p, 'x', pad);
		p[pad] = '\0';
		json_object_set_new(params, "pad", json_string(p));
		free(p);
	}
	c = armvm_connect(sock_path, &err);
	assert_non_null(c);
	r = armvm_call_fds(c, "vm.create", params, fds, 2, &res, &e, 10000);
	assert_int_equal(r, ARMVM_OK);
	assert_true(json_is_true(res));
	json_decref(res);
	json_decref(params);
	armvm_close(c);
	fake_finish(pid);
	/* still the caller's */
	assert_true(fcntl(fds[0], F_GETFD) >= 0 && fcntl(fds[1], F_GETFD) >= 0);
	close(fds[0]);
	close(fds[1]);
}

static void test_fds_with_request(void **state)
{
	call_with_fds(0);
}

/* far more than a socket buffer: the descriptors go with the first part */
static void test_fds_partial_writes(void **state)
{
	call_with_fds(600 * 1024);
}

static void test_bad_arguments(void **state)
{
	int fds[ARMVM_MAX_FDS + 1] = { 0 };
	json_t *v, *res;
	struct armvm *c;
	pid_t pid;
	int err, lfd;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	v = armvm_file_param(3, "/a");
	assert_int_equal(json_integer_value(json_object_get(v, "fd")), 3);
	assert_string_equal(json_string_value(json_object_get(v, "path")), "/a");
	json_decref(v);
	v = armvm_file_param(0, NULL);
	assert_int_equal(json_object_size(v), 1);
	json_decref(v);
	assert_null(armvm_file_param(-1, "/a"));
	assert_null(armvm_file_param(0, "\xff"));

	/* refused before anything is sent: a listener nobody accepts on */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	c = armvm_connect(sock_path, &err);
	assert_non_null(c);
	assert_int_equal(armvm_call_fds(c, "x", NULL, fds, ARMVM_MAX_FDS + 1, &res, NULL, 100),
			 -E2BIG);
	assert_int_equal(armvm_call_fds(c, "x", NULL, NULL, 1, &res, NULL, 100), -EINVAL);
	armvm_close(c);
	close(lfd);
	(void)pid;
}

/* --- the real server, on a thread of its own --- */

static const struct rpc_param fds_params[] = {
	{ "kernel", RPC_T_ANY, false, "a file" },
	{ "disks", RPC_T_ANY, false, "files" },
	{ NULL },
};

/* the inodes of the descriptors that came, by index */
static int fds_handler(struct rpc_call *call, json_t *params, json_t **result)
{
	unsigned n;
	int *fds = server_call_fds(call->conn, &n);

	*result = json_array();
	for (unsigned i = 0; i < n; i++)
		json_array_append_new(*result, json_integer((json_int_t)ino_of(fds[i])));
	return 0;
}

static const struct rpc_method m_fds = {
	.name = "test.fds", .handler = fds_handler, .params = fds_params, .doc = "fds",
};
static const struct rpc_method *const fds_list[] = { &m_fds, NULL };
static const struct rpc_table fds_table = { .methods = fds_list };

struct served {
	struct ev_loop *loop;
	struct server srv;
	ev_async stop;
	pthread_t thread;
};

static void stop_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

static void *serve(void *arg)
{
	struct served *s = arg;

	ev_run(s->loop, 0);
	return NULL;
}

static void test_real_server(void **state)
{
	struct served s = { .srv = { .listen_fd = -1 } };
	struct armvm_error e;
	json_t *params, *res = NULL;
	struct armvm *c;
	int fds[3], err, r;

	s.loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(s.loop);
	assert_int_equal(server_listen(&s.srv, s.loop, sock_path, 0600, &fds_table, NULL), 0);
	ev_async_init(&s.stop, stop_cb);
	ev_async_start(s.loop, &s.stop);
	assert_int_equal(pthread_create(&s.thread, NULL, serve, &s), 0);

	fds[0] = make_file("k", "kernel");
	fds[1] = make_file("d0", "disk0");
	fds[2] = make_file("d1", "disk1");
	params = json_pack("{s:o, s:[o, o]}", "kernel", armvm_file_param(0, "/k"),
			   "disks", armvm_file_param(1, "/d0"), armvm_file_param(2, "/d1"));
	c = armvm_connect(sock_path, &err);
	assert_non_null(c);
	r = armvm_call_fds(c, "test.fds", params, fds, 3, &res, &e, 10000);
	assert_int_equal(r, ARMVM_OK);
	assert_int_equal(json_array_size(res), 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(json_integer_value(json_array_get(res, (size_t)i)),
				 (json_int_t)ino_of(fds[i]));
	json_decref(res);

	/* the next call without: none, the earlier ones were not kept */
	r = armvm_call_fds(c, "test.fds", NULL, NULL, 0, &res, &e, 10000);
	assert_int_equal(r, ARMVM_OK);
	assert_int_equal(json_array_size(res), 0);
	json_decref(res);
	json_decref(params);
	armvm_close(c);

	ev_async_send(s.loop, &s.stop);
	pthread_join(s.thread, NULL);
	server_close(&s.srv);
	ev_loop_destroy(s.loop);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_fds_with_request),
		T(test_fds_partial_writes),
		T(test_bad_arguments),
		T(test_real_server),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
