// SPDX-License-Identifier: MIT
/* events.* and daemon.* methods: subscriptions and the daemon itself. */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/pool.h"
#include "daemon/authz.h"
#include "daemon/daemon.h"
#include "daemon/events.h"
#include "daemon/watch.h"
#include "daemon/api.h"
#include "rpc/server.h"

static const struct rpc_param subscribe_params[] = {
	{ "vm", RPC_T_STRING, false, "only this VM's events (default: all VMs)" },
	{ "kinds", RPC_T_ARRAY, false, "any of \"state\", \"device\", \"console\" (default: state and device)" },
	{ NULL },
};

static int m_subscribe(struct rpc_call *call, json_t *params, json_t **result)
{
	struct daemon *d = call->ctx;
	const char *vm = json_string_value(json_object_get(params, "vm"));
	json_t *kinds = json_object_get(params, "kinds");
	unsigned mask = kinds ? 0 : EVENT_DEFAULT;
	size_t i;
	json_t *k;

	if (!call->conn)
		return rpc_fail(call, ARMVM_E_INVALID_REQUEST, NULL,
				"events.subscribe needs a connection");
	json_array_foreach(kinds, i, k) {
		unsigned bit = json_is_string(k) ? event_kind_parse(json_string_value(k)) : 0;

		if (!bit)
			return rpc_fail(call, ARMVM_E_INVALID_PARAMS,
					json_pack("{s:s, s:s}", "param", "kinds",
						  "reason", "unknown kind"),
					"event kinds are \"state\", \"device\" and \"console\"");
		mask |= bit;
	}
	if (!mask)
		return rpc_fail(call, ARMVM_E_INVALID_PARAMS,
				json_pack("{s:s, s:s}", "param", "kinds", "reason", "empty"),
				"no event kinds");
	struct vm_entry *one = vm ? registry_find(d, vm) : NULL;

	if (vm && !one)
		return rpc_fail(call, ARMVM_E_NO_VM, json_pack("{s:s}", "name", vm),
				"no VM named '%s'", vm);
	/* console lines of one VM, asked by who may not see them: said now;
	 * a subscription to every VM gets those of the VMs it may see */
	if (one && (mask & EVENT_CONSOLE) && authz_check(call, one, AUTHZ_CONTENTS) < 0)
		return -1;
	int r = events_subscribe_as(d, call->conn, server_peer_cred(call->conn), vm, mask);

	if (r < 0)
		return events_subscribe_fail(call, d, r);
	if (mask & EVENT_CONSOLE)
		for (struct vm_entry *e = d->vms; e; e = e->next)
			watch_console_update(e);
	registry_audit(call, "events.subscribe", vm);
	*result = json_pack("{s:b, s:s}", "subscribed", 1, "vm", vm ? vm : "*");
	json_object_set_new(*result, "kinds", kinds ? json_incref(kinds)
			    : json_pack("[s, s]", "state", "device"));
	return 0;
}

static int m_daemon_info(struct rpc_call *call, json_t *params, json_t **result)
{
	struct daemon *d = call->ctx;
	unsigned counts[VM_NSTATES] = { 0 };
	json_t *states = json_object();

	for (struct vm_entry *e = d->vms; e; e = e->next)
		counts[e->state]++;
	for (int s = 0; s < VM_NSTATES; s++)
		json_object_set_new(states, vm_state_name(s), json_integer(counts[s]));
	*result = json_pack("{s:s, s:i, s:s, s:s, s:I, s:o, s:O}",
		"version", ARMVMD_VERSION, "pid", (int)getpid(),
		"state_dir", d->state_dir, "runtime_dir", d->runtime_dir,
		"uptime", (json_int_t)(time(NULL) - d->started),
		"vms", states, "state_problems", d->state_problems);
	json_object_set_new(*result, "limits", limits_to_json(&d->limits));
	json_object_set_new(*result, "admin_group", d->have_admin_group ?
			    json_string(d->admin_group_name) : json_null());
	json_object_set_new(*result, "pool", pool_info(d));
	return 0;
}

const struct rpc_method rpc_events_subscribe = {
	.name = "events.subscribe", .handler = m_subscribe, .params = subscribe_params,
	.doc = "Turn this connection into a stream of event notifications",
};
const struct rpc_method rpc_daemon_info = {
	.name = "daemon.info", .handler = m_daemon_info,
	.doc = "The daemon: version, pid, directories, VM counts, state files set aside, the warm pool",
};
