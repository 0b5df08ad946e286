/* SPDX-License-Identifier: MIT */
/*
 * JSON-RPC 2.0 codec and method table.
 *
 * The transport hands rpc_handle_line() one newline-delimited JSON text; it
 * gets back the response to write (NULL when there is nothing to send:
 * notifications, or a batch of only notifications).  Methods are data: an
 * array of struct rpc_method, each with a strict parameter spec that is
 * checked before the handler runs.
 */
#ifndef ARMVMD_RPC_H
#define ARMVMD_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "libarmvm.h"	/* error codes shared with clients */

enum rpc_type {
	RPC_T_STRING,
	RPC_T_INT,
	RPC_T_BOOL,
	RPC_T_OBJECT,
	RPC_T_ARRAY,
	RPC_T_ANY,
};

struct rpc_param {
	const char *name;		/* NULL ends the list */
	enum rpc_type type;
	bool required;
	const char *doc;
};

struct rpc_call;
struct rpc_reply_set;

/*
 * A handler returns 0 with *result set (a new reference; NULL means
 * JSON null), or a negative value after rpc_fail() filled the error.
 * params is always an object that passed the spec.
 */
typedef int (*rpc_handler_fn)(struct rpc_call *call, json_t *params,
			      json_t **result);

struct rpc_method {
	const char *name;		/* "resource.verb" */
	rpc_handler_fn handler;
	const struct rpc_param *params;	/* NULL or terminated by {NULL} */
	unsigned states;		/* VM states allowed (bitmask), 0: no VM */
	unsigned authz;			/* what it does to a VM, for who may: the
					 * daemon's rule (daemon/authz.h); the codec
					 * ignores it */
	const char *doc;
};

struct rpc_table {
	const struct rpc_method *const *methods;	/* NULL-terminated */
};

/* What a handler may know about the call. */
struct rpc_call {
	const struct rpc_method *method;
	void *ctx;			/* the daemon's handle */
	void *conn;			/* the transport's connection, or NULL */
	struct rpc_reply_set *set;	/* where the answer goes */
	size_t slot;
	json_t *id;			/* NULL for a notification */
	bool deferred;
	int err_code;
	char err_message[512];
	json_t *err_data;
};

struct armvmd_limits;

/* How the codec reaches a connection (the server's client, a test). */
struct rpc_conn_ops {
	void (*send)(void *conn, json_t *msg);	/* msg borrowed */
	void (*ref)(void *conn);		/* may be NULL */
	void (*unref)(void *conn);		/* may be NULL */
	/* the bounds of this connection (max_batch, max_answer); NULL, or
	 * NULL returned: the defaults of rpc/limits.h */
	const struct armvmd_limits *(*limits)(void *conn);
};

/* Fill the call's error; steals data (may be NULL).  Returns -1. */
int rpc_fail(struct rpc_call *call, int code, json_t *data,
	     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* A JSON-RPC error response object; steals data. */
json_t *rpc_error_response(json_t *id, int code, const char *message,
			   json_t *data);

/*
 * Answer later: a handler calls rpc_defer() and returns RPC_DEFERRED; the
 * returned call lives until rpc_deferred_reply() or rpc_deferred_fail().
 * The connection may be gone by then: the answer is dropped quietly.
 */
#define RPC_DEFERRED 1
struct rpc_call *rpc_defer(struct rpc_call *call);
void rpc_deferred_reply(struct rpc_call *call, json_t *result);	/* steals */
void rpc_deferred_fail(struct rpc_call *call, int code, json_t *data,
		       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * Handle one JSON text (a request, a notification or a batch); answers go
 * out through ops->send, at once or when deferred calls complete.  A batch
 * of more than max_batch calls is one -32600 (data: limit, max, given) and
 * runs nothing; an answer over max_answer bytes is replaced by -32001 with
 * the request's id (data: limit "max-answer", max, size); in a batch, the
 * answers that would take the whole past max_answer are.
 */
void rpc_handle_line(const struct rpc_table *table, void *ctx, void *conn,
		     const struct rpc_conn_ops *ops, const char *line, size_t len);

/* The same for callers that answer synchronously only (tests, tools):
 * returns the answer or NULL. */
json_t *rpc_handle_line_sync(const struct rpc_table *table, void *ctx,
			     const char *line, size_t len);

const struct rpc_method *rpc_find(const struct rpc_table *table,
				  const char *name);

/* Check params against a spec, normalising by-position arrays to an
 * object.  Returns the object (new reference) or NULL after rpc_fail(). */
json_t *rpc_check_params(struct rpc_call *call, const struct rpc_param *spec,
			 json_t *params);

/* The method table as JSON (for rpc.methods and the docs). */
json_t *rpc_describe(const struct rpc_table *table);

const char *rpc_type_name(enum rpc_type type);

#endif
