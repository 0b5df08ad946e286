/* SPDX-License-Identifier: MIT */
/*
 * libarmvm — the C client library of armvmd.
 *
 * One connection speaks newline-delimited JSON-RPC 2.0 to the daemon's Unix
 * socket.  armvmctl and the tests use exactly this library.
 */
#ifndef LIBARMVM_H
#define LIBARMVM_H

#include <jansson.h>

#define ARMVM_DEFAULT_SOCKET "/run/armvmd/armvmd.sock"

/* return values of armvm_call() besides negative errno */
#define ARMVM_OK	0
#define ARMVM_RPC_ERROR	1	/* the daemon answered with an error object */

/* JSON-RPC 2.0 error codes: the spec's, then armvmd's own (-32000..-32099) */
enum armvm_error_code {
	ARMVM_E_PARSE		= -32700,	/* not JSON */
	ARMVM_E_INVALID_REQUEST	= -32600,	/* not a JSON-RPC request */
	ARMVM_E_NO_METHOD	= -32601,
	ARMVM_E_INVALID_PARAMS	= -32602,	/* data: {"param":..,"reason":..} */
	ARMVM_E_INTERNAL	= -32603,
	ARMVM_E_NO_KVM		= -32000,	/* host has no usable arm64 KVM */
	ARMVM_E_TOO_LARGE	= -32001,	/* request line (closed) or answer over a cap; data.limit, data.max */
	ARMVM_E_NO_VM		= -32002,	/* no VM of that name */
	ARMVM_E_STATE		= -32003,	/* call invalid in the VM's state; data.state */
	ARMVM_E_IPA		= -32004,	/* address space impossible; data.needed_bits.. */
	ARMVM_E_PAYLOAD		= -32005,	/* kernel/initrd/DTB do not fit the payload region */
	ARMVM_E_IMAGE		= -32006,	/* a boot image is malformed */
	ARMVM_E_EXISTS		= -32007,	/* a VM of that name exists */
	ARMVM_E_RESOURCE	= -32008,	/* out of memory, fds, processes */
	ARMVM_E_LIMIT		= -32009,	/* a bound of armvmd reached (clients, output, subscriptions..); data.limit, data.max */
	ARMVM_E_TIMEOUT		= -32010,	/* a VM's worker did not answer in time; data.method, data.timeout_s */
	ARMVM_E_PERMISSION	= -32011,	/* not the VM's owner, a file the caller may not open, ...; data.reason */
};

struct armvm;

struct armvm_error {
	int code;		/* JSON-RPC error code */
	char message[256];
	json_t *data;		/* owned; NULL when absent */
};

/* $ARMVMD_SOCKET when set, else ARMVM_DEFAULT_SOCKET */
const char *armvm_default_socket(void);

/* path NULL = armvm_default_socket().  Returns NULL and sets *err (-errno). */
struct armvm *armvm_connect(const char *path, int *err);
void armvm_close(struct armvm *c);
int armvm_fd(const struct armvm *c);

/*
 * Call method with params (borrowed; NULL for none).  On ARMVM_OK *result
 * holds a new reference; on ARMVM_RPC_ERROR *e is filled (free with
 * armvm_error_clear); a negative errno is a transport failure.
 * Notifications that arrive while waiting are queued for
 * armvm_next_notification().  timeout_ms < 0 waits forever.
 */
int armvm_call_timeout(struct armvm *c, const char *method, json_t *params,
		       json_t **result, struct armvm_error *e, int timeout_ms);
int armvm_call(struct armvm *c, const char *method, json_t *params,
	       json_t **result, struct armvm_error *e);

/*
 * The same, passing descriptors with the request (SCM_RIGHTS on the write
 * that carries its first byte; they stay the caller's to close).  The
 * params refer to them by their index in fds: armvm_file_param().  At most
 * ARMVM_MAX_FDS (-E2BIG); a daemon that takes fewer answers -32009.
 */
#define ARMVM_MAX_FDS	24
int armvm_call_fds(struct armvm *c, const char *method, json_t *params,
		   const int *fds, unsigned nfds, json_t **result,
		   struct armvm_error *e, int timeout_ms);

/* A file parameter for descriptor fds[index]: {"fd": index, "path": path}
 * (path, which may be NULL, only names it in messages).  NULL when out of
 * memory or path is not UTF-8. */
json_t *armvm_file_param(int index, const char *path);

/* Send a JSON-RPC notification (no id, no answer). */
int armvm_notify(struct armvm *c, const char *method, json_t *params);

/*
 * Next server notification (new reference in *msg: the whole JSON-RPC
 * object).  Returns 1 when one was read, 0 on timeout, -errno on error,
 * -ECONNRESET when the daemon closed the connection.
 */
int armvm_next_notification(struct armvm *c, json_t **msg, int timeout_ms);

void armvm_error_clear(struct armvm_error *e);

/* A readable one-line description of a transport errno or RPC error. */
const char *armvm_strerror(int r, const struct armvm_error *e);

#endif
