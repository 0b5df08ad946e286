// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/authz.h"
#include "daemon/daemon.h"
#include "daemon/events.h"
#include "rpc/limits.h"
#include "rpc/server.h"

/*
 * A subscriber is only ever freed by prune(), and prune() runs only when no
 * events_emit() is walking the list: a connection that goes away while an
 * event is being delivered (its on_close, or a failed send) just marks its
 * subscribers gone.
 */
struct subscriber {
	struct subscriber *next;
	void *conn;			/* NULL once gone */
	char vm[64];			/* "" for every VM */
	unsigned kinds;
	bool internal;			/* no peer: sees everything (authz.h) */
	struct server_peer_cred who;	/* else who subscribed */
};

/* events_emit() walks in progress (the supervisor has one daemon) */
static unsigned walking;

static const char *const kind_names[] = { "state", "device", "console" };
/* what an event of each kind shows of its VM, for who may see it (authz.h):
 * console lines are the guest's contents */
static const enum authz_action kind_authz[] = { AUTHZ_READ, AUTHZ_READ, AUTHZ_CONTENTS };
_Static_assert(sizeof(kind_authz) / sizeof(kind_authz[0]) ==
	       sizeof(kind_names) / sizeof(kind_names[0]), "an authz class per event kind");

unsigned event_kind_parse(const char *name)
{
	for (unsigned i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
		if (!strcmp(name, kind_names[i]))
			return 1u << i;
	return 0;
}

static const char *kind_name(enum event_kind k)
{
	for (unsigned i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
		if (k == 1u << i)
			return kind_names[i];
	return "unknown";
}

static void prune(struct daemon *d)
{
	struct subscriber **pp = &d->subscribers, *s;

	if (walking)
		return;
	while ((s = *pp)) {
		if (!s->conn) {
			*pp = s->next;
			free(s);
		} else {
			pp = &s->next;
		}
	}
}

static unsigned max_subscriptions(const struct daemon *d)
{
	/* a daemon handle that nobody gave limits to gets the defaults */
	return d->limits.max_subscriptions ? d->limits.max_subscriptions
					   : limits_defaults()->max_subscriptions;
}

int events_subscribe(struct daemon *d, void *conn, const char *vm, unsigned kinds)
{
	return events_subscribe_as(d, conn, NULL, vm, kinds);
}

int events_subscribe_as(struct daemon *d, void *conn, const struct server_peer_cred *who,
			const char *vm, unsigned kinds)
{
	struct subscriber *s;
	unsigned n = 0;

	prune(d);
	for (s = d->subscribers; s; s = s->next)
		n += s->conn == conn;
	if (n >= max_subscriptions(d))
		return -ENOSPC;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->conn = conn;
	s->kinds = kinds;
	s->internal = !who;
	if (who)
		s->who = *who;
	snprintf(s->vm, sizeof(s->vm), "%s", vm ? vm : "");
	s->next = d->subscribers;
	d->subscribers = s;
	return 0;
}

int events_subscribe_fail(struct rpc_call *call, const struct daemon *d, int err)
{
	unsigned max = max_subscriptions(d);

	if (err == -ENOSPC)
		return rpc_fail(call, ARMVM_E_LIMIT,
				json_pack("{s:s, s:i}", "limit", "max-subscriptions",
					  "max", (int)max),
				"this connection has %u subscriptions, the most allowed", max);
	return rpc_fail(call, ARMVM_E_RESOURCE, NULL, "out of memory");
}

void events_client_closed(struct daemon *d, void *conn)
{
	for (struct subscriber *s = d->subscribers; s; s = s->next)
		if (s->conn == conn)
			s->conn = NULL;
	prune(d);
}

static enum authz_action kind_action(unsigned kind)
{
	for (unsigned i = 0; i < sizeof(kind_authz) / sizeof(kind_authz[0]); i++)
		if (kind == 1u << i)
			return kind_authz[i];
	return AUTHZ_UNSET;
}

/* Does s want this event, and may it see it?  owner: the VM's
 * (EVENTS_NO_OWNER: gone, and only its open kinds go out). */
static bool matches(struct daemon *d, const struct subscriber *s, uid_t owner,
		    const char *vm, unsigned kind)
{
	enum authz_action a = kind_action(kind);

	if (!s->conn || !(s->kinds & kind) || (s->vm[0] && strcmp(s->vm, vm)))
		return false;
	if (a == AUTHZ_READ || s->internal)
		return true;
	return owner != EVENTS_NO_OWNER && authz_may(d, &s->who, owner, a);
}

bool events_want_console(struct daemon *d, const char *vm, uid_t owner)
{
	for (struct subscriber *s = d->subscribers; s; s = s->next)
		if (matches(d, s, owner, vm, EVENT_CONSOLE))
			return true;
	return false;
}

unsigned events_count(const struct daemon *d)
{
	unsigned n = 0;

	for (const struct subscriber *s = d->subscribers; s; s = s->next)
		n += s->conn != NULL;
	return n;
}

void events_emit(struct daemon *d, const char *vm, uid_t owner, enum event_kind kind,
		 json_t *fields)
{
	struct timespec now;
	json_t *msg;

	if (!fields)
		fields = json_object();
	clock_gettime(CLOCK_REALTIME, &now);
	json_object_set_new(fields, "kind", json_string(kind_name(kind)));
	json_object_set_new(fields, "vm", json_string(vm));
	json_object_set_new(fields, "time", json_real((double)now.tv_sec + now.tv_nsec / 1e9));
	msg = json_pack("{s:s, s:s, s:o}", "jsonrpc", "2.0", "method", "event",
			"params", fields);
	walking++;
	for (struct subscriber *s = d->subscribers; s; s = s->next)
		if (matches(d, s, owner, vm, kind) && server_send(s->conn, msg) < 0)
			s->conn = NULL;	/* gone, or told it reads too little */
	walking--;
	prune(d);
	json_decref(msg);
}
