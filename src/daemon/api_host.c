// SPDX-License-Identifier: MIT
/* host.* methods: what this host's KVM can do for arm64 guests. */
#include "arm64/hostinfo.h"
#include "daemon/api.h"

static int host_info_handler(struct rpc_call *call, json_t *params,
			     json_t **result)
{
	const struct host_info *hi = hostinfo_get();

	*result = hostinfo_to_json(hi);
	if (!*result)
		return rpc_fail(call, ARMVM_E_RESOURCE, NULL, "out of memory");
	return 0;
}

const struct rpc_method rpc_host_info = {
	.name = "host.info",
	.handler = host_info_handler,
	.doc = "Host architecture, KVM availability, IPA limit, PARange, "
	       "GIC versions, KVM mode and optional KVM features",
};
