// SPDX-License-Identifier: MIT
/* The JSON-RPC 2.0 codec, parameter checking and the socket server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rpc/limits.h"
#include "rpc/server.h"
#include "daemon/api.h"
#include "daemon/daemon.h"
#include "daemon/events.h"
#include "rpc/rpc.h"

static const struct rpc_param echo_params[] = {
	{ "text", RPC_T_STRING, true, "what to echo" },
	{ "times", RPC_T_INT, false, "how often" },
	{ "loud", RPC_T_BOOL, false, "upper case" },
	{ NULL },
};

static int calls;

static int echo_handler(struct rpc_call *call, json_t *params, json_t **result)
{
	json_t *times = json_object_get(params, "times");

	calls++;
	if (times && json_integer_value(times) < 0)
		return rpc_fail(call, ARMVM_E_INVALID_PARAMS,
				json_pack("{s:s}", "param", "times"),
				"times must not be negative");
	*result = json_copy(params);
	return 0;
}

static int broken_handler(struct rpc_call *call, json_t *params, json_t **result)
{
	return -1;	/* forgot to say why: the codec must still answer */
}

static struct rpc_call *parked;

static int later_handler(struct rpc_call *call, json_t *params, json_t **result)
{
	parked = rpc_defer(call);
	return parked ? RPC_DEFERRED : -1;
}

static const struct rpc_method m_later = {
	.name = "test.later", .handler = later_handler, .doc = "answers later",
};

static const struct rpc_method m_echo = {
	.name = "test.echo", .handler = echo_handler, .params = echo_params,
	.doc = "echo",
};
static const struct rpc_method m_broken = {
	.name = "test.broken", .handler = broken_handler, .doc = "fails",
};
static const struct rpc_method *const test_list[] = {
	&m_echo, &m_broken, &m_later, NULL
};
static const struct rpc_table test_table = { .methods = test_list };

static json_t *call_line(const char *line)
{
	return rpc_handle_line_sync(&test_table, NULL, line, strlen(line));
}

static int error_code(json_t *resp)
{
	json_t *e = json_object_get(resp, "error");

	assert_non_null(e);
	return (int)json_integer_value(json_object_get(e, "code"));
}

static void test_result(void **state)
{
	json_t *r = call_line("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"test.echo\","
			      "\"params\":{\"text\":\"hi\"}}");

	assert_non_null(r);
	assert_string_equal(json_string_value(json_object_get(r, "jsonrpc")), "2.0");
	assert_int_equal(json_integer_value(json_object_get(r, "id")), 7);
	assert_string_equal(json_string_value(json_object_get(
		json_object_get(r, "result"), "text")), "hi");
	assert_null(json_object_get(r, "error"));
	json_decref(r);
}

static void test_string_id_and_positional(void **state)
{
	json_t *r = call_line("{\"jsonrpc\":\"2.0\",\"id\":\"x1\",\"method\":\"test.echo\","
			      "\"params\":[\"a\",3]}");

	assert_string_equal(json_string_value(json_object_get(r, "id")), "x1");
	assert_int_equal(json_integer_value(json_object_get(
		json_object_get(r, "result"), "times")), 3);
	json_decref(r);
	r = call_line("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test.echo\","
		      "\"params\":[\"a\",3,true,4]}");
	assert_int_equal(error_code(r), ARMVM_E_INVALID_PARAMS);
	json_decref(r);
}

static void test_parse_error(void **state)
{
	static const char *const bad[] = {
		"not json", "{\"jsonrpc\":\"2.0\",", "{} trailing", "\"\\ud800\"x",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"method\":\"test.echo\"}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *r = call_line(bad[i]);

		assert_int_equal(error_code(r), ARMVM_E_PARSE);
		assert_true(json_is_null(json_object_get(r, "id")));
		json_decref(r);
	}
}

static void test_invalid_request(void **state)
{
	static const char *const bad[] = {
		"42", "\"str\"", "null",
		"{\"id\":1,\"method\":\"test.echo\"}",
		"{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"test.echo\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test.echo\",\"params\":\"x\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"test.echo\"}",
		"[]",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *r = call_line(bad[i]);

		assert_non_null(r);
		assert_int_equal(error_code(r), ARMVM_E_INVALID_REQUEST);
		json_decref(r);
	}
}

static void test_method_not_found(void **state)
{
	json_t *r = call_line("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"vm.nope\"}");

	assert_int_equal(error_code(r), ARMVM_E_NO_METHOD);
	assert_string_equal(json_string_value(json_object_get(
		json_object_get(json_object_get(r, "error"), "data"), "method")),
		"vm.nope");
	json_decref(r);
}

static void test_params_strict(void **state)
{
	struct { const char *params; const char *param; const char *reason; } cases[] = {
		{ "{}", "text", "missing" },
		{ "{\"text\":1}", "text", "wrong type" },
		{ "{\"text\":\"a\",\"times\":\"2\"}", "times", "wrong type" },
		{ "{\"text\":\"a\",\"tims\":2}", "tims", "unknown parameter" },
		{ "{\"text\":\"a\",\"times\":1.5}", "times", "wrong type" },
	};
	char line[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":1,"
			 "\"method\":\"test.echo\",\"params\":%s}", cases[i].params);
		json_t *r = call_line(line);
		json_t *data = json_object_get(json_object_get(r, "error"), "data");

		assert_int_equal(error_code(r), ARMVM_E_INVALID_PARAMS);
		assert_string_equal(json_string_value(json_object_get(data, "param")),
				    cases[i].param);
		assert_string_equal(json_string_value(json_object_get(data, "reason")),
				    cases[i].reason);
		json_decref(r);
	}
}

static void test_handler_errors(void **state)
{
	json_t *r = call_line("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test.echo\","
			      "\"params\":{\"text\":\"a\",\"times\":-1}}");

	assert_int_equal(error_code(r), ARMVM_E_INVALID_PARAMS);
	json_decref(r);
	r = call_line("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test.broken\"}");
	assert_int_equal(error_code(r), ARMVM_E_INTERNAL);
	json_decref(r);
}

static void test_notifications(void **state)
{
	int before = calls;

	/* runs, but gets no answer, not even for errors */
	assert_null(call_line("{\"jsonrpc\":\"2.0\",\"method\":\"test.echo\","
			      "\"params\":{\"text\":\"n\"}}"));
	assert_int_equal(calls, before + 1);
	assert_null(call_line("{\"jsonrpc\":\"2.0\",\"method\":\"vm.nope\"}"));
	assert_null(call_line("{\"jsonrpc\":\"2.0\",\"method\":\"test.echo\"}"));
	/* id null is a request, not a notification */
	json_t *r = call_line("{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"test.echo\","
			      "\"params\":{\"text\":\"n\"}}");
	assert_non_null(r);
	assert_true(json_is_null(json_object_get(r, "id")));
	json_decref(r);
}

static void test_batch(void **state)
{
	json_t *r = call_line("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test.echo\","
			      "\"params\":{\"text\":\"a\"}},"
			      "{\"jsonrpc\":\"2.0\",\"method\":\"test.echo\",\"params\":{\"text\":\"b\"}},"
			      "{\"foo\":\"boo\"}, 1,"
			      "{\"jsonrpc\":\"2.0\",\"id\":\"z\",\"method\":\"nope\"}]");

	assert_true(json_is_array(r));
	assert_int_equal(json_array_size(r), 4);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(r, 0), "id")), 1);
	assert_int_equal(error_code(json_array_get(r, 1)), ARMVM_E_INVALID_REQUEST);
	assert_int_equal(error_code(json_array_get(r, 2)), ARMVM_E_INVALID_REQUEST);
	assert_int_equal(error_code(json_array_get(r, 3)), ARMVM_E_NO_METHOD);
	json_decref(r);

	/* a batch of notifications only: nothing at all comes back */
	assert_null(call_line("[{\"jsonrpc\":\"2.0\",\"method\":\"test.echo\","
			      "\"params\":{\"text\":\"a\"}}]"));
}

static void test_real_table(void **state)
{
	const char *line = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"rpc.methods\"}";
	json_t *r = rpc_handle_line_sync(&armvmd_methods, NULL, line, strlen(line));
	json_t *list = json_object_get(r, "result");
	bool host_info = false;
	size_t i;
	json_t *m;

	assert_true(json_is_array(list));
	json_array_foreach(list, i, m) {
		assert_non_null(json_string_value(json_object_get(m, "doc")));
		if (!strcmp(json_string_value(json_object_get(m, "name")), "host.info"))
			host_info = true;
	}
	assert_true(host_info);
	json_decref(r);

	line = "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"host.info\"}";
	r = rpc_handle_line_sync(&armvmd_methods, NULL, line, strlen(line));
	assert_true(json_is_boolean(json_object_get(json_object_get(r, "result"), "kvm")));
	json_decref(r);
}

static void collect(void *conn, json_t *msg)
{
	json_t **out = conn;

	json_decref(*out);
	*out = json_incref(msg);
}

static int refs;
static void test_ref(void *conn) { refs++; }
static void test_unref(void *conn) { refs--; }

static void test_deferred(void **state)
{
	static const struct rpc_conn_ops ops = {
		.send = collect, .ref = test_ref, .unref = test_unref,
	};
	json_t *out = NULL;
	const char *one = "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"test.later\"}";
	const char *batch = "[{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"test.later\"},"
			    "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"test.echo\","
			    "\"params\":{\"text\":\"now\"}}]";

	rpc_handle_line(&test_table, NULL, &out, &ops, one, strlen(one));
	assert_null(out);
	assert_non_null(parked);
	assert_int_equal(refs, 1);	/* the connection is held meanwhile */
	rpc_deferred_reply(parked, json_string("done"));
	assert_int_equal(refs, 0);
	assert_string_equal(json_string_value(json_object_get(out, "result")), "done");
	assert_int_equal(json_integer_value(json_object_get(out, "id")), 4);
	json_decref(out);
	out = NULL;

	/* a batch waits for its slowest member and keeps the order */
	rpc_handle_line(&test_table, NULL, &out, &ops, batch, strlen(batch));
	assert_null(out);
	rpc_deferred_fail(parked, ARMVM_E_STATE, json_pack("{s:s}", "state", "x"),
			  "not now");
	assert_true(json_is_array(out));
	assert_int_equal(json_array_size(out), 2);
	assert_int_equal(error_code(json_array_get(out, 0)), ARMVM_E_STATE);
	assert_string_equal(json_string_value(json_object_get(json_object_get(
		json_array_get(out, 1), "result"), "text")), "now");
	assert_int_equal(refs, 0);
	json_decref(out);
}

static void test_deferred_after_client_left(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct server srv = { .loop = loop, .table = &test_table, .listen_fd = -1 };
	const char *req = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test.later\"}\n";
	int sv[2];

	parked = NULL;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(server_add_client(&srv, sv[0]), 0);
	assert_int_equal(write(sv[1], req, strlen(req)), (ssize_t)strlen(req));
	for (int i = 0; i < 100 && !parked; i++) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(1000);
	}
	assert_non_null(parked);
	close(sv[1]);
	for (int i = 0; i < 50; i++)
		ev_run(loop, EVRUN_NOWAIT);
	/* still waiting for its answer: EOF may be a half-close */
	assert_int_equal(srv.nclients, 1);
	/* the answer has nowhere to go: dropped, and the client with it */
	rpc_deferred_reply(parked, json_true());
	for (int i = 0; i < 50; i++)
		ev_run(loop, EVRUN_NOWAIT);
	assert_int_equal(srv.nclients, 0);
	server_close(&srv);
	ev_loop_destroy(loop);
}

/* socat and friends: send, shut down writing, read the (late) answer */
static void test_deferred_after_half_close(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct server srv = { .loop = loop, .table = &test_table, .listen_fd = -1 };
	const char *req = "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"test.later\"}\n";
	char buf[256];
	ssize_t n;
	int sv[2];

	parked = NULL;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(server_add_client(&srv, sv[0]), 0);
	assert_int_equal(write(sv[1], req, strlen(req)), (ssize_t)strlen(req));
	shutdown(sv[1], SHUT_WR);
	for (int i = 0; i < 100 && !parked; i++) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(1000);
	}
	assert_non_null(parked);
	assert_int_equal(srv.nclients, 1);
	rpc_deferred_reply(parked, json_string("late"));
	for (int i = 0; i < 50; i++)
		ev_run(loop, EVRUN_NOWAIT);
	n = recv(sv[1], buf, sizeof(buf) - 1, MSG_DONTWAIT);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "\"late\""));
	/* answered and done: the server closed its side */
	assert_int_equal(srv.nclients, 0);
	assert_int_equal(recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT), 0);
	close(sv[1]);
	server_close(&srv);
	ev_loop_destroy(loop);
}

/* --- the socket server over a socketpair --- */

static void run_loop_briefly(struct ev_loop *loop)
{
	for (int i = 0; i < 50; i++)
		ev_run(loop, EVRUN_NOWAIT);
}

static char *read_reply(int fd, struct ev_loop *loop)
{
	static char buf[1 << 16];
	size_t len = 0;

	for (int tries = 0; tries < 200; tries++) {
		run_loop_briefly(loop);
		ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, MSG_DONTWAIT);
		if (n > 0)
			len += (size_t)n;
		else if (n == 0)
			break;
		if (len && buf[len - 1] == '\n')
			break;
		usleep(1000);
	}
	buf[len] = '\0';
	return buf;
}

static void test_server_lines(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct server srv = { .loop = loop, .table = &test_table, .listen_fd = -1 };
	int sv[2];
	char *reply;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(server_add_client(&srv, sv[0]), 0);

	/* two pipelined requests in one write, the second split in two */
	const char *a = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test.echo\",\"params\":{\"text\":\"a\"}}\n"
			"\n{\"jsonrpc\":\"2.0\",\"id\":2,\"met";
	const char *b = "hod\":\"test.echo\",\"params\":{\"text\":\"b\"}}\n";
	assert_int_equal(write(sv[1], a, strlen(a)), (ssize_t)strlen(a));
	reply = read_reply(sv[1], loop);
	assert_non_null(strstr(reply, "\"id\":1"));
	assert_null(strstr(reply, "\"id\":2"));
	assert_int_equal(write(sv[1], b, strlen(b)), (ssize_t)strlen(b));
	reply = read_reply(sv[1], loop);
	assert_non_null(strstr(reply, "\"id\":2"));
	assert_int_equal(srv.nclients, 1);

	/* an endless line is cut off with -32001 and the connection closed */
	size_t bigsz = (size_t)limits_defaults()->max_line / 4;
	char *big = malloc(bigsz);
	assert_non_null(big);
	memset(big, 'x', bigsz);
	for (int i = 0; i < 5 && srv.nclients; i++) {
		ssize_t n = send(sv[1], big, bigsz, MSG_DONTWAIT | MSG_NOSIGNAL);
		(void)n;
		run_loop_briefly(loop);
	}
	free(big);
	reply = read_reply(sv[1], loop);
	assert_non_null(strstr(reply, "-32001"));
	assert_int_equal(srv.nclients, 0);
	close(sv[1]);

	/* a client that leaves mid-request is just gone */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(server_add_client(&srv, sv[0]), 0);
	assert_int_equal(write(sv[1], "{\"jsonrpc\":", 11), 11);
	close(sv[1]);
	run_loop_briefly(loop);
	assert_int_equal(srv.nclients, 0);

	/* a client that shuts down writing still gets its answer */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(server_add_client(&srv, sv[0]), 0);
	const char *c = "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"test.echo\",\"params\":{\"text\":\"c\"}}\n";
	assert_int_equal(write(sv[1], c, strlen(c)), (ssize_t)strlen(c));
	shutdown(sv[1], SHUT_WR);
	reply = read_reply(sv[1], loop);
	assert_non_null(strstr(reply, "\"id\":3"));
	close(sv[1]);
	run_loop_briefly(loop);
	assert_int_equal(srv.nclients, 0);

	server_close(&srv);
	ev_loop_destroy(loop);
}

/* --- the bounds --- */

static struct armvmd_limits test_limits;

static const struct armvmd_limits *get_test_limits(void *conn)
{
	return &test_limits;
}

static json_t *data_of(json_t *resp)
{
	return json_object_get(json_object_get(resp, "error"), "data");
}

static const char *limit_of(json_t *resp)
{
	return json_string_value(json_object_get(data_of(resp), "limit"));
}

static void test_limits_parse(void **state)
{
	struct armvmd_limits l;
	char why[256];
	json_t *j;

	limits_default(&l);
	assert_int_equal(limits_check(&l, why, sizeof(why)), 0);
	assert_int_equal(l.max_line, 1u << 20);
	assert_int_equal(l.worker_call_timeout_s, 15);
	assert_int_equal(l.kill_grace_s, 2);
	/* 4.25 GiB of sparse guest RAM on a 3 GiB host */
	assert_true(3. * (1u << 30) * l.overcommit >= 4.25 * (1u << 30));

	assert_int_equal(limits_set(&l, "max-clients", "12", why, sizeof(why)), 0);
	assert_int_equal(l.max_clients, 12);
	assert_int_equal(limits_set(&l, "max_line", "2M", why, sizeof(why)), 0);
	assert_int_equal(l.max_line, 2u << 20);
	assert_int_equal(limits_set(&l, "max-answer", "16MiB", why, sizeof(why)), 0);
	assert_int_equal(l.max_answer, 16u << 20);
	assert_int_equal(limits_parse(&l, "idle-partial-s=250ms", why, sizeof(why)), 0);
	assert_true(l.idle_partial_s > 0.249 && l.idle_partial_s < 0.251);
	assert_int_equal(limits_parse(&l, "overcommit=1.5", why, sizeof(why)), 0);
	assert_true(l.overcommit == 1.5);
	assert_int_equal(limits_parse(&l, "max-guest-mem=0", why, sizeof(why)), 0);

	static const char *const bad[] = {
		"max-clients=-1", "max-clients=1.5", "max-clients=", "max-line=1k",
		"max-line=0x10", "max-line=1e6", "max-line=12Q", "no-such=1", "max-line",
		"=5", "overcommit=nan", "idle-partial=0", "idle-partial-ss=1", "max-batch=0",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		assert_int_equal(limits_parse(&l, bad[i], why, sizeof(why)), -1);
		assert_true(why[0] != '\0');
	}

	limits_default(&l);
	l.max_buffered = 64 << 10;
	assert_int_equal(limits_check(&l, why, sizeof(why)), -1);

	limits_default(&l);
	j = limits_to_json(&l);
	assert_int_equal(json_integer_value(json_object_get(j, "max-line")), 1 << 20);
	assert_int_equal(json_integer_value(json_object_get(j, "max-batch")), l.max_batch);
	assert_true(json_is_real(json_object_get(j, "overcommit")));
	assert_non_null(json_object_get(j, "kill-grace"));
	assert_non_null(json_object_get(j, "idle-partial"));
	assert_int_equal(limits_parse(&l, "kill-grace=3", why, sizeof(why)), 0);
	assert_true(l.kill_grace_s == 3);
	json_decref(j);
	/* the host's memory when no bound is set */
	assert_true(limits_guest_mem(&l, false) > 0);
	l.max_guest_mem_per_uid = 5 << 20;
	assert_int_equal(limits_guest_mem(&l, true), 5 << 20);
}

static void test_batch_limit(void **state)
{
	static const struct rpc_conn_ops ops = {
		.send = collect, .limits = get_test_limits,
	};
	const char *req = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test.echo\","
			  "\"params\":{\"text\":\"a\"}}";
	char line[1024];
	json_t *out = NULL;
	int before;

	limits_default(&test_limits);
	test_limits.max_batch = 3;
	snprintf(line, sizeof(line), "[%s,%s,%s,%s]", req, req, req, req);
	before = calls;
	rpc_handle_line(&test_table, NULL, &out, &ops, line, strlen(line));
	/* one error, no call run */
	assert_true(json_is_object(out));
	assert_int_equal(error_code(out), ARMVM_E_INVALID_REQUEST);
	assert_string_equal(limit_of(out), "max-batch");
	assert_int_equal(json_integer_value(json_object_get(data_of(out), "max")), 3);
	assert_int_equal(json_integer_value(json_object_get(data_of(out), "given")), 4);
	assert_int_equal(calls, before);
	json_decref(out);
	out = NULL;

	snprintf(line, sizeof(line), "[%s,%s,%s]", req, req, req);
	rpc_handle_line(&test_table, NULL, &out, &ops, line, strlen(line));
	assert_true(json_is_array(out));
	assert_int_equal(json_array_size(out), 3);
	assert_int_equal(calls, before + 3);
	json_decref(out);
	out = NULL;

	/* commas in strings (escaped quotes too) and in nested values are
	 * not members: counted before parsing, this is a batch of three */
	const char *tricky = " [ {\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test.echo\","
			     "\"params\":{\"text\":\"a,b],[c\\\",d\"}},"
			     "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"test.echo\","
			     "\"params\":[\"x,y\",1,true]},"
			     "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"test.echo\","
			     "\"params\":{\"text\":\"{,,,}\"}} ]";
	before = calls;
	rpc_handle_line(&test_table, NULL, &out, &ops, tricky, strlen(tricky));
	assert_true(json_is_array(out));
	assert_int_equal(json_array_size(out), 3);
	assert_string_equal(json_string_value(json_object_get(json_object_get(
		json_array_get(out, 0), "result"), "text")), "a,b],[c\",d");
	assert_int_equal(calls, before + 3);
	json_decref(out);
	out = NULL;

	/* not JSON, but plainly a long batch: refused unparsed */
	const char *junk = "[1,2,3,4,";
	rpc_handle_line(&test_table, NULL, &out, &ops, junk, strlen(junk));
	assert_string_equal(limit_of(out), "max-batch");
	json_decref(out);
	out = NULL;
	/* a short one is parsed, and is a parse error */
	rpc_handle_line(&test_table, NULL, &out, &ops, "[1,\"", 4);
	assert_int_equal(error_code(out), ARMVM_E_PARSE);
	json_decref(out);

	/* the default, without a connection's limits */
	size_t n = limits_defaults()->max_batch + 1, len = 0;
	char *big = malloc(n * 64 + 2);
	assert_non_null(big);
	big[len++] = '[';
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(big + len, "%s{\"jsonrpc\":\"2.0\",\"method\":\"test.echo\"}",
				       i ? "," : "");
	big[len++] = ']';
	before = calls;
	out = rpc_handle_line_sync(&test_table, NULL, big, len);
	assert_string_equal(limit_of(out), "max-batch");
	assert_int_equal(calls, before);
	json_decref(out);
	free(big);
}

static void test_answer_limit(void **state)
{
	static const struct rpc_conn_ops ops = {
		.send = collect, .limits = get_test_limits,
	};
	char text[301], line[2048];
	json_t *out = NULL;

	limits_default(&test_limits);
	test_limits.max_answer = 200;
	memset(text, 'y', 300);
	text[300] = '\0';
	snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"test.echo\","
		 "\"params\":{\"text\":\"%s\"}}", text);
	rpc_handle_line(&test_table, NULL, &out, &ops, line, strlen(line));
	assert_int_equal(error_code(out), ARMVM_E_TOO_LARGE);
	assert_int_equal(json_integer_value(json_object_get(out, "id")), 7);
	assert_string_equal(limit_of(out), "max-answer");
	assert_int_equal(json_integer_value(json_object_get(data_of(out), "max")), 200);
	json_decref(out);
	out = NULL;

	/* in a batch, the answers that take the whole past the bound */
	text[80] = '\0';
	snprintf(line, sizeof(line), "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test.echo\","
		 "\"params\":{\"text\":\"%s\"}},{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":"
		 "\"test.echo\",\"params\":{\"text\":\"%s\"}},{\"jsonrpc\":\"2.0\",\"id\":3,"
		 "\"method\":\"test.echo\",\"params\":{\"text\":\"%s\"}}]", text, text, text);
	rpc_handle_line(&test_table, NULL, &out, &ops, line, strlen(line));
	assert_int_equal(json_array_size(out), 3);
	assert_non_null(json_object_get(json_array_get(out, 0), "result"));
	assert_int_equal(error_code(json_array_get(out, 2)), ARMVM_E_TOO_LARGE);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(out, 2), "id")), 3);
	json_decref(out);
}

/* everything the peer gets until the server closes (or 2 s pass) */
static size_t drain(int fd, struct ev_loop *loop, char *buf, size_t cap, bool *eof)
{
	size_t len = 0;

	*eof = false;
	for (int tries = 0; tries < 2000 && !*eof; tries++) {
		ev_run(loop, EVRUN_NOWAIT);
		ssize_t n = recv(fd, buf + len, cap - 1 - len, MSG_DONTWAIT);
		if (n > 0)
			len += (size_t)n;
		else if (n == 0 || (n < 0 && errno != EAGAIN))
			*eof = true;
		else
			usleep(1000);
		if (len == cap - 1)
			len = 0;	/* only the end matters */
	}
	buf[len] = '\0';
	return len;
}

/* the last complete line of buf, parsed */
static json_t *last_line(char *buf, size_t len)
{
	char *end, *start;

	if (!len || buf[len - 1] != '\n')
		return NULL;
	end = buf + len - 1;
	*end = '\0';
	start = memrchr(buf, '\n', (size_t)(end - buf));
	return json_loads(start ? start + 1 : buf, 0, NULL);
}

static int closed_count;
static void *closed_conn;
static void count_close(struct server *srv, void *conn)
{
	closed_count++;
	closed_conn = conn;
}

static void test_server_max_buffered(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct server srv = { .loop = loop, .table = &test_table, .listen_fd = -1,
			      .limits = &test_limits, .on_close = count_close };
	static char buf[1 << 20];
	int sv[2], small = 4096, r = 0, i;
	bool eof;
	json_t *msg, *e;
	size_t len;

	limits_default(&test_limits);
	test_limits.max_buffered = 64 << 10;
	test_limits.pause_output = 16 << 10;
	test_limits.max_answer = 16 << 10;
	closed_count = 0;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	assert_int_equal(server_add_client(&srv, sv[0]), 0);
	void *conn = srv.clients;

	memset(buf, 'e', 1000);
	buf[1000] = '\0';
	msg = json_pack("{s:s, s:s, s:{s:s}}", "jsonrpc", "2.0", "method", "event",
			"params", "line", buf);
	for (i = 0; i < 1000 && r == 0; i++)
		r = server_send(conn, msg);
	json_decref(msg);
	assert_int_equal(r, -1);
	assert_true(i > 50);		/* 64 KiB of it were taken */
	/* on_close comes from the loop, not from inside server_send */
	assert_int_equal(closed_count, 0);
	assert_int_equal(server_send(conn, json_null()), -1);

	len = drain(sv[1], loop, buf, sizeof(buf), &eof);
	assert_true(eof);
	e = last_line(buf, len);
	assert_non_null(e);
	assert_int_equal(error_code(e), ARMVM_E_LIMIT);
	assert_string_equal(limit_of(e), "max-buffered");
	assert_true(json_is_null(json_object_get(e, "id")));
	json_decref(e);
	for (i = 0; i < 10; i++)
		ev_run(loop, EVRUN_NOWAIT);
	assert_int_equal(closed_count, 1);
	assert_ptr_equal(closed_conn, conn);
	assert_int_equal(srv.nclients, 0);
	close(sv[1]);
	server_close(&srv);
	ev_loop_destroy(loop);
}

/* A client that does not read is not read: its requests wait, and all
 * are answered once it reads, without sending anything more. */
static void test_server_pause(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct server srv = { .loop = loop, .table = &test_table, .listen_fd = -1,
			      .limits = &test_limits };
	static char req[200 * 256], buf[1 << 16];
	int sv[2], small = 4096, before = calls, answered = 0;
	size_t len = 0;

	limits_default(&test_limits);
	test_limits.pause_output = 4096;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	assert_int_equal(server_add_client(&srv, sv[0]), 0);
	for (int i = 0; i < 200; i++)
		len += (size_t)sprintf(req + len, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":"
				       "\"test.echo\",\"params\":{\"text\":\"%080d\"}}\n", i, i);
	assert_int_equal(send(sv[1], req, len, 0), (ssize_t)len);
	run_loop_briefly(loop);
	assert_true(calls - before < 200);	/* paused */
	assert_true(calls - before > 0);
	for (int tries = 0; tries < 2000 && answered < 200; tries++) {
		ev_run(loop, EVRUN_NOWAIT);
		ssize_t n = recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT);
		for (ssize_t k = 0; k < n; k++)
			answered += buf[k] == '\n';
		if (n <= 0)
			usleep(500);
	}
	assert_int_equal(answered, 200);
	assert_int_equal(calls - before, 200);
	assert_int_equal(srv.nclients, 1);
	close(sv[1]);
	run_loop_briefly(loop);
	server_close(&srv);
	ev_loop_destroy(loop);
}

static void test_server_idle_partial(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct server srv = { .loop = loop, .table = &test_table, .listen_fd = -1,
			      .limits = &test_limits };
	static char buf[4096];
	int sv[2];
	bool eof;
	size_t len;
	json_t *e;

	limits_default(&test_limits);
	test_limits.idle_partial_s = 0.05;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(server_add_client(&srv, sv[0]), 0);
	/* complete lines and keep-alives are not idle */
	const char *a = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test.echo\",\"params\":{\"text\":\"a\"}}\n";
	assert_int_equal(write(sv[1], a, strlen(a)), (ssize_t)strlen(a));
	for (int i = 0; i < 10; i++) {
		usleep(10000);
		assert_int_equal(write(sv[1], "\n", 1), 1);
		run_loop_briefly(loop);
	}
	assert_int_equal(srv.nclients, 1);
	assert_int_equal(write(sv[1], "{\"jsonrpc\":", 11), 11);
	len = drain(sv[1], loop, buf, sizeof(buf), &eof);
	assert_true(eof);
	e = last_line(buf, len);
	assert_non_null(e);
	assert_int_equal(error_code(e), ARMVM_E_LIMIT);
	assert_string_equal(limit_of(e), "idle-partial");
	json_decref(e);
	run_loop_briefly(loop);
	assert_int_equal(srv.nclients, 0);
	close(sv[1]);
	server_close(&srv);
	ev_loop_destroy(loop);
}

static void refused_with(struct server *srv, const char *limit)
{
	static char buf[4096];
	int sv[2];
	bool eof;
	size_t len;
	json_t *e;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(server_add_client(srv, sv[0]), -EMFILE);
	len = drain(sv[1], srv->loop, buf, sizeof(buf), &eof);
	assert_true(eof);
	e = last_line(buf, len);
	assert_non_null(e);
	assert_int_equal(error_code(e), ARMVM_E_LIMIT);
	assert_string_equal(limit_of(e), limit);
	json_decref(e);
	close(sv[1]);
}

static void test_server_max_clients(void **state)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct server srv = { .loop = loop, .table = &test_table, .listen_fd = -1,
			      .limits = &test_limits };
	int sv[4][2];

	limits_default(&test_limits);
	test_limits.max_clients = 3;
	test_limits.max_clients_per_uid = 2;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i]), 0);
		assert_int_equal(server_add_client(&srv, sv[i][0]), 0);
	}
	/* one uid (ours) */
	refused_with(&srv, "max-clients-per-uid");
	test_limits.max_clients_per_uid = 10;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv[2]), 0);
	assert_int_equal(server_add_client(&srv, sv[2][0]), 0);
	refused_with(&srv, "max-clients");
	assert_int_equal(srv.nclients, 3);
	/* one leaves: room again */
	close(sv[0][1]);
	run_loop_briefly(loop);
	assert_int_equal(srv.nclients, 2);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv[3]), 0);
	assert_int_equal(server_add_client(&srv, sv[3][0]), 0);
	server_close(&srv);
	for (int i = 1; i < 4; i++)
		close(sv[i][1]);
	ev_loop_destroy(loop);
}

static void events_closed(struct server *srv, void *conn)
{
	events_client_closed(srv->ctx, conn);
}

/*
 * Subscribers that go away while an event is being delivered to them (a
 * failed send, or over max_buffered): nobody is freed under the walk.
 * Run under ASan (make check), a use-after-free here is a report.
 */
static void test_events_disconnect(void **state)
{
	enum { N = 12 };
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	static struct daemon d;
	struct server srv = { .loop = loop, .table = &test_table, .listen_fd = -1,
			      .limits = &test_limits, .on_close = events_closed, .ctx = &d };
	int sv[N][2], small = 4096;
	char line[600];

	memset(&d, 0, sizeof(d));
	limits_default(&d.limits);
	limits_default(&test_limits);
	test_limits.max_buffered = 64 << 10;
	test_limits.pause_output = 16 << 10;
	test_limits.max_answer = 16 << 10;
	test_limits.idle_partial_s = 0.02;
	for (int i = 0; i < N; i++) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i]), 0);
		setsockopt(sv[i][0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
		setsockopt(sv[i][1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
		assert_int_equal(server_add_client(&srv, sv[i][0]), 0);
		/* every client subscribes twice: two walkers' worth */
		assert_int_equal(events_subscribe(&d, srv.clients, NULL, EVENT_STATE), 0);
		assert_int_equal(events_subscribe(&d, srv.clients, "vm0", EVENT_STATE), 0);
	}
	assert_int_equal(events_count(&d), 2 * N);
	/* a third close; the rest never read */
	for (int i = 0; i < N; i += 3)
		close(sv[i][1]);
	memset(line, 'z', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	for (int k = 0; k < 400; k++) {
		events_emit(&d, "vm0", 0, EVENT_STATE, json_pack("{s:s}", "line", line));
		if (k % 50 == 0)
			ev_run(loop, EVRUN_NOWAIT);
	}
	/* all of them are gone: closed, or over 64 KiB of unread events
	 * (those after the time they had to read their error) */
	for (int i = 0; i < 200 && srv.nclients; i++) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(1000);
	}
	assert_int_equal(events_count(&d), 0);
	assert_int_equal(srv.nclients, 0);
	assert_null(d.subscribers);
	for (int i = 0; i < N; i++)
		if (i % 3)
			close(sv[i][1]);
	server_close(&srv);
	ev_loop_destroy(loop);
}

static void test_subscription_cap(void **state)
{
	static struct daemon d;
	struct rpc_call call = { 0 };
	int a, b;

	memset(&d, 0, sizeof(d));
	limits_default(&d.limits);
	d.limits.max_subscriptions = 3;
	for (int i = 0; i < 3; i++)
		assert_int_equal(events_subscribe(&d, &a, NULL, EVENT_STATE), 0);
	assert_int_equal(events_subscribe(&d, &a, NULL, EVENT_STATE), -ENOSPC);
	assert_int_equal(events_subscribe(&d, &b, NULL, EVENT_STATE), 0);
	assert_int_equal(events_subscribe_fail(&call, &d, -ENOSPC), -1);
	assert_int_equal(call.err_code, ARMVM_E_LIMIT);
	assert_string_equal(json_string_value(json_object_get(call.err_data, "limit")),
			    "max-subscriptions");
	assert_int_equal(json_integer_value(json_object_get(call.err_data, "max")), 3);
	json_decref(call.err_data);
	/* a connection that left makes room */
	events_client_closed(&d, &a);
	assert_int_equal(events_count(&d), 1);
	assert_int_equal(events_subscribe(&d, &a, NULL, EVENT_STATE), 0);
	events_client_closed(&d, &a);
	events_client_closed(&d, &b);
	assert_null(d.subscribers);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_result),
		cmocka_unit_test(test_string_id_and_positional),
		cmocka_unit_test(test_parse_error),
		cmocka_unit_test(test_invalid_request),
		cmocka_unit_test(test_method_not_found),
		cmocka_unit_test(test_params_strict),
		cmocka_unit_test(test_handler_errors),
		cmocka_unit_test(test_notifications),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_real_table),
		cmocka_unit_test(test_deferred),
		cmocka_unit_test(test_deferred_after_client_left),
		cmocka_unit_test(test_deferred_after_half_close),
		cmocka_unit_test(test_server_lines),
		cmocka_unit_test(test_limits_parse),
		cmocka_unit_test(test_batch_limit),
		cmocka_unit_test(test_answer_limit),
		cmocka_unit_test(test_server_max_buffered),
		cmocka_unit_test(test_server_pause),
		cmocka_unit_test(test_server_idle_partial),
		cmocka_unit_test(test_server_max_clients),
		cmocka_unit_test(test_events_disconnect),
		cmocka_unit_test(test_subscription_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
