// SPDX-License-Identifier: MIT
/* JSON-RPC 2.0: request validation, batches, notifications, dispatch. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

int rpc_fail(struct rpc_call *call, int code, json_t *data,
	     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(call->err_message, sizeof(call->err_message), fmt, ap);
	va_end(ap);
	call->err_code = code;
	json_decref(call->err_data);
	call->err_data = data;
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

/* One request object.  Returns the response, or NULL for a notification. */
static json_t *handle_one(const struct rpc_table *table, void *ctx, void *conn,
			  json_t *req)
{
	struct rpc_call call = { .ctx = ctx, .conn = conn };
	json_t *id, *version, *method, *params, *checked, *result = NULL;
	json_t *response;

	if (!json_is_object(req))
		return rpc_error_response(NULL, ARMVM_E_INVALID_REQUEST,
			"Invalid Request",
			json_pack("{s:s}", "reason", "a request must be an object"));

	id = json_object_get(req, "id");
	if (id && !id_valid(id))
		return rpc_error_response(NULL, ARMVM_E_INVALID_REQUEST,
			"Invalid Request",
			json_pack("{s:s}", "reason", "id must be a string, number or null"));

	version = json_object_get(req, "jsonrpc");
	method = json_object_get(req, "method");
	params = json_object_get(req, "params");
	const char *why = NULL;
	if (!json_is_string(version) || strcmp(json_string_value(version), "2.0"))
		why = "\"jsonrpc\" must be \"2.0\"";
	else if (!json_is_string(method))
		why = "\"method\" must be a string";
	else if (params && !json_is_object(params) && !json_is_array(params))
		why = "\"params\" must be an object or an array";
	if (why)
		return rpc_error_response(id, ARMVM_E_INVALID_REQUEST,
			"Invalid Request", json_pack("{s:s}", "reason", why));

	call.method = rpc_find(table, json_string_value(method));
	if (!call.method) {
		if (!id)
			return NULL;
		return rpc_error_response(id, ARMVM_E_NO_METHOD,
			"Method not found",
			json_pack("{s:s}", "method", json_string_value(method)));
	}

	checked = rpc_check_params(&call, call.method->params, params);
	if (checked) {
		if (call.method->handler(&call, checked, &result) < 0 &&
		    !call.err_code)
			rpc_fail(&call, ARMVM_E_INTERNAL, NULL, "%s failed",
				 call.method->name);
		json_decref(checked);
	}

	if (!id) {
		/* notifications get no answer, not even an error */
		json_decref(result);
		json_decref(call.err_data);
		return NULL;
	}
	if (call.err_code)
		response = rpc_error_response(id, call.err_code,
					      call.err_message, call.err_data);
	else
		response = rpc_result_response(id, result);
	json_decref(result);
	return response;
}

json_t *rpc_handle_line(const struct rpc_table *table, void *ctx, void *conn,
			const char *line, size_t len)
{
	json_error_t jerr;
	json_t *req, *resp;

	req = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!req)
		return rpc_error_response(NULL, ARMVM_E_PARSE, "Parse error",
			json_pack("{s:s, s:i}", "reason", jerr.text,
				  "position", jerr.position));

	if (!json_is_array(req)) {
		resp = handle_one(table, ctx, conn, req);
	} else if (json_array_size(req) == 0) {
		resp = rpc_error_response(NULL, ARMVM_E_INVALID_REQUEST,
			"Invalid Request",
			json_pack("{s:s}", "reason", "empty batch"));
	} else {
		size_t i;
		json_t *one;

		resp = json_array();
		json_array_foreach(req, i, one) {
			json_t *r = handle_one(table, ctx, conn, one);

			if (r)
				json_array_append_new(resp, r);
		}
		if (json_array_size(resp) == 0) {
			json_decref(resp);
			resp = NULL;
		}
	}
	json_decref(req);
	return resp;
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
