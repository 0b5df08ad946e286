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
#include "daemon/authz.h"
#include "daemon/daemon.h"
#include "daemon/vmfiles.h"
#include "daemon/api.h"
#include "daemon/jobs.h"
#include "daemon/watch.h"
#include "rpc/server.h"
#include "rpc/worker_proto.h"
#include "util/jsonutil.h"


static const struct rpc_param create_params[] = {
	{ "name", RPC_T_STRING, false, "VM name ([A-Za-z0-9_.-], generated when absent)" },
	{ "kernel", RPC_T_ANY, true, "arm64 Image (or gzip of one), or zImage for aarch32: an absolute path (opened as the caller) or {\"fd\": N, \"path\": NAME} (descriptor N passed with the request)" },
	{ "initrd", RPC_T_ANY, false, "initial ramdisk: a path or {\"fd\", \"path\"}" },
	{ "dtb", RPC_T_ANY, false, "device tree to use instead of the generated one: a path or {\"fd\", \"path\"}" },
	{ "cmdline", RPC_T_STRING, false, "kernel command line" },
	{ "memory", RPC_T_ANY, false, "\"SIZE[@BASE]\" or a list of them; first bank holds the kernel (default 512M at 2 GiB)" },
	{ "vcpus", RPC_T_INT, false, "number of vCPUs (default 1)" },
	{ "ipa", RPC_T_INT, false, "IPA size in bits (default: smallest covering the map)" },
	{ "gic", RPC_T_STRING, false, "\"auto\" (default), \"v2\" or \"v3\"" },
	{ "arch", RPC_T_STRING, false, "\"aarch64\" (default) or \"aarch32\"" },
	{ "disks", RPC_T_ANY, false, "virtio-blk disks: \"PATH[,ro][,serial=ID][,queues=N]\", {\"path\" or \"fd\",\"readonly\",\"serial\",\"queues\"} or a list of them" },
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

static const struct rpc_param info_params[] = {
	{ "name", RPC_T_STRING, true, "VM name" },
	{ "brief", RPC_T_BOOL, false, "leave the layout (the plan) and the cgroup's figures out: "
				      "for callers that poll" },
	{ "fresh", RPC_T_BOOL, false, "ask the worker now rather than answer from the state "
				      "it pushed last" },
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

		if (json_object_get(params, keys[i]) && !worker_policy_valid(v))
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

/* The VM named in params, if the caller may call the method on it
 * (.authz, authz.h) and the method may be called in its state. */
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
	/* before the state: who may not drive it is told so in any state */
	if (authz_check(call, e, call->method->authz) < 0)
		return NULL;
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

/* ---- calls to a worker, answered when it answers ---- */

struct wcall {
	struct rpc_call *call;
	struct vm_entry *e;
	const char *method;
	enum vm_state state;		/* on success, unless keep_state */
	bool keep_state;
	bool brief;			/* vm.info without the layout */
	char reason[64];
};

/* Fail a deferred call with why the worker did not do it. */
static void fail_worker_call(struct rpc_call *call, struct vm_entry *e, const char *method,
			     const struct rpc_link_error *err)
{
	if (err->timed_out)
		rpc_deferred_fail(call, ARMVM_E_TIMEOUT,
				  json_pack("{s:s, s:s, s:f}", "name", e->name, "method", method,
					    "timeout_s", registry_worker_timeout(e->d)),
				  "the worker of VM '%s' did not answer %s within %g s; "
				  "the VM is marked unresponsive", e->name, method,
				  registry_worker_timeout(e->d));
	else if (err->closed && registry_find(e->d, e->name) != e)
		rpc_deferred_fail(call, ARMVM_E_NO_VM, json_pack("{s:s}", "name", e->name),
				  "VM '%s' was destroyed before its worker answered", e->name);
	else if (err->closed)
		rpc_deferred_fail(call, ARMVM_E_INTERNAL,
				  json_pack("{s:s, s:s}", "name", e->name, "method", method),
				  "the worker of VM '%s' went away before answering %s",
				  e->name, method);
	else
		rpc_deferred_fail(call, err->code ? err->code : ARMVM_E_INTERNAL,
				  err->data ? json_incref(err->data) : NULL,
				  "the worker of VM '%s' refused %s: %s", e->name, method,
				  err->message);
}

static void wcall_done(void *arg, json_t *result, const struct rpc_link_error *err)
{
	struct wcall *w = arg;

	if (err) {
		fail_worker_call(w->call, w->e, w->method, err);
	} else {
		if (!w->keep_state)
			registry_set_state(w->e, w->state, w->reason);
		rpc_deferred_reply(w->call, vm_entry_json(w->e));
	}
	free(w);
}

/* Send method to e's worker; the call is answered with e's state when the
 * worker has done it (moving e to state), or with why not. */
static int worker_op(struct rpc_call *call, struct vm_entry *e, const char *method,
		     json_t *wparams, int state, const char *reason)
{
	struct wcall *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return rpc_fail(call, ARMVM_E_RESOURCE, NULL, "out of memory");
	w->e = e;
	w->method = method;
	w->keep_state = state < 0;
	w->state = state < 0 ? e->state : (enum vm_state)state;
	snprintf(w->reason, sizeof(w->reason), "%s", reason ? reason : "");
	w->call = rpc_defer(call);
	if (!w->call) {
		free(w);
		return rpc_fail(call, ARMVM_E_RESOURCE, NULL, "out of memory");
	}
	r = watch_call(e, method, wparams, wcall_done, w);
	if (r < 0) {
		rpc_deferred_fail(w->call, ARMVM_E_INTERNAL, NULL,
				  "no link to the worker of VM '%s': %s", e->name, strerror(-r));
		free(w);
	}
	return RPC_DEFERRED;
}

/* ---- admission: how many VMs and how much guest memory ---- */

static uint64_t plan_memory(const struct vm_plan *p)
{
	return p ? plan_guest_memory(p) : 0;
}

static bool has_worker(const struct vm_entry *e)
{
	return e->pid || e->state == VM_CREATING;
}

/* May one more VM of uid exist? */
static int admit_count(struct rpc_call *call, struct daemon *d, uid_t uid)
{
	const struct armvmd_limits *l = &d->limits;
	unsigned all = 0, mine = 0;

	for (struct vm_entry *e = d->vms; e; e = e->next) {
		all++;
		mine += e->owner == uid;
	}
	if (l->max_vms && all >= l->max_vms)
		return rpc_fail(call, ARMVM_E_RESOURCE,
				json_pack("{s:s, s:I, s:I}", "limit", "max-vms",
					  "max", (json_int_t)l->max_vms, "in_use", (json_int_t)all),
				"this daemon holds %u VMs, its limit (max-vms)", all);
	if (l->max_vms_per_uid && mine >= l->max_vms_per_uid)
		return rpc_fail(call, ARMVM_E_RESOURCE,
				json_pack("{s:s, s:I, s:I, s:i}", "limit", "max-vms-per-uid",
					  "max", (json_int_t)l->max_vms_per_uid,
					  "in_use", (json_int_t)mine, "uid", (int)uid),
				"uid %d has %u VMs, its limit (max-vms-per-uid)", (int)uid, mine);
	return 0;
}

/* May self, of uid, run with mem bytes of guest RAM besides the others? */
static int admit_memory(struct rpc_call *call, struct daemon *d, const struct vm_entry *self,
			uid_t uid, uint64_t mem)
{
	const struct armvmd_limits *l = &d->limits;
	uint64_t all = 0, mine = 0;
	uint64_t max_all = limits_guest_mem(l, false), max_mine = limits_guest_mem(l, true);
	for (struct vm_entry *e = d->vms; e; e = e->next) {
		uint64_t m;

		if (e == self || !has_worker(e))
			continue;
		m = plan_memory(e->plan);
		all += m;
		if (e->owner == uid)
			mine += m;
	}
	if (max_all && all + mem > max_all)
		return rpc_fail(call, ARMVM_E_RESOURCE,
				json_pack("{s:s, s:I, s:I, s:I}", "limit", "max-guest-mem",
					  "max", (json_int_t)max_all, "in_use", (json_int_t)all,
					  "requested", (json_int_t)mem),
				"%llu MiB of guest RAM would exceed this host's limit of %llu MiB "
				"(%llu MiB in use; max-guest-mem, overcommit)",
				(unsigned long long)(mem >> 20), (unsigned long long)(max_all >> 20),
				(unsigned long long)(all >> 20));
	if (max_mine && mine + mem > max_mine)
		return rpc_fail(call, ARMVM_E_RESOURCE,
				json_pack("{s:s, s:I, s:I, s:I, s:i}", "limit", "max-guest-mem-per-uid",
					  "max", (json_int_t)max_mine, "in_use", (json_int_t)mine,
					  "requested", (json_int_t)mem, "uid", (int)uid),
				"%llu MiB of guest RAM would exceed uid %d's limit of %llu MiB "
				"(%llu MiB in use; max-guest-mem-per-uid)",
				(unsigned long long)(mem >> 20), (int)uid,
				(unsigned long long)(max_mine >> 20), (unsigned long long)(mine >> 20));
	return 0;
}

static uid_t caller_uid(struct rpc_call *call)
{
	pid_t pid = -1;
	uid_t uid = 0;

	if (call->conn)
		server_peer(call->conn, &pid, &uid);
	return uid;
}

/* The caller's credentials (root's for an internal call). */
static struct server_peer_cred caller_cred(struct rpc_call *call)
{
	const struct server_peer_cred *p = server_peer_cred(call->conn);
	struct server_peer_cred root = { .pid = -1, .known = true };

	return p ? *p : root;
}

/* The request's descriptors that params name, checked, into kept. */
static int take_files(struct rpc_call *call, json_t *params, const struct server_peer_cred *who,
		      struct plan_files *kept)
{
	struct daemon *d = call->ctx;
	struct files_refusal why = { 0 };
	unsigned n = 0;
	int *fds = server_call_fds(call->conn, &n);

	if (vmfiles_take(params, who, fds, n, &d->files_policy, kept, &why) < 0)
		return rpc_fail(call, why.code, why.data, "%s", why.message);
	return 0;
}

/* ---- planning, off the loop (registry_plan) ---- */

static void layout_done(struct daemon *d, void *arg, struct registry_planned *res)
{
	struct rpc_call *call = arg;

	if (res->r < 0) {
		rpc_deferred_fail(call, res->code, res->data, "%s", res->message);
		res->data = NULL;
	} else {
		rpc_deferred_reply(call, plan_to_json(res->plan));
	}
	registry_planned_free(res);
}

static int m_layout(struct rpc_call *call, json_t *params, json_t **result)
{
	struct server_peer_cred who = caller_cred(call);
	struct rpc_call *deferred;
	struct plan_files kept;

	if (require_kvm(call) < 0 || check_policies(call, params) < 0 ||
	    take_files(call, params, &who, &kept) < 0)
		return -1;
	deferred = rpc_defer(call);
	if (!deferred) {
		plan_files_close(&kept);
		return rpc_fail(call, ARMVM_E_RESOURCE, NULL, "out of memory");
	}
	/* the files as the caller may open them, and nothing else */
	if (registry_plan(call->ctx, params, &who, &kept, layout_done, deferred) < 0)
		rpc_deferred_fail(deferred, ARMVM_E_RESOURCE, NULL, "out of memory");
	return RPC_DEFERRED;
}

struct create_ctx {
	char name[64];
	unsigned long serial;		/* the entry reserved meanwhile */
};

/* vm.create's plan is built: admit, spawn, or refuse and forget. */
static void create_planned(struct daemon *d, void *arg, struct registry_planned *res)
{
	struct create_ctx *c = arg;
	struct vm_entry *e = registry_find_serial(d, c->name, c->serial);
	struct rpc_call *call;
	char msg[256];

	free(c);
	if (!e || !e->pending) {	/* destroyed meanwhile: answered then */
		registry_planned_free(res);
		return;
	}
	call = e->pending;
	e->pending = NULL;
	if (res->r < 0) {
		rpc_deferred_fail(call, res->code, res->data, "%s", res->message);
		res->data = NULL;
		registry_planned_free(res);
		registry_remove(e);
		return;
	}
	free(e->plan);
	e->plan = res->plan;
	res->plan = NULL;
	if (admit_memory(call, d, e, e->owner, plan_memory(e->plan)) < 0) {
		/* the refusal is in call already: send it as it is */
		json_t *data = call->err_data;
		char why[sizeof(call->err_message)];

		call->err_data = NULL;
		snprintf(why, sizeof(why), "%s", call->err_message);
		rpc_deferred_fail(call, call->err_code, data, "%s", why);
		call = NULL;
	} else {
		registry_remove_dir(e);	/* leftovers of an earlier VM of that name */
		if (registry_spawn(e, &res->files, msg, sizeof(msg)) < 0) {
			rpc_deferred_fail(call, ARMVM_E_RESOURCE, NULL, "%s", msg);
			call = NULL;
		}
	}
	registry_planned_free(res);
	if (!call) {
		registry_remove(e);
		return;
	}
	e->pending = call;
}

static int m_create(struct rpc_call *call, json_t *params, json_t **result)
{
	struct daemon *d = call->ctx;
	const char *name = json_string_value(json_object_get(params, "name"));
	json_t *start = json_object_get(params, "start");
	uid_t uid = caller_uid(call);
	char gen[64];
	struct vm_entry *e;
	struct create_ctx *c;
	json_t *spec;
	struct timespec t0_mono, t0_real;	/* arrival, for the boot timer */
	struct server_peer_cred who;
	struct plan_files kept, copy;

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
	if (admit_count(call, d, uid) < 0)
		return -1;

	who = caller_cred(call);
	if (take_files(call, params, &who, &kept) < 0)
		return -1;
	spec = json_deep_copy(params);
	json_object_set_new(spec, "name", json_string(name));
	json_object_del(spec, "start");
	/* the name is taken from now on; the plan is checked before any
	 * process exists, off the loop */
	c = calloc(1, sizeof(*c));
	e = c && spec ? registry_add(d, name) : NULL;
	if (!e) {
		free(c);
		json_decref(spec);
		plan_files_close(&kept);
		return rpc_fail(call, ARMVM_E_RESOURCE, NULL, "out of memory");
	}
	e->params = spec;
	e->owner = uid;
	e->owner_cred = who;
	e->kept = kept;		/* while the entry lives (vmfiles.h) */
	e->state = VM_CREATING;
	snprintf(e->reason, sizeof(e->reason), "planning its address space");
	registry_audit(call, "vm.create", e->name);
	e->start_when_ready = !start || json_is_true(start);
	e->start_req_mono = t0_mono;
	e->start_req_real = t0_real;
	snprintf(c->name, sizeof(c->name), "%s", e->name);
	c->serial = e->serial;
	e->pending = rpc_defer(call);
	if (!e->pending || vmfiles_dup(&e->kept, &copy) < 0 ||
	    registry_plan(d, spec, &who, &copy, create_planned, c) < 0) {
		free(c);
		if (e->pending) {
			rpc_deferred_fail(e->pending, ARMVM_E_RESOURCE, NULL, "out of memory");
			e->pending = NULL;
		}
		registry_remove(e);
	}
	return RPC_DEFERRED;
}

static int m_start(struct rpc_call *call, json_t *params, json_t **result)
{
	struct vm_entry *e = lookup(call, params);
	json_t *sp;
	int r;

	if (!e || require_kvm(call) < 0)
		return -1;
	registry_audit(call, "vm.start", e->name);
	registry_note_start_request(e);
	if (e->state == VM_CREATED) {
		sp = registry_start_params(e);
		r = worker_op(call, e, WORKER_M_START, sp, VM_RUNNING, "started");
		json_decref(sp);
		return r;
	}
	/* stopped or crashed: a fresh worker sets the VM up again, its
	 * files opened again as its owner (a definition that no longer
	 * plans fails then) */
	if (admit_memory(call, e->d, e, e->owner, plan_memory(e->plan)) < 0)
		return -1;
	e->start_when_ready = true;
	e->pending = rpc_defer(call);
	if (!e->pending)
		return rpc_fail(call, ARMVM_E_RESOURCE, NULL, "out of memory");
	registry_start(e);
	return RPC_DEFERRED;
}

static double kill_grace(const struct daemon *d)
{
	return d->limits.kill_grace_s > 0 ? d->limits.kill_grace_s : 2.;
}

/* Stop now: the worker is told, and killed if it has not ended in time. */
static void force_stop(struct vm_entry *e)
{
	json_t *wp = json_pack("{s:b}", "force", 1);

	if (watch_call(e, WORKER_M_STOP, wp, NULL, NULL) < 0)
		registry_kill(e, 0);
	else
		registry_kill(e, kill_grace(e->d));
	json_decref(wp);
}

static void graceful_done(void *arg, json_t *result, const struct rpc_link_error *err)
{
	struct vm_entry *e = arg;

	if (!err)
		return;		/* the guest has the power key; the end answers */
	log_warn("VM %s: graceful stop failed (%s): forcing", e->name, err->message);
	e->graceful_stop = false;
	if (e->pid)
		force_stop(e);
}

static int m_stop(struct rpc_call *call, json_t *params, json_t **result)
{
	struct vm_entry *e = lookup(call, params);
	bool force = json_is_true(json_object_get(params, "force"));
	json_t *t = json_object_get(params, "timeout");
	struct rpc_call *waiter;
	json_t *wp;

	if (!e || check_policies(call, params) < 0)
		return -1;
	registry_audit(call, force ? "vm.stop (forced)" : "vm.stop", e->name);
	if (!force && e->state != VM_CREATED && e->graceful_stop)
		return rpc_fail(call, ARMVM_E_STATE,
				json_pack("{s:s, s:s}", "name", e->name, "state", "stopping"),
				"VM '%s' is already being stopped", e->name);
	/* answered when the worker is gone, whichever way it goes */
	waiter = rpc_defer(call);
	if (!waiter || registry_wait_end(e, waiter) < 0) {
		if (waiter)
			rpc_deferred_fail(waiter, ARMVM_E_RESOURCE, NULL, "out of memory");
		return RPC_DEFERRED;
	}
	if (force || e->state == VM_CREATED || e->unresponsive) {
		force_stop(e);
		return RPC_DEFERRED;
	}
	/* the power key; the worker forces the stop after timeout, and if
	 * the worker itself is stuck, it is killed a little later */
	wp = json_pack("{s:b}", "force", 0);
	if (t)
		json_object_set(wp, "timeout", t);
	e->graceful_stop = true;
	if (watch_call(e, WORKER_M_STOP, wp, graceful_done, e) < 0) {
		e->graceful_stop = false;
		force_stop(e);
	} else {
		registry_kill(e, (t ? (double)json_integer_value(t) : WORKER_GRACE_DEFAULT_S) +
			      registry_worker_timeout(e->d) + kill_grace(e->d));
	}
	json_decref(wp);
	return RPC_DEFERRED;
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
		json_t *o = json_pack("{s:s, s:s, s:s, s:b}", "name", e->name,
				      "state", vm_state_name(e->state), "reason", e->reason,
				      "unresponsive", e->unresponsive);

		if (e->pid)
			json_object_set_new(o, "pid", json_integer(e->pid));
		if (e->plan)
			json_object_set_new(o, "ipa_bits", json_integer(e->plan->ipa.bits));
		json_array_append_new(list, o);
	}
	*result = list;
	return 0;
}

static bool worker_serves(const struct vm_entry *e)
{
	return e->pid && (e->state == VM_RUNNING || e->state == VM_CREATED ||
			  e->state == VM_PAUSED);
}

static json_t *info_json(struct vm_entry *e, bool brief)
{
	json_t *o = vm_entry_json_brief(e, brief);

	if (e->plan && !brief)
		json_object_set_new(o, "layout", plan_to_json(e->plan));
	json_object_set_new(o, "autostart",
			    json_boolean(json_is_true(json_object_get(e->params, "autostart"))));
	json_object_set_new(o, "on_poweroff", json_string(
		json_string_value(json_object_get(e->params, "on_poweroff")) ?: "stop"));
	json_object_set_new(o, "on_reboot", json_string(
		json_string_value(json_object_get(e->params, "on_reboot")) ?: "restart"));
	if (e->pid)
		json_object_set_new(o, "worker_protocol", json_integer(e->proto));
	if (e->state == VM_RUNNING) {
		struct timespec now;

		clock_gettime(CLOCK_MONOTONIC, &now);
		json_object_set_new(o, "uptime", json_real(
			(double)(now.tv_sec - e->started_at.tv_sec) +
			(now.tv_nsec - e->started_at.tv_nsec) / 1e9));
	}
	return o;
}

static void strip_hva(json_t *banks)
{
	size_t i;
	json_t *b;

	json_array_foreach(banks, i, b)
		json_object_del(b, "hva");
}

/* the live part as this caller may see it (live borrowed; a new object) */
static json_t *live_for(struct vm_entry *e, struct rpc_call *call, json_t *live)
{
	json_t *o = json_copy(live);

	/* the worker knows its pid in its own namespace only (1 in a jail) */
	if (e->pid)
		json_object_set_new(o, "pid", json_integer(e->pid));
	/* where guest RAM lies in the worker is for those who may look
	 * inside it (the map of an address space is worth to an attacker) */
	if (!authz_may(e->d, call->conn ? server_peer_cred(call->conn) : NULL,
		       e->owner, AUTHZ_CONTENTS)) {
		json_t *ram = json_deep_copy(json_object_get(o, "guest_ram"));

		strip_hva(ram);
		json_object_set_new(o, "guest_ram", ram ? ram : json_array());
	}
	return o;
}

static void info_done(void *arg, json_t *live, const struct rpc_link_error *err)
{
	struct wcall *w = arg;
	json_t *o;

	if (err && err->closed && registry_find(w->e->d, w->e->name) != w->e) {
		fail_worker_call(w->call, w->e, WORKER_M_INFO, err);
		free(w);
		return;
	}
	o = info_json(w->e, w->brief);
	live = err ? json_pack("{s:s}", "error", err->message) : live_for(w->e, w->call, live);
	json_object_set_new(o, "live", live);
	rpc_deferred_reply(w->call, o);
	free(w);
}

/* What the worker pushed last serves when it is recent and the worker is
 * keeping up: answered at once, no round trip (age_s says how old).  A
 * worker with calls outstanding, or late, is asked. */
static json_t *pushed_live(struct vm_entry *e)
{
	double age;

	if (!e->live || e->unresponsive || !e->link || rpc_link_pending(e->link))
		return NULL;
	age = ev_now(e->d->loop) - e->live_at;
	return age >= 0 && age <= WORKER_LIVE_MAX_AGE_S ? e->live : NULL;
}

static int m_info(struct rpc_call *call, json_t *params, json_t **result)
{
	struct vm_entry *e = lookup(call, params);
	bool brief = json_is_true(json_object_get(params, "brief"));
	bool fresh = json_is_true(json_object_get(params, "fresh"));
	struct wcall *w;
	json_t *live;

	if (!e)
		return -1;
	if (worker_serves(e) && !fresh && (live = pushed_live(e))) {
		*result = info_json(e, brief);
		live = live_for(e, call, live);
		json_object_set_new(live, "age_s", json_real(ev_now(e->d->loop) - e->live_at));
		json_object_set_new(*result, "live", live);
		return 0;
	}
	w = worker_serves(e) ? calloc(1, sizeof(*w)) : NULL;
	if (w) {
		w->e = e;
		w->brief = brief;
		w->call = rpc_defer(call);
		if (w->call && watch_call(e, WORKER_M_INFO, NULL, info_done, w) == 0)
			return RPC_DEFERRED;
		if (w->call) {
			json_t *o = info_json(e, brief);

			json_object_set_new(o, "live", json_pack("{s:s}", "error",
					    "no link to the worker"));
			rpc_deferred_reply(w->call, o);
		}
		free(w);
		return RPC_DEFERRED;
	}
	*result = info_json(e, brief);
	return 0;
}

/* The last want bytes of log file name under dirfd, appended to buf at
 * *len (buf holds at least want more).  The file's size, or -1. */
static off_t tail_of(int dirfd, const char *name, char *buf, size_t *len, size_t want)
{
	int fd = dirfd < 0 ? -1 : openat(dirfd, name,
					 O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	struct stat st;
	size_t n;
	ssize_t got;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	n = (size_t)st.st_size < want ? (size_t)st.st_size : want;
	got = n ? pread(fd, buf + *len, n, st.st_size - (off_t)n) : 0;
	close(fd);
	if (got > 0)
		*len += (size_t)got;
	return st.st_size;
}

/* the tail of the console log, for a VM whose worker is gone: at most max
 * bytes are read, from console.log and, when that is shorter, from the end
 * of the rotated console.log.1 before it */
static json_t *log_tail(int dirfd, json_int_t max)
{
	struct stat st;
	size_t want = (size_t)max, len = 0, cur = 0;
	off_t total = 0, older;
	char *buf;
	json_t *s;

	if (dirfd >= 0 && fstatat(dirfd, "console.log", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode))
		cur = (size_t)st.st_size;
	buf = malloc(want + 1);
	if (!buf)
		return json_pack("{s:s, s:I}", "output", "", "total_bytes", (json_int_t)0);
	if (cur < want) {
		older = tail_of(dirfd, "console.log.1", buf, &len, want - cur);
		total += older > 0 ? older : 0;
	}
	older = tail_of(dirfd, "console.log", buf, &len, want - len);
	total += older > 0 ? older : 0;
	s = json_string_lossy(buf, len);
	free(buf);
	return json_pack("{s:o, s:I}", "output", s, "total_bytes", (json_int_t)total);
}

struct console_call {
	struct rpc_call *call;
	struct vm_entry *e;
	json_int_t max, cap;
};

static json_t *console_from_log(struct vm_entry *e, json_int_t max)
{
	return log_tail(vm_dirfd(e), max);
}

static void console_done(void *arg, json_t *res, const struct rpc_link_error *err)
{
	struct console_call *c = arg;
	json_t *o = err ? console_from_log(c->e, c->max) : json_incref(res);

	if (c->cap)
		json_object_set_new(o, "max_bytes", json_integer(c->cap));
	rpc_deferred_reply(c->call, o);
	free(c);
}

static int m_console(struct rpc_call *call, json_t *params, json_t **result)
{
	struct vm_entry *e = lookup(call, params);
	struct daemon *d = call->ctx;
	json_t *bytes = json_object_get(params, "bytes");
	json_int_t max = bytes ? json_integer_value(bytes) : 16384;
	json_int_t cap = d->limits.max_console_bytes ? (json_int_t)d->limits.max_console_bytes
						     : (json_int_t)1 << 20;
	struct console_call *c;
	json_t *p;

	if (!e)
		return -1;
	if (max < 0)
		return rpc_fail(call, ARMVM_E_INVALID_PARAMS,
				json_pack("{s:s, s:s}", "param", "bytes", "reason", "negative"),
				"bytes must be >= 0");
	/* past the cap: the newest cap bytes, and the answer says so */
	if (max > cap)
		max = cap;
	else
		cap = 0;
	c = worker_serves(e) ? calloc(1, sizeof(*c)) : NULL;
	if (c) {
		c->e = e;
		c->max = max;
		c->cap = cap;
		c->call = rpc_defer(call);
		p = json_pack("{s:I}", "bytes", max);
		if (c->call && watch_call(e, WORKER_M_CONSOLE, p, console_done, c) == 0) {
			json_decref(p);
			return RPC_DEFERRED;
		}
		json_decref(p);
		if (c->call)
			rpc_deferred_reply(c->call, console_from_log(e, max));
		free(c);
		return RPC_DEFERRED;
	}
	*result = console_from_log(e, max);
	if (cap)
		json_object_set_new(*result, "max_bytes", json_integer(cap));
	return 0;
}

static int m_pause(struct rpc_call *call, json_t *params, json_t **result)
{
	struct vm_entry *e = lookup(call, params);

	if (!e)
		return -1;
	registry_audit(call, "vm.pause", e->name);
	return worker_op(call, e, WORKER_M_PAUSE, NULL, VM_PAUSED, "paused");
}

static int m_resume(struct rpc_call *call, json_t *params, json_t **result)
{
	struct vm_entry *e = lookup(call, params);

	if (!e)
		return -1;
	registry_audit(call, "vm.resume", e->name);
	return worker_op(call, e, WORKER_M_RESUME, NULL, VM_RUNNING, "resumed");
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
	 * power key and starts again.  The state stays; the worker's reboot
	 * event reports the reset. */
	r = worker_op(call, e, WORKER_M_REBOOT, wp, -1, NULL);
	json_decref(wp);
	return r;
}

struct set_call {
	struct rpc_call *call;
	json_t *params;			/* the new definition */
	json_t *live;			/* what the worker is told */
};

static json_t *set_answer(struct vm_entry *e)
{
	json_t *o = vm_entry_json(e);

	json_object_set_new(o, "autostart",
			    json_boolean(json_is_true(json_object_get(e->params, "autostart"))));
	return o;
}

static void set_live_done(void *arg, json_t *res, const struct rpc_link_error *err)
{
	struct set_call *c = arg;

	if (err)
		rpc_deferred_fail(c->call, err->timed_out ? ARMVM_E_TIMEOUT : ARMVM_E_INTERNAL,
				  NULL, "the definition is saved, but the running worker was "
				  "not told: %s", err->message);
	else
		rpc_deferred_reply(c->call, json_incref(c->live));
	json_decref(c->live);
	free(c);
}

static void set_saved(struct daemon *d, struct vm_entry *e, int err, void *arg)
{
	struct set_call *c = arg;
	json_t *answer;

	if (!e) {
		rpc_deferred_fail(c->call, ARMVM_E_NO_VM, NULL, "the VM was destroyed meanwhile");
	} else if (err < 0) {
		rpc_deferred_fail(c->call, ARMVM_E_RESOURCE,
				  json_pack("{s:s, s:s}", "name", e->name, "error", strerror(-err)),
				  "cannot save the definition of VM '%s': %s; nothing changed",
				  e->name, strerror(-err));
	} else {
		json_decref(e->params);
		e->params = c->params;
		c->params = NULL;
		answer = set_answer(e);
		if (e->pid && json_object_size(c->live)) {
			json_t *wp = c->live;

			c->live = answer;
			if (watch_call(e, WORKER_M_SET, wp, set_live_done, c) == 0) {
				json_decref(wp);
				return;
			}
			json_decref(wp);
			c->live = NULL;
			log_warn("VM %s: its worker cannot be told of vm.set", e->name);
		}
		rpc_deferred_reply(c->call, answer);
	}
	json_decref(c->params);
	json_decref(c->live);
	free(c);
}

static int m_set(struct rpc_call *call, json_t *params, json_t **result)
{
	struct vm_entry *e = lookup(call, params);
	struct set_call *c;
	const char *key;
	json_t *v;
	int r;

	if (!e || check_policies(call, params) < 0)
		return -1;
	registry_audit(call, "vm.set", e->name);
	c = calloc(1, sizeof(*c));
	if (!c)
		return rpc_fail(call, ARMVM_E_RESOURCE, NULL, "out of memory");
	c->params = json_deep_copy(e->params);
	json_object_foreach(params, key, v)
		if (strcmp(key, "name"))
			json_object_set(c->params, key, v);
	c->live = json_deep_copy(params);
	json_object_del(c->live, "name");
	json_object_del(c->live, "autostart");
	c->call = rpc_defer(call);
	/* the answer waits for the definition to be on disk */
	r = c->call ? registry_save(e, c->params, set_saved, c) : -ENOMEM;
	if (r < 0) {
		if (c->call)
			rpc_deferred_fail(c->call, ARMVM_E_RESOURCE, NULL,
					  "cannot save the definition of VM '%s': %s",
					  e->name, strerror(-r));
		json_decref(c->params);
		json_decref(c->live);
		free(c);
	}
	return RPC_DEFERRED;
}

const struct rpc_method rpc_vm_pause = {
	.name = "vm.pause", .handler = m_pause, .params = name_params,
	.states = VM_S(VM_RUNNING), .authz = AUTHZ_DRIVE,
	.doc = "Park the vCPUs; devices quiesce, the console stays readable",
};
const struct rpc_method rpc_vm_resume = {
	.name = "vm.resume", .handler = m_resume, .params = name_params,
	.states = VM_S(VM_PAUSED), .authz = AUTHZ_DRIVE,
	.doc = "Run a paused VM's vCPUs again",
};
const struct rpc_method rpc_vm_reboot = {
	.name = "vm.reboot", .handler = m_reboot, .params = stop_params,
	.states = VM_S(VM_RUNNING) | VM_S(VM_PAUSED), .authz = AUTHZ_DRIVE,
	.doc = "Reboot: the guest shuts down by the power key and starts again (forced after timeout), or force: reset in place",
};
const struct rpc_method rpc_vm_set = {
	.name = "vm.set", .handler = m_set, .params = set_params,
	.states = VM_S_ANY & ~VM_S(VM_CREATING), .authz = AUTHZ_DRIVE,
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
	.states = VM_S(VM_CREATED) | VM_S(VM_STOPPED) | VM_S(VM_CRASHED), .authz = AUTHZ_DRIVE,
	.doc = "Start a created, stopped or crashed VM",
};
const struct rpc_method rpc_vm_stop = {
	.name = "vm.stop", .handler = m_stop, .params = stop_params,
	.states = VM_S(VM_CREATED) | VM_S(VM_RUNNING) | VM_S(VM_PAUSED), .authz = AUTHZ_DRIVE,
	.doc = "Stop a VM: the power key, then forced after timeout; force: at once. Answers when it is stopped",
};
const struct rpc_method rpc_vm_destroy = {
	.name = "vm.destroy", .handler = m_destroy, .params = name_params,
	.states = VM_S_ANY, .authz = AUTHZ_DRIVE,
	.doc = "Stop a VM if needed and forget it",
};
const struct rpc_method rpc_vm_list = {
	.name = "vm.list", .handler = m_list, .authz = AUTHZ_READ,
	.doc = "All VMs with their state",
};
const struct rpc_method rpc_vm_info = {
	.name = "vm.info", .handler = m_info, .params = info_params,
	.states = VM_S_ANY, .authz = AUTHZ_READ,
	.doc = "A VM's state, IPA size and why, layout, worker, console paths, vCPUs, uptime; "
	       "live: what its worker pushed last (fresh: ask it now)",
};
const struct rpc_method rpc_vm_console = {
	.name = "vm.console", .handler = m_console, .params = console_params,
	.states = VM_S_ANY, .authz = AUTHZ_CONTENTS,
	.doc = "Recent console output of a VM",
};
