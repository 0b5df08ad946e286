// SPDX-License-Identifier: MIT
/* The daemon's method table: every method armvmd answers, as data. */
#include "daemon/api.h"

static const struct rpc_method *const method_list[] = {
	&rpc_host_info,
	&rpc_rpc_methods,
	&rpc_vm_create,
	&rpc_vm_layout,
	&rpc_vm_start,
	&rpc_vm_stop,
	&rpc_vm_destroy,
	&rpc_vm_list,
	&rpc_vm_info,
	&rpc_vm_console,
	&rpc_vm_pause,
	&rpc_vm_resume,
	&rpc_vm_reboot,
	&rpc_vm_set,
	&rpc_events_subscribe,
	&rpc_daemon_info,
	NULL,
};

const struct rpc_table armvmd_methods = {
	.methods = method_list,
};

static int rpc_methods_handler(struct rpc_call *call, json_t *params,
			       json_t **result)
{
	*result = rpc_describe(&armvmd_methods);
	return 0;
}

const struct rpc_method rpc_rpc_methods = {
	.name = "rpc.methods",
	.handler = rpc_methods_handler,
	.doc = "List the methods with their parameters and documentation",
};
