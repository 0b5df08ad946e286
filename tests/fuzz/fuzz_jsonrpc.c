// SPDX-License-Identifier: MIT
/*
 * The JSON-RPC codec and parameter checking through the daemon's real
 * method table (armvmd_methods), with a daemon handle of its own (a loop,
 * empty runtime and state directories).  Each line of the input is one
 * JSON text, as the server hands it over: a request, a notification or a
 * batch.  Natively host.info finds no arm64 KVM, so vm.create and
 * vm.layout are refused after their parameters were checked; the methods
 * that need no VM answer.
 *
 * The connection is NULL (handlers look at a connection only through the
 * server, which is not here); what the codec sends is collected and
 * checked against JSON-RPC 2.0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/api.h"
#include "daemon/daemon.h"
#include "fuzz.h"

static struct daemon dmn;
static unsigned long answers;
static long refs;

static bool id_ok(const json_t *id)
{
	return id && (json_is_string(id) || json_is_number(id) || json_is_null(id));
}

/* One response object: {"jsonrpc":"2.0", "id", and result or error}. */
static void check_response(const json_t *r)
{
	json_t *version = json_object_get(r, "jsonrpc");
	json_t *result = json_object_get(r, "result"), *error = json_object_get(r, "error");

	if (!json_is_object(r))
		fuzz_fail("an answer that is not an object");
	if (!json_is_string(version) || strcmp(json_string_value(version), "2.0"))
		fuzz_fail("an answer without \"jsonrpc\": \"2.0\"");
	if (!id_ok(json_object_get(r, "id")))
		fuzz_fail("an answer without a valid id");
	if (!!result == !!error)
		fuzz_fail("an answer with %s", result ? "result and error" : "neither result nor error");
	if (error && (!json_is_integer(json_object_get(error, "code")) ||
		      !json_is_string(json_object_get(error, "message"))))
		fuzz_fail("an error without an integer code and a message");
}

static void collect(void *conn, json_t *msg)
{
	char *text;
	size_t i;
	json_t *one;

	if (json_is_array(msg)) {
		if (!json_array_size(msg))
			fuzz_fail("an empty batch answer");
		json_array_foreach(msg, i, one)
			check_response(one);
	} else {
		check_response(msg);
	}
	/* what the server writes to the socket */
	text = json_dumps(msg, JSON_COMPACT);
	if (!text)
		fuzz_fail("an answer that does not serialise");
	free(text);
	answers++;
}

static void conn_ref(void *conn)
{
	refs++;
}

static void conn_unref(void *conn)
{
	if (--refs < 0)
		fuzz_fail("more unrefs than refs");
}

static const struct rpc_conn_ops ops = {
	.send = collect,
	.ref = conn_ref,
	.unref = conn_unref,
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[64];

	fuzz_quiet();
	dmn.loop = ev_loop_new(EVFLAG_AUTO);
	if (!dmn.loop)
		fuzz_fail("ev_loop_new");
	snprintf(dmn.runtime_dir, sizeof(dmn.runtime_dir), "%s",
		 fuzz_path(dir, "run"));
	fuzz_path(dmn.state_dir, "state");
	if (strlen(dir) > RUNTIME_DIR_MAX)
		fuzz_fail("scratch directory %s is too long for a runtime directory", dir);
	dmn.state_problems = json_array();
	dmn.started = time(NULL);
	dmn.log_level = LOG_ERROR;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (nl ? nl : end) - p;

		/* as the server does: blank lines and a lone \r are skipped */
		if (len && !(len == 1 && p[0] == '\r'))
			rpc_handle_line(&armvmd_methods, &dmn, NULL, &ops, p, len);
		p += (nl ? nl + 1 : end) - p;
		ev_run(dmn.loop, EVRUN_NOWAIT);
	}
	/* nothing can be deferred here: every reply set is closed */
	if (refs)
		fuzz_fail("%ld reply sets still open", refs);
	return 0;
}
