// SPDX-License-Identifier: MIT
/* JSON-RPC 2.0: request validation, batches, notifications, dispatch. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/limits.h"
#include "rpc/rpc.h"

static const char *const type_names[] = {
	[RPC_T_STRING] = "string",
	[RPC_T_INT] = "integer",
	[RPC_T_BOOL] = "boolean",
	[RPC_T_OBJECT] = "object",
	[RPC_T_ARRAY] = "array",
	[RPC_T_ANY] = "any",
};

const char *rpc_type_name(enum rpc_type type)
{
	return type_names[type];
}

static void call_set_error(struct rpc_call *call, int code, json_t *data,
			   const char *fmt, va_list ap)
{
	vsnprintf(call->err_message, sizeof(call->err_message), fmt, ap);
	call->err_code = code;
	json_decref(call->err_data);
	call->err_data = data;
}

int rpc_fail(struct rpc_call *call, int code, json_t *data,
	     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	call_set_error(call, code, data, fmt, ap);
	va_end(ap);
	return -1;
}

json_t *rpc_error_response(json_t *id, int code, const char *message,
			   json_t *data)
{
	json_t *err = json_pack("{s:i, s:s}", "code", code, "message", message);

	if (err && data)
		json_object_set_new(err, "data", data);
	else
		json_decref(data);
	return json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0",
			 "id", id ? id : json_null(), "error", err);
}

static json_t *rpc_result_response(json_t *id, json_t *result)
{
	return json_pack("{s:s, s:O, s:O}", "jsonrpc", "2.0", "id", id,
			 "result", result ? result : json_null());
}

const struct rpc_method *rpc_find(const struct rpc_table *table,
				  const char *name)
{
	for (const struct rpc_method *const *m = table->methods; *m; m++)
		if (!strcmp((*m)->name, name))
			return *m;
	return NULL;
}

static bool type_matches(enum rpc_type type, const json_t *v)
{
	switch (type) {
	case RPC_T_STRING: return json_is_string(v);
	case RPC_T_INT:    return json_is_integer(v);
	case RPC_T_BOOL:   return json_is_boolean(v);
	case RPC_T_OBJECT: return json_is_object(v);
	case RPC_T_ARRAY:  return json_is_array(v);
	case RPC_T_ANY:    return true;
	}
	return false;
}

static json_t *param_error(const char *param, const char *reason)
{
	return json_pack("{s:s, s:s}", "param", param, "reason", reason);
}

json_t *rpc_check_params(struct rpc_call *call, const struct rpc_param *spec,
			 json_t *params)
{
	static const struct rpc_param none[] = { { NULL } };
	const struct rpc_param *p;
	json_t *obj;
	size_t nspec = 0;

	if (!spec)
		spec = none;
	for (p = spec; p->name; p++)
		nspec++;

	if (!params) {
		obj = json_object();
	} else if (json_is_array(params)) {
		size_t i;
		json_t *v;

		if (json_array_size(params) > nspec) {
			rpc_fail(call, ARMVM_E_INVALID_PARAMS,
				 json_pack("{s:i, s:i}", "given", (json_int_t)json_array_size(params),
					   "accepted", (json_int_t)nspec),
				 "%s takes at most %zu positional parameters",
				 call->method->name, nspec);
			return NULL;
		}
		obj = json_object();
		json_array_foreach(params, i, v)
			json_object_set(obj, spec[i].name, v);
	} else {
		obj = json_incref(params);
	}

	/* unknown fields are an error: a typo must not be silently ignored */
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v) {
		for (p = spec; p->name; p++)
			if (!strcmp(p->name, key))
				break;
		if (!p->name) {
			rpc_fail(call, ARMVM_E_INVALID_PARAMS,
				 param_error(key, "unknown parameter"),
				 "unknown parameter '%s' for %s", key,
				 call->method->name);
			goto fail;
		}
		if (!type_matches(p->type, v)) {
			rpc_fail(call, ARMVM_E_INVALID_PARAMS,
				 json_pack("{s:s, s:s, s:s}", "param", key,
					   "reason", "wrong type",
					   "expected", rpc_type_name(p->type)),
				 "parameter '%s' must be %s %s", key,
				 p->type == RPC_T_INT || p->type == RPC_T_OBJECT
				 || p->type == RPC_T_ARRAY ? "an" : "a",
				 rpc_type_name(p->type));
			goto fail;
		}
	}
	for (p = spec; p->name; p++) {
		if (p->required && !json_object_get(obj, p->name)) {
			rpc_fail(call, ARMVM_E_INVALID_PARAMS,
				 param_error(p->name, "missing"),
				 "missing required parameter '%s'", p->name);
			goto fail;
		}
	}
	return obj;
fail:
	json_decref(obj);
	return NULL;
}

static bool id_valid(const json_t *id)
{
	/* the spec allows a string, a number or null; fractions are discouraged
	 * but legal */
	return json_is_string(id) || json_is_number(id) || json_is_null(id);
}

/*
 * The answers to one line: one slot per request of a batch (one for a
 * single request), sent together once the last deferred call completes.
 */
struct rpc_reply_set {
	void *conn;
	const struct rpc_conn_ops *ops;
	bool batch;
	size_t outstanding;
	json_t *slots;			/* array; null where no answer is due */
	size_t max_answer;		/* bytes, for the whole line */
	size_t bytes;			/* of the answers so far */
};

static void set_finish(struct rpc_reply_set *set)
{
	json_t *answer = NULL;
	size_t i;
	json_t *v;

	if (set->batch) {
		answer = json_array();
		json_array_foreach(set->slots, i, v)
			if (!json_is_null(v))
				json_array_append(answer, v);
		if (json_array_size(answer) == 0) {
			json_decref(answer);
			answer = NULL;	/* only notifications: say nothing */
		}
	} else {
		v = json_array_get(set->slots, 0);
		if (v && !json_is_null(v))
			answer = json_incref(v);
	}
	if (answer && set->ops->send)
		set->ops->send(set->conn, answer);
	json_decref(answer);
	if (set->ops->unref)
		set->ops->unref(set->conn);
	json_decref(set->slots);
	free(set);
}

static void set_fill(struct rpc_reply_set *set, size_t slot, json_t *answer)
{
	if (answer)
		json_array_set_new(set->slots, slot, answer);
	if (--set->outstanding == 0)
		set_finish(set);
}

/*
 * An answer that would take the line's answers past max_answer becomes an
 * error with the same id (the caller learns which call and why).
 */
static json_t *bound_answer(struct rpc_reply_set *set, json_t *id, json_t *answer)
{
	size_t size = json_dumpb(answer, NULL, 0, JSON_COMPACT);

	if (set->bytes + size > set->max_answer) {
		json_decref(answer);
		answer = rpc_error_response(id, ARMVM_E_TOO_LARGE, "Answer too large",
			json_pack("{s:s, s:I, s:I}", "limit", "max-answer",
				  "max", (json_int_t)set->max_answer,
				  "size", (json_int_t)(set->bytes + size)));
		size = json_dumpb(answer, NULL, 0, JSON_COMPACT);
	}
	set->bytes += size;
	return answer;
}

/* Complete a call: its answer (or nothing, for a notification) goes into
 * its slot.  Consumes result and the call's error data. */
static void call_complete(struct rpc_call *call, json_t *result)
{
	json_t *answer = NULL;

	if (call->id) {
		if (call->err_code)
			answer = rpc_error_response(call->id, call->err_code,
						    call->err_message,
						    call->err_data);
		else
			answer = rpc_result_response(call->id, result);
		if (answer)
			answer = bound_answer(call->set, call->id, answer);
	} else {
		json_decref(call->err_data);	/* notifications get no answer */
	}
	call->err_data = NULL;
	json_decref(result);
	set_fill(call->set, call->slot, answer);
}

struct rpc_call *rpc_defer(struct rpc_call *call)
{
	struct rpc_call *d = malloc(sizeof(*d));

	if (!d)
		return NULL;
	*d = *call;
	if (d->id)
		json_incref(d->id);
	call->deferred = true;
	d->deferred = true;
	return d;
}

void rpc_deferred_reply(struct rpc_call *call, json_t *result)
{
	json_t *id = call->id;

	call_complete(call, result);
	json_decref(id);
	free(call);
}

void rpc_deferred_fail(struct rpc_call *call, int code, json_t *data,
		       const char *fmt, ...)
{
	json_t *id = call->id;
	va_list ap;

	va_start(ap, fmt);
	call_set_error(call, code, data, fmt, ap);
	va_end(ap);
	call_complete(call, NULL);
	json_decref(id);
	free(call);
}

static json_t *invalid_request(json_t *id, const char *why)
{
	return rpc_error_response(id, ARMVM_E_INVALID_REQUEST, "Invalid Request",
				  json_pack("{s:s}", "reason", why));
}

/* One request object of a line, answered into set's slot. */
static void handle_one(const struct rpc_table *table, void *ctx, void *conn,
		       struct rpc_reply_set *set, size_t slot, json_t *req)
{
	struct rpc_call call = {
		.ctx = ctx, .conn = conn, .set = set, .slot = slot,
	};
	json_t *version, *method, *params, *checked, *result = NULL;
	const char *why = NULL;

	if (!json_is_object(req)) {
		set_fill(set, slot, invalid_request(NULL, "a request must be an object"));
		return;
	}
	call.id = json_object_get(req, "id");
	if (call.id && !id_valid(call.id)) {
		set_fill(set, slot, invalid_request(NULL,
			 "id must be a string, number or null"));
		return;
	}
	version = json_object_get(req, "jsonrpc");
	method = json_object_get(req, "method");
	params = json_object_get(req, "params");
	if (!json_is_string(version) || strcmp(json_string_value(version), "2.0"))
		why = "\"jsonrpc\" must be \"2.0\"";
	else if (!json_is_string(method))
		why = "\"method\" must be a string";
	else if (params && !json_is_object(params) && !json_is_array(params))
		why = "\"params\" must be an object or an array";
	if (why) {
		set_fill(set, slot, invalid_request(call.id, why));
		return;
	}

	call.method = rpc_find(table, json_string_value(method));
	if (!call.method) {
		set_fill(set, slot, call.id ? rpc_error_response(call.id,
			 ARMVM_E_NO_METHOD, "Method not found",
			 json_pack("{s:s}", "method", json_string_value(method)))
			 : NULL);
		return;
	}

	checked = rpc_check_params(&call, call.method->params, params);
	if (checked) {
		int r = call.method->handler(&call, checked, &result);

		json_decref(checked);
		if (r == RPC_DEFERRED && call.deferred)
			return;		/* the deferred copy answers later */
		if (r < 0 && !call.err_code)
			rpc_fail(&call, ARMVM_E_INTERNAL, NULL, "%s failed",
				 call.method->name);
	}
	call_complete(&call, result);
}

/*
 * The members of a line that is a JSON array, counted at its top level
 * without parsing it (strings and nesting skipped); 0 if it is no array.
 * A megabyte of tiny calls costs a scan, not twenty thousand objects.
 */
static size_t batch_length(const char *s, size_t len)
{
	size_t i = 0, commas = 0, depth = 0;
	bool any = false;

	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
		i++;
	if (i == len || s[i] != '[')
		return 0;
	for (i++; i < len; i++) {
		switch (s[i]) {
		case '"':
			/* to the closing quote, over escapes */
			for (i++; i < len && s[i] != '"'; i++)
				if (s[i] == '\\')
					i++;
			any = true;
			break;
		case '[':
		case '{':
			depth++;
			any = true;
			break;
		case ']':
		case '}':
			if (!depth)
				return any ? commas + 1 : 0;
			depth--;
			break;
		case ',':
			commas += !depth;
			break;
		case ' ': case '\t': case '\r': case '\n':
			break;
		default:
			any = true;
			break;
		}
	}
	return any ? commas + 1 : 0;
}

static void batch_too_long(void *conn, const struct rpc_conn_ops *ops,
			   const struct armvmd_limits *lim, size_t given)
{
	json_t *e = rpc_error_response(NULL, ARMVM_E_INVALID_REQUEST, "Batch too long",
		json_pack("{s:s, s:s, s:i, s:I}", "reason", "batch too long",
			  "limit", "max-batch", "max", (int)lim->max_batch,
			  "given", (json_int_t)given));

	ops->send(conn, e);
	json_decref(e);
}

void rpc_handle_line(const struct rpc_table *table, void *ctx, void *conn,
		     const struct rpc_conn_ops *ops, const char *line, size_t len)
{
	const struct armvmd_limits *lim = ops->limits ? ops->limits(conn) : NULL;
	struct rpc_reply_set *set;
	json_error_t jerr;
	size_t members;
	json_t *req;

	if (!lim)
		lim = limits_defaults();
	/* a long batch runs nothing, and is refused before it is parsed */
	members = batch_length(line, len);
	if (members > lim->max_batch) {
		batch_too_long(conn, ops, lim, members);
		return;
	}
	req = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!req) {
		json_t *e = rpc_error_response(NULL, ARMVM_E_PARSE, "Parse error",
			json_pack("{s:s, s:i}", "reason", jerr.text,
				  "position", jerr.position));
		ops->send(conn, e);
		json_decref(e);
		return;
	}
	if (json_is_array(req) && json_array_size(req) == 0) {
		json_t *e = invalid_request(NULL, "empty batch");

		ops->send(conn, e);
		json_decref(e);
		json_decref(req);
		return;
	}
	/* (the scan is only a first look: the parsed array decides) */
	if (json_is_array(req) && json_array_size(req) > lim->max_batch) {
		batch_too_long(conn, ops, lim, json_array_size(req));
		json_decref(req);
		return;
	}

	set = calloc(1, sizeof(*set));
	if (!set) {
		json_decref(req);
		return;
	}
	set->conn = conn;
	set->ops = ops;
	set->max_answer = (size_t)lim->max_answer;
	set->batch = json_is_array(req);
	set->slots = json_array();
	set->outstanding = set->batch ? json_array_size(req) : 1;
	for (size_t i = 0; i < set->outstanding; i++)
		json_array_append_new(set->slots, json_null());
	if (ops->ref)
		ops->ref(conn);
	/* hold the set open while the calls run: a call that completes at
	 * once must not finish the set before the next one is added */
	set->outstanding++;
	if (set->batch) {
		size_t i;
		json_t *one;

		json_array_foreach(req, i, one)
			handle_one(table, ctx, conn, set, i, one);
	} else {
		handle_one(table, ctx, conn, set, 0, req);
	}
	set_fill(set, 0, NULL);		/* drops the hold, keeps slot 0 */
	json_decref(req);
}

static void sync_send(void *conn, json_t *msg)
{
	json_t **out = conn;

	json_decref(*out);
	*out = json_incref(msg);
}

json_t *rpc_handle_line_sync(const struct rpc_table *table, void *ctx,
			     const char *line, size_t len)
{
	static const struct rpc_conn_ops ops = { .send = sync_send };
	json_t *out = NULL;

	rpc_handle_line(table, ctx, &out, &ops, line, len);
	return out;
}

json_t *rpc_describe(const struct rpc_table *table)
{
	json_t *list = json_array();

	for (const struct rpc_method *const *m = table->methods; *m; m++) {
		json_t *params = json_array();

		for (const struct rpc_param *p = (*m)->params; p && p->name; p++)
			json_array_append_new(params,
				json_pack("{s:s, s:s, s:b, s:s}", "name", p->name,
					  "type", rpc_type_name(p->type),
					  "required", p->required,
					  "doc", p->doc ? p->doc : ""));
		json_array_append_new(list,
			json_pack("{s:s, s:o, s:s}", "name", (*m)->name,
				  "params", params, "doc", (*m)->doc));
	}
	return list;
}
