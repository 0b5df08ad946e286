// SPDX-License-Identifier: MIT
/* The per-VM worker: sets its VM up, then serves worker.* on its own loop. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "arm64/hostinfo.h"
#include "arm64/plan.h"
#include "rpc/handoff.h"
#include "rpc/server.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/sigsafe.h"
#include "vm/vm.h"
#include "vm/worker.h"

#define WORKER_MAX_SUBSCRIBERS	4
#define POWER_KEY_PRESS_S	0.2	/* how long the key is held down */
#define WORKER_LIVE_TICK_S	0.25	/* how often a change is looked for */

struct worker {
	struct vm vm;
	struct ev_loop *loop;
	struct server control;
	char dir[PATH_MAX];
	int exit_code;
	char exit_reason[160];
	ev_timer exit_timer;
	ev_timer live_timer;		/* pushes of the live state */
	uint64_t live_gen;		/* what the last push showed */
	double live_pushed_at;
	unsigned exit_waited;		/* 5 ms turns waiting for answers to go */
	bool vm_ready;
	bool paused;
	/* a graceful stop or reboot waits for the guest, then escalates */
	enum { GRACE_NONE, GRACE_STOP, GRACE_REBOOT } grace;
	double grace_timeout;
	ev_timer grace_timer, key_timer;
	ev_timer reset_timer;		/* a forced reset, after the answer */
	/* a reset waits a moment for the supervisor's fresh boot images */
	ev_timer files_timer;
	bool reset_waiting;
	char reset_why[64];
	char on_poweroff[16], on_reboot[16];	/* stop, restart, destroy */
	void *subscribers[WORKER_MAX_SUBSCRIBERS];
};

static void worker_exit_soon(struct worker *w, int code, const char *reason)
{
	w->exit_code = code;
	snprintf(w->exit_reason, sizeof(w->exit_reason), "%s", reason);
	/* after this loop iteration, once the answers are flushed */
	w->exit_waited = 0;
	ev_timer_set(&w->exit_timer, 0., 0.);
	ev_timer_start(w->loop, &w->exit_timer);
}

/* Tell the subscribed supervisor: {"kind": ..., fields...} (stolen). */
static void worker_emit(struct worker *w, const char *kind, json_t *fields)
{
	json_t *msg;

	if (!fields)
		fields = json_object();
	json_object_set_new(fields, "kind", json_string(kind));
	msg = json_pack("{s:s, s:s, s:o}", "jsonrpc", "2.0",
			"method", WORKER_M_EVENT, "params", fields);
	for (int i = 0; i < WORKER_MAX_SUBSCRIBERS; i++)
		if (w->subscribers[i] && server_send(w->subscribers[i], msg) < 0)
			w->subscribers[i] = NULL;
	json_decref(msg);
}

/* a virtio device marked itself broken: the supervisor makes it an event */
static void worker_device_error(struct vm *vm, struct virtio_dev *d)
{
	struct worker *w = (struct worker *)vm;

	pthread_mutex_lock(&d->lock);
	worker_emit(w, "device", json_pack("{s:s, s:s, s:s, s:I}", "device", d->name,
		    "status", "broken (NEEDS_RESET)", "error", d->error,
		    "errors", (json_int_t)d->errors));
	pthread_mutex_unlock(&d->lock);
}

static void worker_client_closed(struct server *srv, void *conn)
{
	struct worker *w = srv->ctx;

	for (int i = 0; i < WORKER_MAX_SUBSCRIBERS; i++)
		if (w->subscribers[i] == conn)
			w->subscribers[i] = NULL;
}

static void reset_in_place(struct worker *w, const char *why);
static void push_live(struct worker *w);

static void reset_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	reset_in_place(t->data, "forced reset");
}

static void key_release_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker *w = t->data;

	pl061_set_line(&w->vm.gpio, LAYOUT_GPIO_POWER_LINE, false);
}

/* Press and release the power key: the guest's gpio-keys sees KEY_POWER. */
static void press_power_key(struct worker *w)
{
	pl061_set_line(&w->vm.gpio, LAYOUT_GPIO_POWER_LINE, true);
	ev_timer_stop(w->loop, &w->key_timer);
	ev_timer_set(&w->key_timer, POWER_KEY_PRESS_S, 0.);
	ev_timer_start(w->loop, &w->key_timer);
}

#define RESET_FILES_WAIT_S	2.	/* then the set-up's images are read again */

static void reset_now(struct worker *w, const char *why);

static bool supervised(const struct worker *w)
{
	for (int i = 0; i < WORKER_MAX_SUBSCRIBERS; i++)
		if (w->subscribers[i])
			return true;
	return false;
}

/*
 * Reset in place.  The boot images are read again for it; the supervisor,
 * asked with a "reset-files" event, opens them again as the VM's owner (a
 * kernel rebuilt at its path boots) and hands them over with worker.files.
 * Without a supervisor, or after RESET_FILES_WAIT_S, the descriptors of
 * the set-up are read again.
 */
static void reset_in_place(struct worker *w, const char *why)
{
	if (w->reset_waiting)
		return;
	if (!supervised(w)) {
		reset_now(w, why);
		return;
	}
	w->reset_waiting = true;
	snprintf(w->reset_why, sizeof(w->reset_why), "%s", why);
	worker_emit(w, "reset-files", NULL);
	ev_timer_set(&w->files_timer, RESET_FILES_WAIT_S, 0.);
	ev_timer_start(w->loop, &w->files_timer);
}

static void files_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker *w = t->data;

	log_warn("no fresh boot images from the supervisor within %g s: the set-up's "
		 "are read again", RESET_FILES_WAIT_S);
	w->reset_waiting = false;
	reset_now(w, w->reset_why);
}

static void reset_now(struct worker *w, const char *why)
{
	if (vm_reset(&w->vm) < 0) {
		worker_exit_soon(w, WORKER_EXIT_GUEST_ERROR, "reset failed (see worker.log)");
		return;
	}
	w->paused = false;
	worker_emit(w, "reboot", json_pack("{s:s, s:i}", "reason", why,
					   "resets", (int)w->vm.resets));
}

/* The guest did not react to the power key in time: force it. */
static void grace_expired_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker *w = t->data;
	char why[128];

	snprintf(why, sizeof(why), "the guest ignored the power key for %g s: forced",
		 w->grace_timeout);
	log_warn("%s", why);
	if (w->grace == GRACE_REBOOT) {
		w->grace = GRACE_NONE;
		reset_in_place(w, why);
		return;
	}
	w->grace = GRACE_NONE;
	vm_halt(&w->vm);
	worker_exit_soon(w, WORKER_EXIT_FORCED, why);
}

/* What a policy says to do when the guest powers off or resets. */
static void apply_policy(struct worker *w, const char *policy, const char *what)
{
	char why[128];

	if (!strcmp(policy, "restart")) {
		snprintf(why, sizeof(why), "%s; on_%s=restart", what,
			 strstr(what, "reset") ? "reboot" : "poweroff");
		reset_in_place(w, why);
	} else if (!strcmp(policy, "destroy")) {
		snprintf(why, sizeof(why), "%s; policy destroy", what);
		worker_exit_soon(w, WORKER_EXIT_DESTROY, why);
	} else if (strstr(what, "reset")) {
		worker_exit_soon(w, WORKER_EXIT_REBOOT_STOP, "guest reset; on_reboot=stop");
	} else {
		worker_exit_soon(w, WORKER_EXIT_POWEROFF, "guest powered off");
	}
}

/* the end, when nothing queued for a client is left (a client that
 * does not read gets 1 s) */
static void exit_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker *w = t->data;

	(void)revents;
	console_flush(&w->vm.console);
	if (server_output_pending(&w->control) && w->exit_waited++ < 200) {
		ev_timer_set(t, 0.005, 0.);
		ev_timer_start(loop, t);
		return;
	}
	ev_break(loop, EVBREAK_ALL);
}

static void worker_on_event(struct vm *vm, enum vm_event ev, const char *detail)
{
	struct worker *w = (struct worker *)vm;	/* vm is the first member */
	int grace = w->grace;

	log_info("%s", detail);
	if (grace != GRACE_NONE && (ev == VM_EVENT_POWEROFF || ev == VM_EVENT_RESET)) {
		/* the guest answered the power key */
		ev_timer_stop(w->loop, &w->grace_timer);
		w->grace = GRACE_NONE;
		if (grace == GRACE_REBOOT)
			reset_in_place(w, "graceful reboot: the guest shut down, started again");
		else
			worker_exit_soon(w, WORKER_EXIT_POWEROFF,
					 "guest powered off (power key)");
		return;
	}
	switch (ev) {
	case VM_EVENT_RESET:
		apply_policy(w, w->on_reboot, "guest reset (PSCI SYSTEM_RESET)");
		break;
	case VM_EVENT_POWEROFF:
		apply_policy(w, w->on_poweroff, "guest powered off");
		break;
	case VM_EVENT_ERROR:
		worker_exit_soon(w, WORKER_EXIT_GUEST_ERROR, detail);
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
	/* the boot timer counts from when the supervisor got the request */
	boottimer_arm(&w->vm.boottimer,
		      json_integer_value(json_object_get(params, "t0_mono_ns")),
		      json_integer_value(json_object_get(params, "t0_real_ns")));
	if (vm_start(&w->vm) < 0)
		return rpc_fail(call, ARMVM_E_RESOURCE, NULL, "cannot start the vCPUs");
	log_info("started %u vCPUs", w->vm.nvcpus);
	push_live(w);
	*result = json_pack("{s:s}", "state", "running");
	return 0;
}

/* Ask the guest to shut down with the power key; escalate after timeout. */
static void start_grace(struct worker *w, int kind, json_t *params)
{
	json_t *t = json_object_get(params, "timeout");

	w->grace = kind;
	w->grace_timeout = t ? (double)json_integer_value(t) : WORKER_GRACE_DEFAULT_S;
	if (w->paused && vm_start(&w->vm) == 0) {
		w->paused = false;	/* a paused guest cannot press anything */
		worker_emit(w, "resumed", NULL);
		push_live(w);
	}
	press_power_key(w);
	ev_timer_stop(w->loop, &w->grace_timer);
	ev_timer_set(&w->grace_timer, w->grace_timeout, 0.);
	ev_timer_start(w->loop, &w->grace_timer);
	log_info("power key pressed; forcing in %g s", w->grace_timeout);
}

static int m_stop(struct rpc_call *call, json_t *params, json_t **result)
{
	struct worker *w = call->ctx;
	bool force = json_is_true(json_object_get(params, "force"));

	if (!force && w->vm.running + w->paused && w->grace == GRACE_NONE) {
		start_grace(w, GRACE_STOP, params);
		*result = json_pack("{s:s}", "state", "stopping");
		return 0;
	}
	vm_halt(&w->vm);
	log_info("stopped on request (forced)");
	worker_exit_soon(w, WORKER_EXIT_STOPPED, "forced stop");
	*result = json_pack("{s:s}", "state", "stopped");
	return 0;
}

static int m_reboot(struct rpc_call *call, json_t *params, json_t **result)
{
	struct worker *w = call->ctx;

	if (!w->vm.running && !w->paused)
		return rpc_fail(call, ARMVM_E_STATE, json_pack("{s:s}", "state", "created"),
				"the VM has not been started");
	if (json_is_true(json_object_get(params, "force"))) {
		/* reloading the payload takes a while: answer first */
		ev_timer_stop(w->loop, &w->reset_timer);
		ev_timer_set(&w->reset_timer, 0., 0.);
		ev_timer_start(w->loop, &w->reset_timer);
		*result = json_pack("{s:s}", "state", "rebooting");
		return 0;
	}
	start_grace(w, GRACE_REBOOT, params);
	*result = json_pack("{s:s}", "state", "rebooting");
	return 0;
}

static int m_pause(struct rpc_call *call, json_t *params, json_t **result)
{
	struct worker *w = call->ctx;

	if (w->vm.running) {
		vm_halt(&w->vm);	/* vCPUs parked; devices and console stay */
		w->paused = true;
		worker_emit(w, "paused", NULL);
		push_live(w);
	}
	*result = json_pack("{s:s}", "state", "paused");
	return 0;
}

static int m_resume(struct rpc_call *call, json_t *params, json_t **result)
{
	struct worker *w = call->ctx;

	if (w->paused) {
		if (vm_start(&w->vm) < 0)
			return rpc_fail(call, ARMVM_E_RESOURCE, NULL, "cannot restart the vCPUs");
		w->paused = false;
		worker_emit(w, "resumed", NULL);
		push_live(w);
	}
	*result = json_pack("{s:s}", "state", "running");
	return 0;
}

static int m_subscribe(struct rpc_call *call, json_t *params, json_t **result)
{
	struct worker *w = call->ctx;

	for (int i = 0; i < WORKER_MAX_SUBSCRIBERS; i++) {
		if (!w->subscribers[i]) {
			w->subscribers[i] = call->conn;
			*result = json_pack("{s:b}", "subscribed", 1);
			return 0;
		}
	}
	return rpc_fail(call, ARMVM_E_RESOURCE, NULL, "too many subscribers");
}

static bool policy_valid(json_t *v)
{
	return !v || worker_policy_valid(json_string_value(v));
}

/* on_poweroff / on_reboot from the VM's parameters (or worker.set) */
static int set_policies(struct worker *w, json_t *params)
{
	json_t *off = json_object_get(params, "on_poweroff");
	json_t *reb = json_object_get(params, "on_reboot");

	if (!policy_valid(off) || !policy_valid(reb))
		return -EINVAL;
	if (off)
		snprintf(w->on_poweroff, sizeof(w->on_poweroff), "%s", json_string_value(off));
	if (reb)
		snprintf(w->on_reboot, sizeof(w->on_reboot), "%s", json_string_value(reb));
	return 0;
}

static int m_set(struct rpc_call *call, json_t *params, json_t **result)
{
	struct worker *w = call->ctx;

	if (set_policies(w, params) < 0)
		return rpc_fail(call, ARMVM_E_INVALID_PARAMS, NULL,
				"a policy is \"stop\", \"restart\" or \"destroy\"");
	*result = json_pack("{s:s, s:s}", "on_poweroff", w->on_poweroff,
			    "on_reboot", w->on_reboot);
	return 0;
}

/* What worker.info answers and the live events carry. */
static json_t *live_json(struct worker *w)
{
	struct vm *vm = &w->vm;
	json_t *vcpus = json_array(), *result;
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
	result = json_pack("{s:i, s:b, s:b, s:s, s:s, s:I, s:f, s:o, s:I, s:I, s:I, s:i}",
		"pid", (int)getpid(), "running", vm->running, "paused", w->paused,
		"on_poweroff", w->on_poweroff, "on_reboot", w->on_reboot,
		"power_key_presses", (json_int_t)vm->gpio.presses,
		"uptime", vm->running ? (double)(now.tv_sec - vm->started.tv_sec) +
			(now.tv_nsec - vm->started.tv_nsec) / 1e9 : 0.0,
		"vcpus", vcpus,
		"console_bytes", (json_int_t)vm->console.total,
		"uart_rx_bytes", (json_int_t)vm->uart.rx_bytes,
		"unhandled_mmio", (json_int_t)vm->bus.unhandled,
		"resets", (int)vm->resets);
	json_object_set_new(result, "proto", json_integer(WORKER_PROTO_VERSION));
	/* benchmarks: the boot timer, and where guest RAM sits in this
	 * process (to tell it apart from the VMM's own memory in smaps) */
	json_t *ram = json_array();
	char hva[24];
	for (unsigned i = 0; i < vm->nbanks; i++) {
		snprintf(hva, sizeof(hva), "0x%llx",
			 (unsigned long long)(uintptr_t)vm->banks[i].map);
		json_array_append_new(ram, json_pack("{s:s, s:I}", "hva", hva,
			"size", (json_int_t)vm->banks[i].map_size));
	}
	json_object_set_new(result, "guest_ram", ram);
	json_object_set_new(result, "boot_timer", boottimer_json(&vm->boottimer));
	/* virtio devices: state (broken ones with why) and counters */
	json_object_set_new(result, "devices", vm_virtio_info(vm));
	return result;
}

static int m_info(struct rpc_call *call, json_t *params, json_t **result)
{
	*result = live_json(call->ctx);
	return 0;
}

/* A cheap fingerprint of what live_json shows: a push when it changed. */
static uint64_t live_generation(struct worker *w)
{
	struct vm *vm = &w->vm;
	uint64_t g = vm->console.total * 3 + vm->uart.rx_bytes * 5 + vm->bus.unhandled * 7 +
		     vm->resets * 11 + vm->gpio.presses * 13 + (uint64_t)vm->running * 17 +
		     (uint64_t)w->paused * 19 + boottimer_generation(&vm->boottimer) * 23 +
		     vm_virtio_generation(vm) * 29;

	for (unsigned i = 0; i < vm->nvcpus; i++)
		g += vm->vcpus[i].exits * 31;
	return g;
}

/* Push the live state to the supervisor (worker.event kind "live"), which
 * answers vm.info from it without a round trip. */
static void push_live(struct worker *w)
{
	w->live_gen = live_generation(w);
	w->live_pushed_at = ev_now(w->loop);
	worker_emit(w, "live", json_pack("{s:o}", "live", live_json(w)));
}

/* every WORKER_LIVE_TICK_S: pushed when it changed, and at least every
 * WORKER_LIVE_HEARTBEAT_S (a supervisor takes a silent worker's last
 * push as too old) */
static void live_tick_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker *w = t->data;

	(void)loop;
	(void)revents;
	if (!supervised(w))
		return;
	if (live_generation(w) != w->live_gen ||
	    ev_now(w->loop) - w->live_pushed_at >= WORKER_LIVE_HEARTBEAT_S)
		push_live(w);
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

static const struct rpc_param start_params[] = {
	{ "t0_mono_ns", RPC_T_INT, false, "when the start request arrived (CLOCK_MONOTONIC ns)" },
	{ "t0_real_ns", RPC_T_INT, false, "the same in CLOCK_REALTIME ns" },
	{ NULL },
};
static const struct rpc_method w_start = {
	.name = WORKER_M_START, .handler = m_start, .params = start_params,
	.doc = "start the vCPUs",
};
static const struct rpc_param files_params[] = {
	{ "kernel", RPC_T_INT, false, "index of the kernel's descriptor" },
	{ "initrd", RPC_T_INT, false, "index of the initrd's" },
	{ "dtb", RPC_T_INT, false, "index of the DTB's" },
	{ NULL },
};

/* worker.files: the boot images for the reset that waits for them */
static int m_files(struct rpc_call *call, json_t *params, json_t **result)
{
	struct worker *w = call->ctx;
	static const char *const key[] = { "kernel", "initrd", "dtb" };
	int *slot[] = { &w->vm.plan.files.kernel, &w->vm.plan.files.initrd,
			&w->vm.plan.files.dtb };
	unsigned n = 0;
	int *fds = server_call_fds(call->conn, &n);

	for (int i = 0; i < 3; i++) {
		json_t *v = json_object_get(params, key[i]);
		json_int_t k = json_integer_value(v);

		if (!v)
			continue;
		if (!fds || k < 0 || (unsigned)k >= n || fds[k] < 0)
			return rpc_fail(call, ARMVM_E_INVALID_PARAMS, NULL,
					"%s: no such descriptor", key[i]);
		/* only a file the set-up had: a plan does not grow new images */
		if (*slot[i] < 0)
			continue;
		close(*slot[i]);
		*slot[i] = fds[k];
		fds[k] = -1;
	}
	if (w->reset_waiting) {
		ev_timer_stop(w->loop, &w->files_timer);
		w->reset_waiting = false;
		reset_now(w, w->reset_why);
	}
	*result = json_pack("{s:b}", "ok", 1);
	return 0;
}

static const struct rpc_param stop_params[] = {
	{ "force", RPC_T_BOOL, false, "at once, without asking the guest" },
	{ "timeout", RPC_T_INT, false, "seconds to wait for the guest before forcing" },
	{ NULL },
};
static const struct rpc_param set_params[] = {
	{ "on_poweroff", RPC_T_STRING, false, "stop, restart or destroy" },
	{ "on_reboot", RPC_T_STRING, false, "stop, restart or destroy" },
	{ NULL },
};
static const struct rpc_method w_stop = {
	.name = WORKER_M_STOP, .handler = m_stop, .params = stop_params,
	.doc = "power key, then force after timeout (or force at once); exit",
};
static const struct rpc_method w_reboot = {
	.name = WORKER_M_REBOOT, .handler = m_reboot, .params = stop_params,
	.doc = "power key and start again, or reset in place when forced",
};
static const struct rpc_method w_pause = {
	.name = WORKER_M_PAUSE, .handler = m_pause, .doc = "park the vCPUs",
};
static const struct rpc_method w_resume = {
	.name = WORKER_M_RESUME, .handler = m_resume, .doc = "run the vCPUs again",
};
static const struct rpc_method w_subscribe = {
	.name = WORKER_M_SUBSCRIBE, .handler = m_subscribe,
	.doc = "worker.event notifications on this connection",
};
static const struct rpc_method w_set = {
	.name = WORKER_M_SET, .handler = m_set, .params = set_params,
	.doc = "change the power-off and reboot policies",
};
static const struct rpc_method w_files = {
	.name = WORKER_M_FILES, .handler = m_files, .params = files_params,
	.doc = "fresh boot image descriptors for a reset in place",
};
static const struct rpc_method w_info = {
	.name = WORKER_M_INFO, .handler = m_info, .doc = "live state and counters",
};
static const struct rpc_method w_console = {
	.name = WORKER_M_CONSOLE, .handler = m_console, .params = console_params,
	.doc = "recent console output",
};
static const struct rpc_method *const worker_list[] = {
	&w_start, &w_stop, &w_info, &w_console, &w_reboot, &w_pause, &w_resume,
	&w_subscribe, &w_set, &w_files, NULL,
};
static const struct rpc_table worker_methods = { .methods = worker_list };

/* The one status line for the supervisor.  False when nobody reads it any
 * more: the daemon that spawned this worker died while it was setting up. */
static bool status_write(int fd, json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	bool heard = true;

	if (text && fd >= 0 && dprintf(fd, "%s\n", text) < 0)
		heard = errno != EPIPE;

	free(text);
	if (fd >= 0)
		close(fd);
	return heard;
}

/* Why this worker ended, for a supervisor that is not our parent (a
 * re-adopting daemon cannot wait() for us): exit.json, by its descriptor. */
static void write_exit_status(int fd, int code, const char *reason)
{
	json_t *j = json_pack("{s:i, s:s}", "code", code, "reason", reason);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	if (text && fd >= 0 && ftruncate(fd, 0) == 0 &&
	    pwrite(fd, text, strlen(text), 0) < 0)
		log_warn("exit.json: %s", strerror(errno));
	free(text);
}

/* Set-up failed: tell the supervisor; if it is gone, tell exit.json. */
static void status_error(int exit_fd, int fd, int code, const char *message,
			 json_t *data)
{
	json_t *msg = json_pack("{s:{s:i, s:s, s:o}}", "error", "code", code,
				"message", message, "data", data ? data : json_object());

	log_error("%s", message);
	if (!status_write(fd, msg))
		write_exit_status(exit_fd, WORKER_EXIT_SETUP, message);
	json_decref(msg);
}

/* spec.fds.NAME, a descriptor this worker inherited; -1 when absent */
static int fd_of(json_t *fds, const char *name)
{
	json_t *v = json_object_get(fds, name);

	return json_is_integer(v) ? (int)json_integer_value(v) : -1;
}

/* the plan's files from spec.fds */
static void files_from_spec(json_t *fds, struct plan_files *f)
{
	json_t *list;

	plan_files_init(f);
	f->kernel = fd_of(fds, "kernel");
	f->initrd = fd_of(fds, "initrd");
	f->dtb = fd_of(fds, "dtb");
	list = json_object_get(fds, "disks");
	for (size_t i = 0; i < json_array_size(list) && i < VIRTIO_MAX_DISKS; i++)
		f->disks[i] = (int)json_integer_value(json_array_get(list, i));
	list = json_object_get(fds, "nets");
	for (size_t i = 0; i < json_array_size(list) && i < VIRTIO_MAX_NETS; i++)
		f->nets[i] = (int)json_integer_value(json_array_get(list, i));
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
	h->granules = (unsigned)json_integer_value(json_object_get(host, "granules"));
	h->hide_mops = json_is_true(json_object_get(host, "hide_mops"));
}

/* A connection waits on the control socket (a daemon re-adopting us). */
static bool control_pending(const struct server *srv)
{
	struct pollfd p = { .fd = srv->listen_fd, .events = POLLIN };

	return srv->listen_fd >= 0 && poll(&p, 1, 0) > 0;
}

/* The loop's filter, the vCPUs' to come, and the report of a violation. */
static int seccomp_lock(struct worker *w, int exit_fd)
{
	int r;

	w->vm.seccomp = (struct seccomp_conf){
		.tap = w->vm.plan.nnets > 0,
		.disks = w->vm.plan.ndisks > 0,
	};
	r = seccomp_report_init(exit_fd, STDERR_FILENO);
	if (r == 0)
		r = seccomp_install(SECCOMP_LOOP, &w->vm.seccomp);
	if (r < 0) {
		log_error("seccomp: %s", strerror(-r));
		return r;
	}
	w->vm.seccomp_on = true;
	return 0;
}

/*
 * A jailed worker is the init of its pid namespace, which the kernel
 * shields from signals it has no handler for: without these, a SIGTERM
 * from the host would do nothing.  Each ends the worker as a crash, saying
 * which signal and from whom (async-signal-safe: no stdio, no malloc).
 */
static int fatal_exit_fd = -1;

static void fatal_signal(int sig, siginfo_t *si, void *ctx)
{
	char buf[160], *p = buf;
	const char *end = buf + sizeof(buf) - 1, *name = sigabbrev_np(sig);
	ssize_t r;

	p = sigsafe_str(p, end, "{\"code\":");
	p = sigsafe_num(p, end, WORKER_EXIT_SIGNAL);
	p = sigsafe_str(p, end, ",\"reason\":\"killed by signal SIG");
	p = sigsafe_str(p, end, name ? name : "?");
	if (si->si_code <= 0) {		/* sent by a process */
		p = sigsafe_str(p, end, " from pid ");
		p = sigsafe_num(p, end, (long)si->si_pid);
	}
	p = sigsafe_str(p, end, "\"}");
	if (fatal_exit_fd >= 0 && (r = pwrite(fatal_exit_fd, buf, (size_t)(p - buf), 0)) > 0)
		r = ftruncate(fatal_exit_fd, r);
	_exit(WORKER_EXIT_SIGNAL);
}

static void catch_fatal_signals(int exit_fd)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR2, SIGALRM };
	struct sigaction sa = { .sa_sigaction = fatal_signal, .sa_flags = SA_SIGINFO };

	fatal_exit_fd = exit_fd;
	sigfillset(&sa.sa_mask);
	for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

/* armvmd --test-seccomp-trip: a call no list allows, to see the report */
static void seccomp_trip(int revents, void *arg)
{
	int fd = open("/", O_RDONLY | O_CLOEXEC);

	log_error("the seccomp trip was not caught (open: %d)", fd);
}

/* The bounds the supervisor set for this VM (spec.rlimits): a pooled
 * worker was spawned before they were known and lowers its own. */
static int apply_rlimits(json_t *lim, char *msg, size_t msglen)
{
	static const struct { const char *key; int res; } map[] = {
		{ "nofile", RLIMIT_NOFILE }, { "nproc", RLIMIT_NPROC },
		{ "fsize", RLIMIT_FSIZE }, { "as", RLIMIT_AS },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		json_int_t v = json_integer_value(json_object_get(lim, map[i].key));
		struct rlimit rl = { .rlim_cur = (rlim_t)v, .rlim_max = (rlim_t)v };

		if (v > 0 && setrlimit(map[i].res, &rl) < 0) {
			snprintf(msg, msglen, "RLIMIT_%s %lld: %s", map[i].key, (long long)v,
				 strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int worker_run(json_t *spec, const char *spec_error, int vm_ahead,
		      unsigned long vm_ahead_type);

/* The one worker of this process (large: its struct vm with the plan). */
static struct worker *worker_storage(void)
{
	static struct worker w;

	return &w;
}

int worker_main(int spec_fd)
{
	json_error_t jerr;
	json_t *spec;

	/* everything arrives as a descriptor: the spec names them */
	spec = json_loadfd(spec_fd, 0, &jerr);
	close(spec_fd);
	return worker_run(spec, spec ? NULL : jerr.text, -1, 0);
}

/* spec.fds with every number an index into fds[]: made descriptor numbers */
static void fd_translate(json_t *item, const int *fds, unsigned nfds)
{
	json_int_t k = json_integer_value(item);

	json_integer_set(item, k >= 0 && k < nfds ? fds[k] : -1);
}

static void fds_translate(json_t *v, const int *fds, unsigned nfds)
{
	const char *key;
	json_t *item, *one;
	size_t i;

	json_object_foreach(v, key, item) {
		if (json_is_integer(item))
			fd_translate(item, fds, nfds);
		json_array_foreach(item, i, one)	/* disks, nets */
			if (json_is_integer(one))
				fd_translate(one, fds, nfds);
	}
}

/*
 * A pooled worker: jailed and exec'd before its VM existed, it waits on
 * pool_fd for one message from the supervisor — the spec as one JSON line,
 * its descriptors (SCM_RIGHTS) on the line's first bytes, spec.fds naming
 * them by their index there — then sets the VM up as worker_main does.
 * The supervisor closing its end first (a smaller pool, the daemon gone)
 * ends it quietly.
 */
int worker_pool_main(int pool_fd, int kvm_fd, long vm_type)
{
	int fds[WORKER_POOL_MAX_FDS], err, vm_ahead = -1;
	unsigned nfds = 0;
	char *text, why[160];
	json_error_t jerr;
	size_t len;
	json_t *spec;

	/* what can be made before the plan is known: the loop, the worker's
	 * own pages faulted in (it is zero already: written with zeros once
	 * here, not on the way to the first instruction), and the KVM VM of
	 * the type the supervisor expects (the last VM's) */
	ev_default_loop(EVFLAG_AUTO);
	memset(worker_storage(), 0, sizeof(struct worker));
	if (kvm_fd >= 0 && vm_type >= 0)
		vm_ahead = kvm_create_vm(kvm_fd, (unsigned long)vm_type);
	if (kvm_fd >= 0)
		close(kvm_fd);
	text = handoff_recv(pool_fd, WORKER_POOL_MAX_SPEC, fds, WORKER_POOL_MAX_FDS, &nfds,
			    &len, &err);
	close(pool_fd);
	if (!text)	/* not needed after all (0), or a broken hand-off */
		return err ? WORKER_EXIT_SETUP : WORKER_EXIT_STOPPED;
	spec = json_loadb(text, len, 0, &jerr);
	free(text);
	/* 0, 1 and 2 (nothing to read, worker.log twice) are the first three */
	for (int i = 0; i < 3 && (unsigned)i < nfds; i++)
		if (fds[i] != i)
			dup2(fds[i], i);
	fds_translate(json_object_get(spec, "fds"), fds, nfds);
	if (spec && apply_rlimits(json_object_get(spec, "rlimits"), why, sizeof(why)) < 0) {
		json_t *f = json_object_get(spec, "fds");

		status_error(fd_of(f, "exit"), fd_of(f, "status"), ARMVM_E_INTERNAL, why, NULL);
		json_decref(spec);
		return WORKER_EXIT_SETUP;
	}
	return worker_run(spec, spec ? NULL : jerr.text, vm_ahead, (unsigned long)vm_type);
}

/* Set the VM of spec (stolen; NULL: unreadable, for spec_error) up and
 * serve it until it ends. */
static int worker_run(json_t *spec, const char *spec_error, int vm_ahead,
		      unsigned long vm_ahead_type)
{
	struct worker *w = worker_storage();
	char msg[PATH_MAX + 256];
	struct layout_error lerr;
	struct plan_host host;
	struct plan_files files;
	struct vm_host_fds hf;
	struct vm_plan *plan;
	json_t *params, *fds;
	int r, status_fd = -1, exit_fd = -1, control_fd;
	bool sandboxed, trip;

	signal(SIGPIPE, SIG_IGN);
	w->loop = ev_default_loop(EVFLAG_AUTO);
	w->exit_code = WORKER_EXIT_STOPPED;
	snprintf(w->exit_reason, sizeof(w->exit_reason), "stopped");
	w->control.listen_fd = -1;
	snprintf(w->on_poweroff, sizeof(w->on_poweroff), "stop");
	snprintf(w->on_reboot, sizeof(w->on_reboot), "restart");

	fds = json_object_get(spec, "fds");
	status_fd = fd_of(fds, "status");
	exit_fd = fd_of(fds, "exit");
	if (!spec || !json_is_object(fds)) {
		snprintf(msg, sizeof(msg), "the spec: %s", spec ? "no descriptors in it" :
			 spec_error ?: "unreadable");
		status_error(exit_fd, status_fd, ARMVM_E_INTERNAL, msg, NULL);
		return WORKER_EXIT_SETUP;
	}
	snprintf(w->dir, sizeof(w->dir), "%s",
		 json_string_value(json_object_get(spec, "dir")) ?: ".");
	sandboxed = json_is_true(json_object_get(spec, "sandbox"));
	catch_fatal_signals(exit_fd);
	trip = json_is_true(json_object_get(spec, "test_seccomp_trip"));
	log_set_prefix("armvmd-worker");
	/* the logs' bounds (spec.limits, from the supervisor; 1 MiB each) */
	json_t *limits = json_object_get(spec, "limits");
	json_int_t con_max = json_integer_value(json_object_get(limits, "console_log_bytes"));
	json_int_t log_max = json_integer_value(json_object_get(limits, "worker_log_bytes"));

	console_set_log_limit(con_max > 0 ? (uint64_t)con_max : CONSOLE_LOG_MAX_DEFAULT);
	log_set_rotation_fd(fd_of(fds, "worker_log_old"),
			    log_max > 0 ? (uint64_t)log_max : LOG_FILE_MAX_DEFAULT);
	plan_host_from_spec(spec, &host);
	params = json_object_get(spec, "params");
	if (set_policies(w, params) < 0) {
		status_error(exit_fd, status_fd, ARMVM_E_INVALID_PARAMS,
			     "on_poweroff/on_reboot: \"stop\", \"restart\" or \"destroy\"", NULL);
		return WORKER_EXIT_SETUP;
	}
	files_from_spec(fds, &files);
	/* planned in place: the VM's own copy, nothing zeroed or copied twice */
	plan = &w->vm.plan;
	if (plan_build(params, &host, &files, plan, &lerr) < 0) {
		status_error(exit_fd, status_fd, lerr.code, lerr.message, plan_error_data(&lerr));
		return WORKER_EXIT_SETUP;
	}
	hf = (struct vm_host_fds){
		.kvm = fd_of(fds, "kvm"),
		.console_log = fd_of(fds, "console_log"),
		.console_log_old = fd_of(fds, "console_log_old"),
		.hvc_log = fd_of(fds, "hvc_log"),
		.hvc_log_old = fd_of(fds, "hvc_log_old"),
		.hvc_listen = fd_of(fds, "hvc_socket"),
		.dir = w->dir,
		.vm_ahead = vm_ahead,
		.vm_ahead_type = vm_ahead_type,
	};
	control_fd = fd_of(fds, "control");
	r = vm_setup(&w->vm, w->loop, &hf, msg, sizeof(msg));
	if (r < 0) {
		status_error(exit_fd, status_fd, r == -ENOMEM ? ARMVM_E_RESOURCE : ARMVM_E_INTERNAL,
			     msg, NULL);
		vm_destroy(&w->vm);
		return WORKER_EXIT_SETUP;
	}
	w->vm.on_event = worker_on_event;
	w->vm.on_device_error = worker_device_error;
	ev_init(&w->exit_timer, exit_timer_cb);
	w->exit_timer.data = w;
	ev_init(&w->grace_timer, grace_expired_cb);
	w->grace_timer.data = w;
	ev_init(&w->key_timer, key_release_cb);
	w->key_timer.data = w;
	ev_init(&w->reset_timer, reset_timer_cb);
	ev_init(&w->files_timer, files_timer_cb);
	w->files_timer.data = w;
	w->reset_timer.data = w;
	w->control.on_close = worker_client_closed;
	ev_timer_init(&w->live_timer, live_tick_cb, WORKER_LIVE_TICK_S, WORKER_LIVE_TICK_S);
	w->live_timer.data = w;
	ev_timer_start(w->loop, &w->live_timer);

	/* the sockets were bound by the supervisor; listening here makes
	 * this process their peer (SO_PEERCRED: a re-adopting daemon learns
	 * our pid from it) */
	r = control_fd < 0 ? -EBADF : listen(control_fd, 16) < 0 ? -errno : 0;
	if (r == 0)
		r = server_adopt(&w->control, w->loop, control_fd, &worker_methods, w);
	if (r >= 0)
		r = console_listen_fd(&w->vm.console, fd_of(fds, "console_socket"));
	json_decref(spec);
	if (r < 0) {
		snprintf(msg, sizeof(msg), "worker sockets in %.3000s: %s", w->dir,
			 strerror(-r));
		status_error(exit_fd, status_fd, ARMVM_E_INTERNAL, msg, NULL);
		vm_destroy(&w->vm);
		return WORKER_EXIT_SETUP;
	}
	json_t *ok = json_pack("{s:b, s:i, s:i}", "ok", 1, "pid", (int)getpid(),
			       "proto", WORKER_PROTO_VERSION);
	bool heard = status_write(status_fd, ok);

	json_decref(ok);
	if (heard || control_pending(&w->control)) {
		log_info("VM %s ready: IPA %d bits, %u vCPUs, GICv%d", w->vm.plan.name,
			 w->vm.plan.ipa.bits, w->vm.nvcpus, w->vm.plan.gic);
		/* from here on this thread and the vCPUs it starts make only
		 * the calls their lists allow (docs/SECURITY.md) */
		if (sandboxed && seccomp_lock(w, exit_fd) < 0) {
			w->exit_code = WORKER_EXIT_SETUP;
			snprintf(w->exit_reason, sizeof(w->exit_reason),
				 "cannot install the seccomp filters");
		} else {
			if (sandboxed && trip)
				ev_once(w->loop, -1, 0, 0.2, seccomp_trip, NULL);
			ev_run(w->loop, 0);
		}
	} else {
		/* A daemon started meanwhile may have looked for workers before
		 * our control socket existed, and none will start this VM or
		 * answer its create: end now, and say why in exit.json.  (One
		 * already knocking on the socket is re-adopting us: stay.) */
		log_error("VM %s: the daemon that spawned this worker is gone; "
			  "ending before the VM starts", w->vm.plan.name);
		w->exit_code = WORKER_EXIT_SETUP;
		snprintf(w->exit_reason, sizeof(w->exit_reason),
			 "its daemon ended while the VM was being set up");
	}

	server_close(&w->control);
	vm_destroy(&w->vm);
	write_exit_status(exit_fd, w->exit_code, w->exit_reason);
	return w->exit_code;
}
