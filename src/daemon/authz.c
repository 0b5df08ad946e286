// SPDX-License-Identifier: MIT
/* Who may do what to a VM (authz.h). */
#include <stdio.h>
#include <string.h>

#include "daemon/authz.h"
#include "daemon/daemon.h"
#include "rpc/server.h"

const char *authz_action_name(enum authz_action a)
{
	switch (a) {
	case AUTHZ_READ:
		return "read";
	case AUTHZ_DRIVE:
		return "drive";
	case AUTHZ_CONTENTS:
	case AUTHZ_UNSET:
		break;
	}
	return "contents";
}

bool authz_may(const struct daemon *d, const struct server_peer_cred *who,
	       uid_t owner, enum authz_action a)
{
	if (!who || a == AUTHZ_READ)
		return true;
	/* a peer we know nothing of is nobody's owner and in no group */
	if (!who->known)
		return false;
	if (who->uid == 0 || who->uid == owner)
		return true;
	return d->have_admin_group && server_peer_in_group(who, d->admin_group);
}

int authz_check(struct rpc_call *call, const struct vm_entry *e, enum authz_action a)
{
	return authz_check_peer(call, e, call->conn ? server_peer_cred(call->conn) : NULL, a);
}

int authz_check_peer(struct rpc_call *call, const struct vm_entry *e,
		     const struct server_peer_cred *who, enum authz_action a)
{
	const struct daemon *d = e->d;
	const char *method = call->method ? call->method->name : "?";
	const char *verb = strrchr(method, '.');
	char doing[96], caller[32], why[96];
	json_t *data;

	if (authz_may(d, who, e->owner, a))
		return 0;
	verb = verb ? verb + 1 : method;
	if (a == AUTHZ_DRIVE)
		snprintf(doing, sizeof(doing), "%s it", verb);
	else
		snprintf(doing, sizeof(doing), "see inside it with %s", method);
	if (who->known)
		snprintf(caller, sizeof(caller), "uid %u", (unsigned)who->uid);
	else
		snprintf(caller, sizeof(caller), "a caller of unknown uid");
	if (!who->known)
		snprintf(why, sizeof(why), "its credentials could not be read");
	else if (d->have_admin_group)
		snprintf(why, sizeof(why), "not in the admin group %s", d->admin_group_name);
	else
		snprintf(why, sizeof(why), "only its owner and root may; no --admin-group");
	data = json_pack("{s:s, s:I, s:I, s:s, s:s}", "name", e->name,
			 "owner", (json_int_t)e->owner,
			 "uid", who->known ? (json_int_t)who->uid : (json_int_t)-1,
			 "method", method,
			 "reason", who->known ? "not-owner" : "unknown-caller");
	if (data && d->have_admin_group)
		json_object_set_new(data, "admin_group", json_string(d->admin_group_name));
	log_info("uid %d (pid %d): %s %s refused: owned by uid %u (%s)",
		 who->known ? (int)who->uid : -1, (int)who->pid, method, e->name,
		 (unsigned)e->owner, why);
	return rpc_fail(call, ARMVM_E_PERMISSION, data, "VM %s: owned by uid %u; %s may not %s (%s)",
			e->name, (unsigned)e->owner, caller, doing, why);
}
