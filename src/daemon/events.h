/* SPDX-License-Identifier: MIT */
/*
 * Event subscriptions: a connection that called events.subscribe receives
 * JSON-RPC notifications {"method":"event","params":{...}} for the VMs and
 * kinds it asked for, at most max_subscriptions per connection.
 */
#ifndef ARMVMD_EVENTS_H
#define ARMVMD_EVENTS_H

#include <jansson.h>

struct daemon;
struct vm_entry;

enum event_kind {
	EVENT_STATE = 1u << 0,		/* state changes with the reason */
	EVENT_DEVICE = 1u << 1,		/* device errors */
	EVENT_CONSOLE = 1u << 2,	/* console lines (only when asked) */
};
#define EVENT_DEFAULT (EVENT_STATE | EVENT_DEVICE)

/* "state", "device", "console" -> bit; 0 if unknown */
unsigned event_kind_parse(const char *name);

struct rpc_call;

struct server_peer_cred;

/*
 * 0, -ENOSPC past max_subscriptions for conn, -ENOMEM.  who (copied) is
 * the subscriber: console events go only to those who may see inside
 * the VM at the time of the event (authz.h); NULL, as events_subscribe:
 * an internal subscriber, who gets them all.
 */
int events_subscribe_as(struct daemon *d, void *conn, const struct server_peer_cred *who,
			const char *vm, unsigned kinds);
int events_subscribe(struct daemon *d, void *conn, const char *vm, unsigned kinds);
/* Fail call for what events_subscribe returned (-32009 naming the cap). */
int events_subscribe_fail(struct rpc_call *call, const struct daemon *d, int err);
/* conn is gone: its subscriptions end (safe during events_emit). */
void events_client_closed(struct daemon *d, void *conn);
/* Subscriptions in force (for tests and daemon.info). */
unsigned events_count(const struct daemon *d);

/* the owner of a VM that is gone: only events open to all go out */
#define EVENTS_NO_OWNER ((uid_t)-1)

/* Emit one event about vm, owned by owner (fields stolen; "kind", "vm",
 * "time" added): each subscriber gets it if it may (authz.h). */
void events_emit(struct daemon *d, const char *vm, uid_t owner, enum event_kind kind,
		 json_t *fields);

/* Does anyone want, and may see, console lines of this VM? */
bool events_want_console(struct daemon *d, const char *vm, uid_t owner);

#endif
