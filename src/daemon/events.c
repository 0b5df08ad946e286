// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/daemon.h"
#include "daemon/events.h"
#include "rpc/server.h"

struct subscriber {
	struct subscriber *next;
	void *conn;
	char vm[64];			/* "" for every VM */
	unsigned kinds;
};

static const char *const kind_names[] = { "state", "device", "console" };

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

int events_subscribe(struct daemon *d, void *conn, const char *vm, unsigned kinds)
{
	struct subscriber *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->conn = conn;
	s->kinds = kinds;
	snprintf(s->vm, sizeof(s->vm), "%s", vm ? vm : "");
	s->next = d->subscribers;
	d->subscribers = s;
	return 0;
}

void events_client_closed(struct daemon *d, void *conn)
{
	struct subscriber **pp = &d->subscribers;

	while (*pp) {
		struct subscriber *s = *pp;

		if (s->conn == conn) {
			*pp = s->next;
			free(s);
		} else {
			pp = &s->next;
		}
	}
}

static bool matches(const struct subscriber *s, const char *vm, unsigned kind)
{
	return (s->kinds & kind) && (!s->vm[0] || !strcmp(s->vm, vm));
}

bool events_want_console(struct daemon *d, const char *vm)
{
	for (struct subscriber *s = d->subscribers; s; s = s->next)
		if (matches(s, vm, EVENT_CONSOLE))
			return true;
	return false;
}

void events_emit(struct daemon *d, const char *vm, enum event_kind kind,
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
	for (struct subscriber *s = d->subscribers; s; s = s->next)
		if (matches(s, vm, kind))
			server_send(s->conn, msg);
	json_decref(msg);
}
