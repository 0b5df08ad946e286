// SPDX-License-Identifier: MIT
/* The per-VM worker: sets its VM up, then serves worker.* on its own loop. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "arm64/plan.h"
#include "daemon/server.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "vm/vm.h"
#include "vm/worker.h"

struct worker {
	struct vm vm;
	struct ev_loop *loop;
	struct server control;
	char dir[PATH_MAX];
	int exit_code;
	ev_timer exit_timer;
	bool vm_ready;
};

static void worker_exit_soon(struct worker *w, int code)
{
	w->exit_code = code;
	/* after this loop iteration, so that answers are flushed first */
	ev_timer_set(&w->exit_timer, 0.05, 0.);
	ev_timer_start(w->loop, &w->exit_timer);
}

static void exit_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

static void worker_on_event(struct vm *vm, enum vm_event ev, const char *detail)
{
	struct worker *w = (struct worker *)vm;	/* vm is the first member */

	log_info("%s", detail);
	switch (ev) {
	case VM_EVENT_RESET:
		if (vm_reset(vm) < 0)
			worker_exit_soon(w, WORKER_EXIT_GUEST_ERROR);
		break;
	case VM_EVENT_POWEROFF:
		worker_exit_soon(w, WORKER_EXIT_POWEROFF);
		break;
	case VM_EVENT_ERROR:
		worker_exit_soon(w, WORKER_EXIT_GUEST_ERROR);
		break;
	default:
		break;
	}
}

static int m_start(struct rpc_call *call, json_t *params, json_t **result)
{
	struct worker *w = call->ctx;

	if (w->vm.running)
		return rpc_fail(call, ARMVM_E_STATE, json_pack("{s:s}", "state", "running"),
				"the VM is already running");
	if (vm_start(&w->vm) < 0)
		return rpc_fail(call, ARMVM_E_RESOURCE, NULL, "cannot start the vCPUs");
	log_info("started %u vCPUs", w->vm.nvcpus);
	*result = json_pack("{s:s}", "state", "running");
	return 0;
}

static int m_stop(struct rpc_call *call, json_t *params, json_t **result)
{
	struct worker *w = call->ctx;

	vm_halt(&w->vm);
	log_info("stopped on request");
	worker_exit_soon(w, WORKER_EXIT_STOPPED);
	*result = json_pack("{s:s}", "state", "stopped");
	return 0;
}

static int m_info(struct rpc_call *call, json_t *params, json_t **result)
{
	struct worker *w = call->ctx;
	struct vm *vm = &w->vm;
	json_t *vcpus = json_array();
	struct timespec now;
	char mpidr[24];

	for (unsigned i = 0; i < vm->nvcpus; i++) {
		snprintf(mpidr, sizeof(mpidr), "0x%llx",
			 (unsigned long long)vm->vcpus[i].mpidr);
		json_array_append_new(vcpus, json_pack("{s:i, s:s, s:I, s:I}",
			"id", (int)i, "mpidr", mpidr,
			"exits", (json_int_t)vm->vcpus[i].exits,
			"mmio_exits", (json_int_t)vm->vcpus[i].mmio_exits));
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	*result = json_pack("{s:i, s:b, s:f, s:o, s:I, s:I, s:I, s:i}",
		"pid", (int)getpid(), "running", vm->running,
		"uptime", vm->running ? (double)(now.tv_sec - vm->started.tv_sec) +
			(now.tv_nsec - vm->started.tv_nsec) / 1e9 : 0.0,
		"vcpus", vcpus,
		"console_bytes", (json_int_t)vm->console.total,
		"uart_rx_bytes", (json_int_t)vm->uart.rx_bytes,
		"unhandled_mmio", (json_int_t)vm->bus.unhandled,
		"resets", (int)vm->resets);
	return 0;
}

static const struct rpc_param console_params[] = {
	{ "bytes", RPC_T_INT, false, "at most this many recent bytes (default 16384)" },
	{ NULL },
};

static int m_console(struct rpc_call *call, json_t *params, json_t **result)
{
	struct worker *w = call->ctx;
	json_t *b = json_object_get(params, "bytes");
	json_int_t max = b ? json_integer_value(b) : 16384;
	uint64_t total;
	size_t len = 0;
	char *text;

	if (max < 0)
		return rpc_fail(call, ARMVM_E_INVALID_PARAMS,
				json_pack("{s:s}", "param", "bytes"), "bytes must be >= 0");
	text = console_tail(&w->vm.console, (size_t)max, &len, &total);
	if (!text)
		return rpc_fail(call, ARMVM_E_RESOURCE, NULL, "out of memory");
	*result = json_pack("{s:o, s:I}", "output", json_string_lossy(text, len),
			    "total_bytes", (json_int_t)total);
	free(text);
	return 0;
}

static const struct rpc_method w_start = {
	.name = "worker.start", .handler = m_start, .doc = "start the vCPUs",
};
static const struct rpc_method w_stop = {
	.name = "worker.stop", .handler = m_stop, .doc = "stop the vCPUs and exit",
};
static const struct rpc_method w_info = {
	.name = "worker.info", .handler = m_info, .doc = "live state and counters",
};
static const struct rpc_method w_console = {
	.name = "worker.console", .handler = m_console, .params = console_params,
	.doc = "recent console output",
};
static const struct rpc_method *const worker_list[] = {
	&w_start, &w_stop, &w_info, &w_console, NULL,
};
static const struct rpc_table worker_methods = { .methods = worker_list };

static void status_write(int fd, json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);

	if (text && fd >= 0) {
		dprintf(fd, "%s\n", text);
	}
	free(text);
	if (fd >= 0)
		close(fd);
}

static void status_error(int fd, int code, const char *message, json_t *data)
{
	json_t *msg = json_pack("{s:{s:i, s:s, s:o}}", "error", "code", code,
				"message", message, "data", data ? data : json_object());

	log_error("%s", message);
	status_write(fd, msg);
	json_decref(msg);
}

/* the host facts the supervisor resolved are in spec.host */
static void plan_host_from_spec(json_t *spec, struct plan_host *h)
{
	json_t *host = json_object_get(spec, "host");

	memset(h, 0, sizeof(*h));
	h->limits.ipa_limit_bits = (int)json_integer_value(json_object_get(host, "ipa_limit_bits"));
	h->limits.ipa_cap = json_is_true(json_object_get(host, "ipa_cap"));
	h->gic_v2 = json_is_true(json_object_get(host, "gic_v2"));
	h->gic_v3 = json_is_true(json_object_get(host, "gic_v3"));
	h->el1_32bit = json_is_true(json_object_get(host, "el1_32bit"));
}

int worker_main(const char *dir, int status_fd)
{
	static struct worker w;		/* one per process, large */
	char path[PATH_MAX], msg[PATH_MAX + 256];
	struct layout_error lerr;
	struct plan_host host;
	struct vm_plan *plan;
	json_error_t jerr;
	json_t *spec, *params;
	int r;

	signal(SIGPIPE, SIG_IGN);
	snprintf(w.dir, sizeof(w.dir), "%s", dir);
	w.loop = ev_default_loop(EVFLAG_AUTO);
	w.exit_code = WORKER_EXIT_STOPPED;
	w.control.listen_fd = -1;

	snprintf(path, sizeof(path), "%s/spec.json", dir);
	spec = json_load_file(path, 0, &jerr);
	if (!spec) {
		snprintf(msg, sizeof(msg), "%s: %s", path, jerr.text);
		status_error(status_fd, ARMVM_E_INTERNAL, msg, NULL);
		return WORKER_EXIT_SETUP;
	}
	log_set_prefix("armvmd-worker");
	plan_host_from_spec(spec, &host);
	params = json_object_get(spec, "params");
	plan = calloc(1, sizeof(*plan));
	if (!plan || plan_build(params, &host, plan, &lerr) < 0) {
		status_error(status_fd, plan ? lerr.code : ARMVM_E_RESOURCE,
			     plan ? lerr.message : "out of memory",
			     plan ? plan_error_data(&lerr) : NULL);
		return WORKER_EXIT_SETUP;
	}
	json_decref(spec);

	snprintf(path, sizeof(path), "%s/console.log", dir);
	r = vm_setup(&w.vm, plan, w.loop, path, msg, sizeof(msg));
	free(plan);
	if (r < 0) {
		status_error(status_fd, r == -ENOMEM ? ARMVM_E_RESOURCE : ARMVM_E_INTERNAL,
			     msg, NULL);
		vm_destroy(&w.vm);
		return WORKER_EXIT_SETUP;
	}
	w.vm.on_event = worker_on_event;
	ev_init(&w.exit_timer, exit_timer_cb);

	snprintf(path, sizeof(path), "%s/control.sock", dir);
	r = server_listen(&w.control, w.loop, path, &worker_methods, &w);
	if (r >= 0) {
		snprintf(path, sizeof(path), "%s/console.sock", dir);
		r = console_listen(&w.vm.console, path);
	}
	if (r < 0) {
		snprintf(msg, sizeof(msg), "worker sockets in %s: %s", dir, strerror(-r));
		status_error(status_fd, ARMVM_E_INTERNAL, msg, NULL);
		vm_destroy(&w.vm);
		return WORKER_EXIT_SETUP;
	}
	json_t *ok = json_pack("{s:b, s:i}", "ok", 1, "pid", (int)getpid());
	status_write(status_fd, ok);
	json_decref(ok);
	log_info("VM %s ready: IPA %d bits, %u vCPUs, GICv%d", w.vm.plan.name,
		 w.vm.plan.ipa.bits, w.vm.nvcpus, w.vm.plan.gic);

	ev_run(w.loop, 0);

	server_close(&w.control);
	vm_destroy(&w.vm);
	snprintf(path, sizeof(path), "%s/console.sock", dir);
	unlink(path);
	return w.exit_code;
}
