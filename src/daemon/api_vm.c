// SPDX-License-Identifier: MIT
/* vm.* methods: create, start, stop, destroy, list, info, layout, console. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arm64/hostinfo.h"
#include "daemon/daemon.h"
#include "daemon/state.h"
#include "daemon/api.h"
#include "util/jsonutil.h"

/* workers answer at once; a loaded host may still take its time */
#define WORKER_TIMEOUT_MS 15000

static const struct rpc_param create_params[] = {
	{ "name", RPC_T_STRING, false, "VM name ([A-Za-z0-9_.-], generated when absent)" },
	{ "kernel", RPC_T_STRING, true, "arm64 Image (or gzip of one), or zImage for aarch32" },
	{ "initrd", RPC_T_STRING, false, "initial ramdisk" },
	{ "dtb", RPC_T_STRING, false, "device tree to use instead of the generated one" },
	{ "cmdline", RPC_T_STRING, false, "kernel command line" },
	{ "memory", RPC_T_ANY, false, "\"SIZE[@BASE]\" or a list of them; first bank holds the kernel (default 512M at 2 GiB)" },
	{ "vcpus", RPC_T_INT, false, "number of vCPUs (default 1)" },
	{ "ipa", RPC_T_INT, false, "IPA size in bits (default: smallest covering the map)" },
	{ "gic", RPC_T_STRING, false, "\"auto\" (default), \"v2\" or \"v3\"" },
	{ "arch", RPC_T_STRING, false, "\"aarch64\" (default) or \"aarch32\"" },
	{ "disks", RPC_T_ANY, false, "virtio-blk disks: \"PATH[,ro][,serial=ID][,queues=N]\", {\"path\",\"readonly\",\"serial\",\"queues\"} or a list of them" },
	{ "nets", RPC_T_ANY, false, "virtio-net interfaces: \"tap=NAME[,mac=MAC]\", {\"tap\",\"mac\"} or a list of them" },
	{ "hvc", RPC_T_BOOL, false, "a virtio-console (the guest's hvc0; hvc0.log, hvc0.sock)" },
	{ "rng", RPC_T_BOOL, false, "a virtio-rng entropy device fed by getrandom()" },
	{ "start", RPC_T_BOOL, false, "start at once (default true)" },
	{ "autostart", RPC_T_BOOL, false, "start when armvmd starts (default false)" },
	{ "on_poweroff", RPC_T_STRING, false, "when the guest powers off: \"stop\" (default), \"restart\" or \"destroy\"" },
	{ "on_reboot", RPC_T_STRING, false, "when the guest resets: \"restart\" (default), \"stop\" or \"destroy\"" },
	{ NULL },
};

static const struct rpc_param set_params[] = {
	{ "name", RPC_T_STRING, true, "VM name" },
	{ "autostart", RPC_T_BOOL, false, "start when armvmd starts" },
	{ "on_poweroff", RPC_T_STRING, false, "\"stop\", \"restart\" or \"destroy\"" },
	{ "on_reboot", RPC_T_STRING, false, "\"stop\", \"restart\" or \"destroy\"" },
	{ NULL },
};

static const struct rpc_param name_params[] = {
	{ "name", RPC_T_STRING, true, "VM name" },
	{ NULL },
};

static const struct rpc_param stop_params[] = {
	{ "name", RPC_T_STRING, true, "VM name" },
	{ "force", RPC_T_BOOL, false, "at once, without asking the guest (default false)" },
	{ "timeout", RPC_T_INT, false, "seconds the guest gets to react to the power key before it is forced (default 30)" },
	{ NULL },
};

/* policies: what to do when the guest powers off or resets */
static int check_policies(struct rpc_call *call, json_t *params)
{
	static const char *const keys[] = { "on_poweroff", "on_reboot" };
	json_t *t = json_object_get(params, "timeout");

	if (t && json_integer_value(t) < 0)
		return rpc_fail(call, ARMVM_E_INVALID_PARAMS,
				json_pack("{s:s, s:s}", "param", "timeout", "reason", "negative"),
				"timeout must be >= 0 seconds");

	for (unsigned i = 0; i < 2; i++) {
		const char *v = json_string_value(json_object_get(params, keys[i]));

		if (v && strcmp(v, "stop") && strcmp(v, "restart") && strcmp(v, "destroy"))
			return rpc_fail(call, ARMVM_E_INVALID_PARAMS,
					json_pack("{s:s, s:s}", "param", keys[i],
						  "reason", "not stop, restart or destroy"),
					"%s must be \"stop\", \"restart\" or \"destroy\"", keys[i]);
	}
	return 0;
}

static const struct rpc_param console_params[] = {
	{ "name", RPC_T_STRING, true, "VM name" },
	{ "bytes", RPC_T_INT, false, "at most this many recent bytes (default 16384)" },
	{ NULL },
};

static json_t *hexstr(uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)v);
	return json_string(buf);
}

json_t *vm_entry_json(struct vm_entry *e)
{
	json_t *o = json_pack("{s:s, s:s, s:s}", "name", e->name,
			      "state", vm_state_name(e->state), "reason", e->reason);
	char path[PATH_MAX + 16];

	if (e->pid)
		json_object_set_new(o, "pid", json_integer(e->pid));
	if (e->plan) {
		json_object_set_new(o, "ipa_bits", json_integer(e->plan->ipa.bits));
		json_object_set_new(o, "ipa_reason", json_string(e->plan->ipa.reason));
		json_object_set_new(o, "highest_address", hexstr(e->plan->ipa.highest_address));
		json_object_set_new(o, "vcpus", json_integer(e->plan->cfg.vcpus));
		json_object_set_new(o, "arch", json_string(
			e->plan->cfg.arch == GUEST_AARCH32 ? "aarch32" : "aarch64"));
	}
	snprintf(path, sizeof(path), "%s/console.log", e->dir);
	json_object_set_new(o, "console_log", json_string(path));
	snprintf(path, sizeof(path), "%s/console.sock", e->dir);
	json_object_set_new(o, "console_socket", json_string(path));
	snprintf(path, sizeof(path), "%s/worker.log", e->dir);
	json_object_set_new(o, "worker_log", json_string(path));
	json_object_set_new(o, "created_at", json_integer(e->created_at));
	return o;
}

/* The VM named in params, if the method may be called in its state. */
static struct vm_entry *lookup(struct rpc_call *call, json_t *params)
{
	struct daemon *d = call->ctx;
	const char *name = json_string_value(json_object_get(params, "name"));
	struct vm_entry *e = registry_find(d, name);

	if (!e) {
		rpc_fail(call, ARMVM_E_NO_VM, json_pack("{s:s}", "name", name),
			 "no VM named '%s'", name);
		return NULL;
	}
	if (!(call->method->states & VM_S(e->state))) {
		rpc_fail(call, ARMVM_E_STATE,
			 json_pack("{s:s, s:s, s:o}", "name", e->name,
				   "state", vm_state_name(e->state),
				   "allowed", vm_states_json(call->method->states)),
			 "%s is not possible while VM '%s' is %s",
			 call->method->name, e->name, vm_state_name(e->state));
		return NULL;
	}
	return e;
}

static int require_kvm(struct rpc_call *call)
{
	const struct host_info *hi = hostinfo_get();

	if (!hi->kvm)
		return rpc_fail(call, ARMVM_E_NO_KVM, json_pack("{s:s}", "reason", hi->reason),
				"no usable arm64 KVM: %s", hi->reason);
	return 0;
}

static int plan_or_fail(struct rpc_call *call, json_t *params, struct vm_plan *plan)
{
	struct plan_host host;
	struct layout_error err;

	registry_plan_host(&host);
	if (plan_build(params, &host, plan, &err) < 0)
		return rpc_fail(call, err.code, plan_error_data(&err), "%s", err.message);
	return 0;
}

static int m_layout(struct rpc_call *call, json_t *params, json_t **result)
{
	struct vm_plan *plan;

	if (require_kvm(call) < 0 || check_policies(call, params) < 0)
		return -1;
	plan = calloc(1, sizeof(*plan));
	if (!plan)
		return rpc_fail(call, ARMVM_E_RESOURCE, NULL, "out of memory");
	if (plan_or_fail(call, params, plan) < 0) {
		free(plan);
		return -1;
	}
	*result = plan_to_json(plan);
	free(plan);
	return 0;
}

static int m_create(struct rpc_call *call, json_t *params, json_t **result)
{
	struct daemon *d = call->ctx;
	const char *name = json_string_value(json_object_get(params, "name"));
	json_t *start = json_object_get(params, "start");
	char gen[64], msg[256];
	struct vm_entry *e;
	struct vm_plan *plan;
	json_t *spec;
	struct timespec t0_mono, t0_real;	/* arrival, for the boot timer */

	clock_gettime(CLOCK_MONOTONIC, &t0_mono);
	clock_gettime(CLOCK_REALTIME, &t0_real);
	if (require_kvm(call) < 0 || check_policies(call, params) < 0)
		return -1;
	if (name && !plan_name_valid(name))
		return rpc_fail(call, ARMVM_E_INVALID_PARAMS,
				json_pack("{s:s, s:s}", "param", "name", "reason", "invalid"),
				"a VM name is 1 to 40 of [A-Za-z0-9_.-], not starting with . or -");
	if (!name) {
		do
			snprintf(gen, sizeof(gen), "vm%lu", ++d->next_vm_number);
		while (registry_find(d, gen));
		name = gen;
	}
	if (registry_find(d, name))
		return rpc_fail(call, ARMVM_E_EXISTS, json_pack("{s:s}", "name", name),
				"a VM named '%s' exists", name);

	/* the whole plan is checked before anything exists */
	spec = json_deep_copy(params);
	json_object_set_new(spec, "name", json_string(name));
	json_object_del(spec, "start");
	plan = calloc(1, sizeof(*plan));
	if (!plan || plan_or_fail(call, spec, plan) < 0) {
		if (!plan)
			rpc_fail(call, ARMVM_E_RESOURCE, NULL, "out of memory");
		free(plan);
		json_decref(spec);
		return -1;
	}
	e = registry_add(d, name);
	if (!e) {
		free(plan);
		json_decref(spec);
		return rpc_fail(call, ARMVM_E_RESOURCE, NULL, "out of memory");
	}
	e->params = spec;
	e->plan = plan;
	registry_audit(call, "vm.create", e->name);
	e->start_when_ready = !start || json_is_true(start);
	e->start_req_mono = t0_mono;
	e->start_req_real = t0_real;
	registry_remove_dir(e->dir);	/* leftovers of an earlier VM of that name */
	if (registry_spawn(e, msg, sizeof(msg)) < 0) {
		registry_remove(e);
		return rpc_fail(call, ARMVM_E_RESOURCE, NULL, "%s", msg);
	}
	e->pending = rpc_defer(call);
	return RPC_DEFERRED;
}

static int m_start(struct rpc_call *call, json_t *params, json_t **result)
{
	struct vm_entry *e = lookup(call, params);
	char msg[256];
	json_t *res = NULL;
	int r;

	if (!e || require_kvm(call) < 0)
		return -1;
	registry_audit(call, "vm.start", e->name);
	registry_note_start_request(e);
	if (e->state == VM_CREATED) {
		json_t *sp = registry_start_params(e);

		r = registry_worker_call(e, "worker.start", sp, &res, WORKER_TIMEOUT_MS);
		json_decref(sp);
		json_decref(res);
		if (r != ARMVM_OK)
			return rpc_fail(call, ARMVM_E_INTERNAL, NULL,
					"the worker of VM '%s' did not start it: %s",
					e->name, armvm_strerror(r, NULL));
		registry_set_state(e, VM_RUNNING, "started");
		*result = vm_entry_json(e);
		return 0;
	}
	/* stopped or crashed: a fresh worker sets the VM up again */
	e->start_when_ready = true;
	if (registry_spawn(e, msg, sizeof(msg)) < 0)
		return rpc_fail(call, ARMVM_E_RESOURCE, NULL, "%s", msg);
	e->pending = rpc_defer(call);
	return RPC_DEFERRED;
}

static int m_stop(struct rpc_call *call, json_t *params, json_t **result)
{
	struct vm_entry *e = lookup(call, params);
	bool force = json_is_true(json_object_get(params, "force"));
	json_t *res = NULL, *wp;
	int r;

	if (!e || check_policies(call, params) < 0)
		return -1;
	registry_audit(call, force ? "vm.stop (forced)" : "vm.stop", e->name);
	if (!force && e->state != VM_CREATED) {
		if (e->stopping)
			return rpc_fail(call, ARMVM_E_STATE,
					json_pack("{s:s, s:s}", "name", e->name, "state", "stopping"),
					"VM '%s' is already being stopped", e->name);
		/* the power key; the answer comes when the worker is gone */
		wp = json_pack("{s:b}", "force", 0);
		if (json_object_get(params, "timeout"))
			json_object_set(wp, "timeout", json_object_get(params, "timeout"));
		r = registry_worker_call(e, "worker.stop", wp, &res, WORKER_TIMEOUT_MS);
		json_decref(wp);
		json_decref(res);
		if (r == ARMVM_OK) {
			e->stopping = rpc_defer(call);
			return RPC_DEFERRED;
		}
		log_warn("VM %s: graceful stop failed (%s): forcing", e->name,
			 armvm_strerror(r, NULL));
	}
	wp = json_pack("{s:b}", "force", 1);
	r = registry_worker_call(e, "worker.stop", wp, &res, WORKER_TIMEOUT_MS);
	json_decref(wp);
	json_decref(res);
	if (r != ARMVM_OK)
		log_warn("VM %s: worker did not stop on request (%s): killing it",
			 e->name, armvm_strerror(r, NULL));
	/* the worker exits by itself after answering; make sure of it */
	registry_kill(e, r == ARMVM_OK ? 2000 : 0);
	registry_set_state(e, VM_STOPPED, "forced stop");
	if (e->stopping) {
		rpc_deferred_reply(e->stopping, vm_entry_json(e));
		e->stopping = NULL;
	}
	*result = vm_entry_json(e);
	return 0;
}

static int m_destroy(struct rpc_call *call, json_t *params, json_t **result)
{
	struct vm_entry *e = lookup(call, params);

	if (!e)
		return -1;
	registry_audit(call, "vm.destroy", e->name);
	*result = json_pack("{s:s, s:s}", "name", e->name, "state", "destroyed");
	log_info("VM %s destroyed", e->name);
	registry_destroy(e, "destroyed on request");
	return 0;
}

static int m_list(struct rpc_call *call, json_t *params, json_t **result)
{
	struct daemon *d = call->ctx;
	json_t *list = json_array();

	for (struct vm_entry *e = d->vms; e; e = e->next) {
		json_t *o = json_pack("{s:s, s:s, s:s}", "name", e->name,
				      "state", vm_state_name(e->state), "reason", e->reason);

		if (e->pid)
			json_object_set_new(o, "pid", json_integer(e->pid));
		if (e->plan)
			json_object_set_new(o, "ipa_bits", json_integer(e->plan->ipa.bits));
		json_array_append_new(list, o);
	}
	*result = list;
	return 0;
}

static int m_info(struct rpc_call *call, json_t *params, json_t **result)
{
	struct vm_entry *e = lookup(call, params);
	json_t *live = NULL;

	if (!e)
		return -1;
	*result = vm_entry_json(e);
	if (e->plan)
		json_object_set_new(*result, "layout", plan_to_json(e->plan));
	json_object_set_new(*result, "autostart",
			    json_boolean(json_is_true(json_object_get(e->params, "autostart"))));
	json_object_set_new(*result, "on_poweroff", json_string(
		json_string_value(json_object_get(e->params, "on_poweroff")) ?: "stop"));
	json_object_set_new(*result, "on_reboot", json_string(
		json_string_value(json_object_get(e->params, "on_reboot")) ?: "restart"));
	if (e->pid && (e->state == VM_RUNNING || e->state == VM_CREATED ||
		       e->state == VM_PAUSED)) {
		if (registry_worker_call(e, "worker.info", NULL, &live, WORKER_TIMEOUT_MS) == ARMVM_OK)
			json_object_set_new(*result, "live", live);
		else
			json_object_set_new(*result, "live", json_pack("{s:s}",
					    "error", "the worker did not answer"));
	}
	if (e->state == VM_RUNNING) {
		struct timespec now;

		clock_gettime(CLOCK_MONOTONIC, &now);
		json_object_set_new(*result, "uptime", json_real(
			(double)(now.tv_sec - e->started_at.tv_sec) +
			(now.tv_nsec - e->started_at.tv_nsec) / 1e9));
	}
	return 0;
}

/* the tail of the console log, for a VM whose worker is gone */
static json_t *log_tail(const char *path, json_int_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;
	off_t start;
	ssize_t n;
	json_t *s;

	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return json_pack("{s:s, s:I}", "output", "", "total_bytes", (json_int_t)0);
	}
	start = st.st_size > max ? st.st_size - max : 0;
	buf = malloc((size_t)(st.st_size - start) + 1);
	n = buf ? pread(fd, buf, (size_t)(st.st_size - start), start) : -1;
	close(fd);
	s = json_string_lossy(buf ? buf : "", n > 0 ? (size_t)n : 0);
	free(buf);
	return json_pack("{s:o, s:I}", "output", s, "total_bytes", (json_int_t)st.st_size);
}

static int m_console(struct rpc_call *call, json_t *params, json_t **result)
{
	struct vm_entry *e = lookup(call, params);
	json_t *bytes = json_object_get(params, "bytes");
	json_int_t max = bytes ? json_integer_value(bytes) : 16384;
	char path[PATH_MAX + 16];

	if (!e)
		return -1;
	if (max < 0)
		return rpc_fail(call, ARMVM_E_INVALID_PARAMS,
				json_pack("{s:s, s:s}", "param", "bytes", "reason", "negative"),
				"bytes must be >= 0");
	if (e->pid && (e->state == VM_RUNNING || e->state == VM_CREATED ||
		       e->state == VM_PAUSED)) {
		json_t *p = json_pack("{s:I}", "bytes", max);
		int r = registry_worker_call(e, "worker.console", p, result, WORKER_TIMEOUT_MS);

		json_decref(p);
		if (r == ARMVM_OK)
			return 0;
	}
	snprintf(path, sizeof(path), "%s/console.log", e->dir);
	*result = log_tail(path, max);
	return 0;
}

/* A worker call whose success moves the VM to state; -1 with the error. */
static int worker_op(struct rpc_call *call, struct vm_entry *e, const char *method,
		     json_t *wparams, enum vm_state state, const char *reason,
		     json_t **result)
{
	json_t *res = NULL;
	int r = registry_worker_call(e, method, wparams, &res, WORKER_TIMEOUT_MS);

	json_decref(res);
	if (r != ARMVM_OK)
		return rpc_fail(call, ARMVM_E_INTERNAL, NULL, "the worker of VM '%s': %s: %s",
				e->name, method, armvm_strerror(r, NULL));
	registry_set_state(e, state, reason);
	*result = vm_entry_json(e);
	return 0;
}

static int m_pause(struct rpc_call *call, json_t *params, json_t **result)
{
	struct vm_entry *e = lookup(call, params);

	if (!e)
		return -1;
	registry_audit(call, "vm.pause", e->name);
	return worker_op(call, e, "worker.pause", NULL, VM_PAUSED, "paused", result);
}

static int m_resume(struct rpc_call *call, json_t *params, json_t **result)
{
	struct vm_entry *e = lookup(call, params);

	if (!e)
		return -1;
	registry_audit(call, "vm.resume", e->name);
	return worker_op(call, e, "worker.resume", NULL, VM_RUNNING, "resumed", result);
}

static int m_reboot(struct rpc_call *call, json_t *params, json_t **result)
{
	struct vm_entry *e = lookup(call, params);
	bool force = json_is_true(json_object_get(params, "force"));
	json_t *wp;
	int r;

	if (!e || check_policies(call, params) < 0)
		return -1;
	registry_audit(call, force ? "vm.reboot (forced)" : "vm.reboot", e->name);
	wp = json_pack("{s:b}", "force", force);
	if (json_object_get(params, "timeout"))
		json_object_set(wp, "timeout", json_object_get(params, "timeout"));
	/* forced: reset in place at once; else the guest shuts down by the
	 * power key and starts again (the worker reports it as an event) */
	/* the state stays; the worker's reboot event reports the reset */
	r = worker_op(call, e, "worker.reboot", wp, e->state, e->reason, result);
	json_decref(wp);
	return r;
}

static int m_set(struct rpc_call *call, json_t *params, json_t **result)
{
	struct vm_entry *e = lookup(call, params);
	const char *key;
	json_t *v, *wp, *res = NULL;

	if (!e || check_policies(call, params) < 0)
		return -1;
	registry_audit(call, "vm.set", e->name);
	json_object_foreach(params, key, v)
		if (strcmp(key, "name"))
			json_object_set(e->params, key, v);
	state_save(e);
	wp = json_deep_copy(params);
	json_object_del(wp, "name");
	json_object_del(wp, "autostart");
	if (e->pid && json_object_size(wp))
		registry_worker_call(e, "worker.set", wp, &res, WORKER_TIMEOUT_MS);
	json_decref(wp);
	json_decref(res);
	*result = vm_entry_json(e);
	json_object_set_new(*result, "autostart",
			    json_boolean(json_is_true(json_object_get(e->params, "autostart"))));
	return 0;
}

const struct rpc_method rpc_vm_pause = {
	.name = "vm.pause", .handler = m_pause, .params = name_params,
	.states = VM_S(VM_RUNNING),
	.doc = "Park the vCPUs; devices quiesce, the console stays readable",
};
const struct rpc_method rpc_vm_resume = {
	.name = "vm.resume", .handler = m_resume, .params = name_params,
	.states = VM_S(VM_PAUSED),
	.doc = "Run a paused VM's vCPUs again",
};
const struct rpc_method rpc_vm_reboot = {
	.name = "vm.reboot", .handler = m_reboot, .params = stop_params,
	.states = VM_S(VM_RUNNING) | VM_S(VM_PAUSED),
	.doc = "Reboot: the guest shuts down by the power key and starts again (forced after timeout), or force: reset in place",
};
const struct rpc_method rpc_vm_set = {
	.name = "vm.set", .handler = m_set, .params = set_params,
	.states = VM_S_ANY & ~VM_S(VM_CREATING),
	.doc = "Change autostart and the power-off/reboot policies (saved)",
};

const struct rpc_method rpc_vm_create = {
	.name = "vm.create", .handler = m_create, .params = create_params,
	.doc = "Define a VM, set it up in its own worker and (unless start is false) start it",
};
const struct rpc_method rpc_vm_layout = {
	.name = "vm.layout", .handler = m_layout, .params = create_params,
	.doc = "The address plan vm.create would use (banks, devices, payload, IPA), creating nothing",
};
const struct rpc_method rpc_vm_start = {
	.name = "vm.start", .handler = m_start, .params = name_params,
	.states = VM_S(VM_CREATED) | VM_S(VM_STOPPED) | VM_S(VM_CRASHED),
	.doc = "Start a created, stopped or crashed VM",
};
const struct rpc_method rpc_vm_stop = {
	.name = "vm.stop", .handler = m_stop, .params = stop_params,
	.states = VM_S(VM_CREATED) | VM_S(VM_RUNNING) | VM_S(VM_PAUSED),
	.doc = "Stop a VM: the power key, then forced after timeout; force: at once. Answers when it is stopped",
};
const struct rpc_method rpc_vm_destroy = {
	.name = "vm.destroy", .handler = m_destroy, .params = name_params,
	.states = VM_S_ANY,
	.doc = "Stop a VM if needed and forget it",
};
const struct rpc_method rpc_vm_list = {
	.name = "vm.list", .handler = m_list,
	.doc = "All VMs with their state",
};
const struct rpc_method rpc_vm_info = {
	.name = "vm.info", .handler = m_info, .params = name_params,
	.states = VM_S_ANY,
	.doc = "A VM's state, IPA size and why, layout, worker, console paths, vCPUs, uptime",
};
const struct rpc_method rpc_vm_console = {
	.name = "vm.console", .handler = m_console, .params = console_params,
	.states = VM_S_ANY,
	.doc = "Recent console output of a VM",
};
