// SPDX-License-Identifier: MIT
/*
 * The daemon's side of the worker control protocol: a worker link
 * (src/rpc/link.c) makes a few calls, then gets the input as if the worker
 * had written it (answers, worker.event notifications, garbage), in chunks,
 * with the loop run in between; then the link is freed.  The callbacks
 * play a supervisor that reacts: a new call from inside an answer, a
 * notification or the close, or freeing the link from inside one of them.
 *
 * What link.h promises is checked: every call's callback runs exactly
 * once, never from inside rpc_link_call, and before rpc_link_free returns;
 * an answer or an error, never both.
 *
 * Input: calls (1 byte: bits 0-2 how many, less one; bit 3 the worker
 * hangs up at the end; bit 4 the last call's deadline passes; bits 5-7 the
 * chunk size, 1 << n bytes, 7: all at once), reactions (1 byte, bits below),
 * then the bytes from the worker.  Calls get ids 1, 2, ... in order.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "libarmvm.h"
#include "rpc/link.h"
#include "fuzz.h"

enum {
	REPLY_CALLS = 1 << 0,		/* an answer makes a new call */
	REPLY_FREES = 1 << 1,		/* an error frees the link */
	NOTIFY_CALLS = 1 << 2,
	NOTIFY_FREES = 1 << 3,
	CLOSED_CALLS = 1 << 4,		/* must get -EPIPE */
	TIMEOUT_FREES = 1 << 5,
	ANSWERED_CALLS = 1 << 6,
	REPLY_ALWAYS_FREES = 1 << 7,	/* any answer frees the link */
};

#define MAX_CALLS	64

struct call {
	unsigned done;
	bool ok;
};

static struct ev_loop *loop;
static struct rpc_link *lnk;
static int peer = -1;
static unsigned reactions, ncalls;
static struct call calls[MAX_CALLS];
static bool in_call;

static void make_call(const char *method, double timeout);

static void reply(void *arg, json_t *result, const struct rpc_link_error *err)
{
	struct call *c = arg;

	if (in_call)
		fuzz_fail("a callback from inside rpc_link_call");
	if (c->done++)
		fuzz_fail("call %td answered twice", c - calls);
	c->ok = !err;
	if (err && (!err->message || !err->code))
		fuzz_fail("an error without code or message");
	if (!lnk)
		return;
	if (!err && (reactions & REPLY_CALLS))
		make_call("worker.info", 10);
	if ((err && !err->closed && (reactions & REPLY_FREES)) ||
	    (reactions & REPLY_ALWAYS_FREES)) {
		rpc_link_free(lnk);
		lnk = NULL;
	}
}

static void on_notify(void *ctx, const char *method, json_t *params)
{
	if (!method)
		fuzz_fail("a notification without a method");
	if (!lnk)
		return;
	if (reactions & NOTIFY_CALLS)
		make_call("worker.set", 10);
	if (reactions & NOTIFY_FREES) {
		rpc_link_free(lnk);
		lnk = NULL;
	}
}

static void on_closed(void *ctx, int err)
{
	if (err > 0)
		fuzz_fail("closed with a positive error %d", err);
	if (lnk && (reactions & CLOSED_CALLS)) {
		int r;

		in_call = true;
		r = rpc_link_call(lnk, "worker.info", NULL, 10, NULL, NULL);
		in_call = false;
		if (r != -EPIPE)
			fuzz_fail("a call on a closed link: %d", r);
	}
}

static void on_timeout(void *ctx, const char *method, double seconds)
{
	if (!method)
		fuzz_fail("a timeout without a method");
	if (lnk && (reactions & TIMEOUT_FREES)) {
		rpc_link_free(lnk);
		lnk = NULL;
	}
}

static void on_answered(void *ctx)
{
	if (lnk && (reactions & ANSWERED_CALLS))
		make_call("worker.stop", 10);
}

static const struct rpc_link_ops ops = {
	.notify = on_notify,
	.closed = on_closed,
	.timeout = on_timeout,
	.answered = on_answered,
};

static void make_call(const char *method, double timeout)
{
	json_t *params;
	int r;

	if (ncalls == MAX_CALLS || !lnk)
		return;
	params = json_pack("{s:s, s:i}", "name", "vm1", "n", (int)ncalls);
	in_call = true;
	r = rpc_link_call(lnk, method, params, timeout, reply, &calls[ncalls]);
	in_call = false;
	json_decref(params);
	if (r == 0)
		ncalls++;
	else if (r != -EPIPE && r != -ENOBUFS && r != -ENOMEM)
		fuzz_fail("rpc_link_call: %d", r);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	loop = ev_loop_new(EVFLAG_AUTO);
	if (!loop)
		fuzz_fail("ev_loop_new");
	return 0;
}

/* what the link wrote goes nowhere: a worker that reads and says nothing */
static void drain(void)
{
	char buf[4096];

	while (peer >= 0 && recv(peer, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint8_t mode = fuzz_u8(&in);
	unsigned want = 1 + (mode & 7), shift = mode >> 5;
	size_t chunk = shift == 7 ? SIZE_MAX : (size_t)1 << shift;
	int sv[2];

	reactions = fuzz_u8(&in);
	ncalls = 0;
	memset(calls, 0, sizeof(calls));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	peer = sv[1];
	lnk = rpc_link_new(loop, sv[0], &ops, NULL);
	if (!lnk)
		fuzz_fail("rpc_link_new");

	for (unsigned i = 0; i < want; i++)
		make_call(i % 2 ? "worker.start" : "worker.info",
			  i + 1 == want && (mode & 0x10) ? 1e-4 : 10);
	ev_run(loop, EVRUN_NOWAIT);
	drain();

	while (lnk && in.len) {
		size_t n;
		const char *p = (const char *)fuzz_take(&in, chunk, &n);

		if (rpc_link_feed(lnk, p, n) < 0 && lnk) {
			if (rpc_link_open(lnk))
				fuzz_fail("rpc_link_feed failed on an open link");
			break;
		}
		if (lnk)
			ev_run(loop, EVRUN_NOWAIT);
		drain();
	}
	if (lnk && (mode & 0x10)) {
		/* the last call's deadline passes */
		ev_sleep(1e-3);
		ev_run(loop, EVRUN_NOWAIT);
	}
	if (lnk && (mode & 0x08)) {
		/* the worker hangs up: the link sees EOF on the loop */
		close(peer);
		peer = -1;
		ev_run(loop, EVRUN_NOWAIT);
	}
	if (lnk) {
		if (rpc_link_pending(lnk) > ncalls)
			fuzz_fail("%zu pending of %u calls", rpc_link_pending(lnk), ncalls);
		rpc_link_free(lnk);
		lnk = NULL;
	}
	for (unsigned i = 0; i < ncalls; i++)
		if (calls[i].done != 1)
			fuzz_fail("call %u: callback ran %u times", i, calls[i].done);
	if (peer >= 0)
		close(peer);
	peer = -1;
	/* no watcher or timer of a freed link may be left on the loop */
	ev_run(loop, EVRUN_NOWAIT);
	return 0;
}
