/* SPDX-License-Identifier: MIT */
/*
 * Who may do what to a VM: the one rule.
 *
 * Each VM belongs to the uid that created it (vm_entry->owner).  Looking at
 * it from outside (list, info, layout, state events) is open to everyone
 * who may connect; driving it (start, stop, ...) and seeing what runs in it
 * (console output, later memory, debugger, vsock) are for its owner, root
 * and the members of the admin group (--admin-group).  Each method says
 * which it is in the method table (rpc_method.authz), each event kind in
 * events.c; the rule itself is here only.
 */
#ifndef ARMVMD_AUTHZ_H
#define ARMVMD_AUTHZ_H

#include <stdbool.h>
#include <sys/types.h>

struct daemon;
struct rpc_call;
struct server_peer_cred;
struct vm_entry;

enum authz_action {
	/* not said: taken as AUTHZ_CONTENTS, so that a method nobody
	 * classified is its owner's only */
	AUTHZ_UNSET = 0,
	AUTHZ_READ,		/* list, info, layout, state and device events */
	AUTHZ_DRIVE,		/* start stop pause resume reboot destroy set, console input */
	AUTHZ_CONTENTS,		/* console output and events; later debugger, dumps, vsock */
};

const char *authz_action_name(enum authz_action a);

/*
 * May who do a to a VM of owner?  who NULL: an internal call (no
 * connection): yes.  READ: yes.  Else: only a caller whose credentials
 * are known and who is root, the owner, or in the admin group (primary
 * or supplementary).
 */
bool authz_may(const struct daemon *d, const struct server_peer_cred *who,
	       uid_t owner, enum authz_action a);

/*
 * The same for call (its connection's peer) on e; when not allowed, the
 * call fails with ARMVM_E_PERMISSION (data: name, owner, uid, method,
 * reason "not-owner", or "unknown-caller" when the peer's credentials are
 * unknown; admin_group when there is one), the refusal is logged, and -1
 * is returned.  0 when allowed.
 */
int authz_check(struct rpc_call *call, const struct vm_entry *e, enum authz_action a);
/* The same with the peer given (tests; NULL: internal). */
int authz_check_peer(struct rpc_call *call, const struct vm_entry *e,
		     const struct server_peer_cred *who, enum authz_action a);

#endif
