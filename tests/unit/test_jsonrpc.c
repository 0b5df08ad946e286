// SPDX-License-Identifier: MIT
/* The JSON-RPC 2.0 codec, parameter checking and the socket server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rpc/server.h"
#include "daemon/api.h"
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
	static char big[SERVER_MAX_LINE / 4];
	memset(big, 'x', sizeof(big));
	for (int i = 0; i < 5 && srv.nclients; i++) {
		ssize_t n = send(sv[1], big, sizeof(big), MSG_DONTWAIT | MSG_NOSIGNAL);
		(void)n;
		run_loop_briefly(loop);
	}
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
