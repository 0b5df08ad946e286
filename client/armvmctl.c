// SPDX-License-Identifier: MIT
/*
 * armvmctl — command line front end of armvmd, built on libarmvm only.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "libarmvm.h"
#include "run_outcome.h"

#ifndef ARMVMD_VERSION
#define ARMVMD_VERSION "0"
#endif

enum ctl_exit {
	CTL_OK		= 0,
	CTL_RPC_ERROR	= 1,
	CTL_USAGE	= 2,
	CTL_TRANSPORT	= 3,
	CTL_TIMEOUT	= 4,
};

struct ctl {
	const char *socket;
	bool json;		/* --json, or stdout is not a terminal */
	bool json_forced;	/* --json given */
	int timeout_ms;		/* -1: wait forever */
	bool by_path;		/* --by-path: the daemon opens the files, as us */
	struct armvm *conn;
};

struct ctl_cmd {
	const char *name;
	int (*run)(struct ctl *ctl, const struct ctl_cmd *cmd,
		   int argc, char **argv);
	const char *usage;	/* arguments after the command name */
	const char *brief;	/* shorter usage for the command list */
	const char *doc;
	const char *help;	/* its options, for "help COMMAND"; may be NULL */
	/* the commands that take options (cmd_options): */
	const struct option *opts;	/* NULL: --json only */
	const char *method;		/* the RPC method it calls */
	bool name_arg;			/* its one operand is a VM name */
	const char *required;		/* parameter that must be given */
	bool pass_files;		/* opens kernel, initrd, dtb and disks */
	void (*show)(json_t *result);	/* readable rendering */
};

static const struct ctl_cmd *cmd_find(const char *name);
static void help_print(FILE *f);

static void __attribute__((format(printf, 1, 2))) ctl_err(const char *fmt, ...)
{
	va_list ap;

	fputs("armvmctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int ctl_usage_error(const struct ctl_cmd *cmd)
{
	fprintf(stderr, "usage: armvmctl [OPTIONS] %s%s%s\n", cmd->name,
		*cmd->usage ? " " : "", cmd->usage);
	return CTL_USAGE;
}

static int ctl_oom(void)
{
	ctl_err("out of memory");
	return CTL_TRANSPORT;
}

static void json_print(FILE *f, json_t *j, size_t flags)
{
	char *s = json_dumps(j, flags | JSON_ENCODE_ANY);

	if (s) {
		fputs(s, f);
		free(s);
	}
	fputc('\n', f);
}

/* ---- small helpers for results ---- */

static const char *jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static const char *str_or(const char *s, const char *dflt)
{
	return s ? s : dflt;
}

/* a member that is a number, or an address written as "0x..." */
static bool jnum(json_t *o, const char *key, uint64_t *v)
{
	json_t *j = json_object_get(o, key);
	const char *s = json_string_value(j);
	char *end;

	if (json_is_integer(j)) {
		*v = (uint64_t)json_integer_value(j);
		return true;
	}
	if (!s)
		return false;
	errno = 0;
	*v = strtoull(s, &end, 0);
	return !errno && end != s && !*end;
}

/* "512 MiB", "1.5 GiB", "4 KiB", "12 B" */
static const char *human_size(uint64_t v, char *buf, size_t len)
{
	static const char *const unit[] = {
		"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB",
	};
	uint64_t div = 1;
	unsigned u = 0;

	while (u < 6 && v / div >= 1024) {
		div *= 1024;
		u++;
	}
	if (v % div == 0)
		snprintf(buf, len, "%" PRIu64 " %s", v / div, unit[u]);
	else
		snprintf(buf, len, "%.1f %s", (double)v / (double)div, unit[u]);
	return buf;
}

static void print_scalar(FILE *f, json_t *v)
{
	char *s;

	switch (json_typeof(v)) {
	case JSON_STRING:
		fputs(json_string_value(v), f);
		break;
	case JSON_TRUE:
		fputs("yes", f);
		break;
	case JSON_FALSE:
		fputs("no", f);
		break;
	case JSON_NULL:
		fputs("unknown", f);
		break;
	case JSON_INTEGER:
		fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	default:
		s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		fputs(s ? s : "?", f);
		free(s);
	}
}

/* ---- errors ---- */

enum detail_kind { D_INT, D_STR, D_SIZE, D_LIST };

/* one member of an error's data, written as before VALUE after */
struct detail_field {
	const char *key;
	const char *before;
	const char *after;
	enum detail_kind kind;
};

static const struct detail_field ipa_detail[] = {
	{ "needed_bits",	"needed ",		" bits",	D_INT },
	{ "requested_bits",	", requested ",		"",		D_INT },
	{ "host_limit_bits",	", host limit ",	"",		D_INT },
	{ "highest_address",	", highest address ",	"",		D_STR },
	{ NULL, NULL, NULL, D_INT },
};

static const struct detail_field payload_detail[] = {
	{ "region_size",	"payload region ",	"",		D_SIZE },
	{ "kernel_size",	": kernel ",		"",		D_SIZE },
	{ "initrd_size",	", initrd ",		"",		D_SIZE },
	{ "dtb_size",		", DTB ",		"",		D_SIZE },
	{ "needed_size",	"; needed ",		"",		D_SIZE },
	{ NULL, NULL, NULL, D_INT },
};

static const struct detail_field state_detail[] = {
	{ "name",		"VM ",			"",		D_STR },
	{ "state",		" is ",			"",		D_STR },
	{ "allowed",		"; allowed when ",	"",		D_LIST },
	{ NULL, NULL, NULL, D_INT },
};

static const struct detail_field param_detail[] = {
	{ "param",		"parameter ",		"",		D_STR },
	{ "reason",		": ",			"",		D_STR },
	{ "expected",		" (expected ",		")",		D_STR },
	{ NULL, NULL, NULL, D_INT },
};

static bool detail_value(FILE *f, json_t *v, enum detail_kind kind)
{
	char buf[32];
	size_t i;
	json_t *s;

	switch (kind) {
	case D_INT:
		if (!json_is_integer(v))
			return false;
		fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return true;
	case D_SIZE:
		if (!json_is_integer(v))
			return false;
		fputs(human_size((uint64_t)json_integer_value(v), buf,
				 sizeof(buf)), f);
		return true;
	case D_LIST:
		if (!json_is_array(v))
			return false;
		json_array_foreach(v, i, s) {
			fputs(i == 0 ? "" : i + 1 < json_array_size(v) ? ", "
			      : " or ", f);
			print_scalar(f, s);
		}
		return true;
	default:
		if (!v || json_is_null(v))
			return false;
		print_scalar(f, v);
		return true;
	}
}

static void detail_print(json_t *data, const struct detail_field *fields)
{
	const struct detail_field *f;
	json_t *v;

	fputs("  ", stderr);
	for (f = fields; f->key; f++) {
		v = json_object_get(data, f->key);
		if (!v || json_is_null(v))
			continue;
		fputs(f->before, stderr);
		detail_value(stderr, v, f->kind);
		fputs(f->after, stderr);
	}
	fputc('\n', stderr);
}

/* data of a code without its own rendering: "key: value" lines */
static void detail_generic(json_t *data)
{
	const char *key;
	json_t *v;

	json_object_foreach(data, key, v) {
		fprintf(stderr, "  %s: ", key);
		print_scalar(stderr, v);
		fputc('\n', stderr);
	}
}

static void error_detail(const struct armvm_error *e)
{
	if (!json_is_object(e->data) || !json_object_size(e->data))
		return;
	switch (e->code) {
	case ARMVM_E_IPA:
		detail_print(e->data, ipa_detail);
		break;
	case ARMVM_E_PAYLOAD:
		detail_print(e->data, payload_detail);
		break;
	case ARMVM_E_STATE:
		detail_print(e->data, state_detail);
		break;
	case ARMVM_E_INVALID_PARAMS:
		detail_print(e->data, param_detail);
		break;
	case ARMVM_E_NO_KVM:	/* the message says it all */
	case ARMVM_E_NO_VM:
	case ARMVM_E_EXISTS:
		break;
	default:
		detail_generic(e->data);
	}
}

static void ctl_report_rpc_error(struct ctl *ctl, const char *method,
				 const struct armvm_error *e)
{
	json_t *obj;

	ctl_err("%s: %s (code %d)", method, e->message, e->code);
	error_detail(e);
	if (!ctl->json_forced)
		return;
	obj = json_pack("{s:i, s:s, s:O*}", "code", e->code,
			"message", e->message, "data", e->data);
	if (obj) {
		json_print(stdout, obj, JSON_INDENT(2));
		json_decref(obj);
	}
}

/* ---- calls ---- */

static int ctl_connect(struct ctl *ctl)
{
	int err;

	if (ctl->conn)
		return CTL_OK;
	ctl->conn = armvm_connect(ctl->socket, &err);
	if (!ctl->conn) {
		ctl_err("cannot connect to %s: %s", ctl->socket,
			armvm_strerror(err, NULL));
		return CTL_TRANSPORT;
	}
	return CTL_OK;
}

/*
 * Call method and map every failure to an exit code after reporting it;
 * an error answer is reported only when e is NULL, else it is left in *e
 * (CTL_RPC_ERROR; free it with armvm_error_clear) for the caller to judge.
 * On CTL_OK *result holds a new reference.
 */
static int ctl_call_fds_e(struct ctl *ctl, const char *method, json_t *params,
			  const int *fds, unsigned nfds, json_t **result,
			  struct armvm_error *e)
{
	struct armvm_error own;
	int r;

	*result = NULL;
	r = ctl_connect(ctl);
	if (r != CTL_OK)
		return r;
	r = armvm_call_fds(ctl->conn, method, params, fds, nfds, result,
			   e ? e : &own, ctl->timeout_ms);
	if (r == ARMVM_OK)
		return CTL_OK;
	if (r == ARMVM_RPC_ERROR) {
		if (!e) {
			ctl_report_rpc_error(ctl, method, &own);
			armvm_error_clear(&own);
		}
		return CTL_RPC_ERROR;
	}
	if (r == -ETIMEDOUT) {
		ctl_err("%s: no answer from %s within %d ms", method,
			ctl->socket, ctl->timeout_ms);
		return CTL_TIMEOUT;
	}
	ctl_err("%s: %s: %s", method, ctl->socket, armvm_strerror(r, NULL));
	return CTL_TRANSPORT;
}

static int ctl_call_fds(struct ctl *ctl, const char *method, json_t *params,
			const int *fds, unsigned nfds, json_t **result)
{
	return ctl_call_fds_e(ctl, method, params, fds, nfds, result, NULL);
}

static int ctl_call(struct ctl *ctl, const char *method, json_t *params,
		    json_t **result)
{
	return ctl_call_fds(ctl, method, params, NULL, 0, result);
}

/* ---- readable rows ---- */

#define LABEL_WIDTH 20

static void row_start(const char *label)
{
	printf("%-*s", LABEL_WIDTH - 1, label);
	putchar(' ');
}

static void row_value(const char *label, json_t *v)
{
	row_start(label);
	print_scalar(stdout, v);
	putchar('\n');
}

static void row_str(const char *label, const char *s)
{
	if (!s)
		return;
	row_start(label);
	puts(s);
}

static void __attribute__((format(printf, 2, 3)))
row_printf(const char *label, const char *fmt, ...)
{
	va_list ap;

	row_start(label);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* ---- host ---- */

/* "40 bits (source)", "vhe (source)" */
static void row_sourced(const char *label, json_t *v, json_t *source,
			bool bits)
{
	row_start(label);
	if (bits && json_is_integer(v))
		printf("%" JSON_INTEGER_FORMAT " bits", json_integer_value(v));
	else
		print_scalar(stdout, v);
	if (json_is_string(source))
		printf(" (%s)", json_string_value(source));
	putchar('\n');
}

static void row_list(const char *label, json_t *arr)
{
	size_t i;
	json_t *v;

	if (!json_is_array(arr)) {
		row_value(label, arr);
		return;
	}
	row_start(label);
	if (!json_array_size(arr))
		fputs("none", stdout);
	json_array_foreach(arr, i, v) {
		if (i)
			fputs(", ", stdout);
		print_scalar(stdout, v);
	}
	putchar('\n');
}

/* features: two lists for the booleans, a row each for anything else */
static void row_features(json_t *features)
{
	const char *key;
	json_t *v;
	bool any;
	int pass;

	if (!json_is_object(features)) {
		row_value("Features", features);
		return;
	}
	for (pass = 0; pass < 2; pass++) {
		row_start(pass ? "Not supported" : "Features");
		any = false;
		json_object_foreach(features, key, v) {
			if (!json_is_boolean(v) || json_is_true(v) == pass)
				continue;
			printf("%s%s", any ? ", " : "", key);
			any = true;
		}
		puts(any ? "" : "none");
	}
	json_object_foreach(features, key, v) {
		char label[64];

		if (json_is_boolean(v))
			continue;
		snprintf(label, sizeof(label), "Feature %s", key);
		row_value(label, v);
	}
}

static const struct host_field {
	const char *key;
	const char *label;
} host_fields[] = {
	{ "version",		"armvmd version" },
	{ "arch",		"Architecture" },
	{ "kernel",		"Kernel" },
	{ "kvm",		"KVM" },
	{ "reason",		NULL },
	{ "kvm_mode",		"KVM mode" },
	{ "kvm_mode_source",	NULL },
	{ "ipa_limit_bits",	"IPA limit" },
	{ "ipa_limit_source",	NULL },
	{ "pa_range_bits",	"PA range" },
	{ "pa_range_source",	NULL },
	{ "el1_32bit",		"AArch32 guests" },
	{ "guest_granules",	"Guest page sizes" },
	{ "lpa2",		"LPA2 (52-bit, 4K/16K)" },
	{ "va_range_bits",	"VA range (64K)" },
	{ "gic",		"GIC" },
	{ "max_vcpus",		"Max vCPUs" },
	{ "recommended_vcpus",	"Recommended vCPUs" },
	{ "features",		NULL },
	{ "mops",		NULL },
};

static bool host_known(const char *key)
{
	size_t i;

	for (i = 0; i < sizeof(host_fields) / sizeof(host_fields[0]); i++)
		if (!strcmp(host_fields[i].key, key))
			return true;
	return false;
}

static void host_print(json_t *info)
{
	const struct host_field *f;
	const char *key;
	json_t *v, *reason;
	size_t i;

	for (i = 0; i < sizeof(host_fields) / sizeof(host_fields[0]); i++) {
		f = &host_fields[i];
		v = json_object_get(info, f->key);
		if (!v || !f->label)
			continue;
		if (!strcmp(f->key, "kvm")) {
			reason = json_object_get(info, "reason");
			row_start(f->label);
			print_scalar(stdout, v);
			if (json_is_string(reason))
				printf(" (%s)", json_string_value(reason));
			putchar('\n');
		} else if (!strcmp(f->key, "kvm_mode")) {
			row_sourced(f->label, v,
				    json_object_get(info, "kvm_mode_source"),
				    false);
		} else if (!strcmp(f->key, "ipa_limit_bits")) {
			row_sourced(f->label, v,
				    json_object_get(info, "ipa_limit_source"),
				    true);
		} else if (!strcmp(f->key, "pa_range_bits")) {
			row_sourced(f->label, v,
				    json_object_get(info, "pa_range_source"),
				    true);
		} else if (json_is_array(v)) {
			row_list(f->label, v);
		} else {
			row_value(f->label, v);
		}
	}
	/* a reason or source whose companion is missing still gets shown */
	if (!json_object_get(info, "kvm") && (v = json_object_get(info, "reason")))
		row_value("KVM", v);
	if (!json_object_get(info, "kvm_mode") &&
	    (v = json_object_get(info, "kvm_mode_source")))
		row_value("KVM mode source", v);
	if (!json_object_get(info, "ipa_limit_bits") &&
	    (v = json_object_get(info, "ipa_limit_source")))
		row_value("IPA limit source", v);
	if (!json_object_get(info, "pa_range_bits") &&
	    (v = json_object_get(info, "pa_range_source")))
		row_value("PA range source", v);
	if ((v = json_object_get(info, "features")))
		row_features(v);
	if (json_is_object(v = json_object_get(info, "mops"))) {
		/* FEAT_MOPS: "undefined, hidden from guests (detail)" */
		const char *probe = json_string_value(json_object_get(v, "probe"));
		const char *detail = json_string_value(json_object_get(v, "detail"));
		char text[512];

		snprintf(text, sizeof(text), "%s%s%s%s%s", probe ? probe : "?",
			 json_is_true(json_object_get(v, "hidden_from_guests"))
			 ? ", hidden from guests" : "",
			 detail ? " (" : "", detail ? detail : "", detail ? ")" : "");
		json_t *t = json_string(text);

		row_value("FEAT_MOPS", t);
		json_decref(t);
	}

	json_object_foreach(info, key, v) {
		if (host_known(key))
			continue;
		if (json_is_array(v))
			row_list(key, v);
		else
			row_value(key, v);
	}
}

/* ---- command options ---- */

enum ctl_opt {
	OPT_JSON = 'j',
	OPT_NAME = 256,
	OPT_KERNEL,
	OPT_INITRD,
	OPT_DTB,
	OPT_CMDLINE,
	OPT_MEMORY,
	OPT_VCPUS,
	OPT_IPA,
	OPT_GIC,
	OPT_AARCH32,
	OPT_NO_START,
	OPT_FORCE,
	OPT_BYTES,
	OPT_RECENT,
	OPT_LINGER,
	OPT_TIMEOUT_S,
	OPT_AUTOSTART,
	OPT_NO_AUTOSTART,
	OPT_ON_POWEROFF,
	OPT_ON_REBOOT,
	OPT_VM,
	OPT_KIND,
	OPT_STATE,
	OPT_DISK,
	OPT_NET,
	OPT_HVC,
	OPT_RNG,
	OPT_BY_PATH,
	OPT_RM,
	OPT_QUIET,
	OPT_RUN_TIMEOUT,
	OPT_BRIEF,
	OPT_FRESH,
};

#define OPT_JSON_ENTRY	{ "json", no_argument, NULL, OPT_JSON }
#define OPT_END		{ NULL, 0, NULL, 0 }

/* the VM specification: vm.create, vm.layout and run */
#define VM_SPEC_OPTIONS \
	{ "name",	required_argument,	NULL, OPT_NAME }, \
	{ "kernel",	required_argument,	NULL, OPT_KERNEL }, \
	{ "initrd",	required_argument,	NULL, OPT_INITRD }, \
	{ "dtb",	required_argument,	NULL, OPT_DTB }, \
	{ "cmdline",	required_argument,	NULL, OPT_CMDLINE }, \
	{ "memory",	required_argument,	NULL, OPT_MEMORY }, \
	{ "vcpus",	required_argument,	NULL, OPT_VCPUS }, \
	{ "ipa",	required_argument,	NULL, OPT_IPA }, \
	{ "gic",	required_argument,	NULL, OPT_GIC }, \
	{ "aarch32",	no_argument,		NULL, OPT_AARCH32 }, \
	{ "disk",	required_argument,	NULL, OPT_DISK }, \
	{ "net",	required_argument,	NULL, OPT_NET }, \
	{ "hvc",	no_argument,		NULL, OPT_HVC }, \
	{ "rng",	no_argument,		NULL, OPT_RNG }, \
	{ "by-path",	no_argument,		NULL, OPT_BY_PATH }

#define SPEC_OPTIONS	VM_SPEC_OPTIONS, OPT_JSON_ENTRY

static const struct option json_opts[] = { OPT_JSON_ENTRY, OPT_END };

/* what happens to a VM when the guest or the daemon does something */
#define POLICY_OPTIONS \
	{ "on-poweroff", required_argument,	NULL, OPT_ON_POWEROFF }, \
	{ "on-reboot",	required_argument,	NULL, OPT_ON_REBOOT }

static const struct option create_opts[] = {
	SPEC_OPTIONS,
	{ "no-start",	no_argument,		NULL, OPT_NO_START },
	{ "autostart",	no_argument,		NULL, OPT_AUTOSTART },
	POLICY_OPTIONS,
	OPT_END,
};

/* create's VM options, then run's own; no --json: stdout is the console */
static const struct option run_opts[] = {
	VM_SPEC_OPTIONS,
	POLICY_OPTIONS,
	{ "rm",		no_argument,		NULL, OPT_RM },
	{ "timeout",	required_argument,	NULL, OPT_RUN_TIMEOUT },
	{ "quiet",	no_argument,		NULL, OPT_QUIET },
	OPT_END,
};

static const struct option set_opts[] = {
	{ "autostart",	no_argument,		NULL, OPT_AUTOSTART },
	{ "no-autostart", no_argument,		NULL, OPT_NO_AUTOSTART },
	POLICY_OPTIONS,
	OPT_JSON_ENTRY,
	OPT_END,
};

static const struct option events_opts[] = {
	{ "vm",		required_argument,	NULL, OPT_VM },
	{ "kind",	required_argument,	NULL, OPT_KIND },
	OPT_JSON_ENTRY,
	OPT_END,
};

static const struct option wait_opts[] = {
	{ "state",	required_argument,	NULL, OPT_STATE },
	{ "timeout",	required_argument,	NULL, OPT_TIMEOUT_S },
	OPT_JSON_ENTRY,
	OPT_END,
};

static const struct option layout_opts[] = { SPEC_OPTIONS, OPT_END };

static const struct option stop_opts[] = {
	{ "force",	no_argument,		NULL, OPT_FORCE },
	{ "timeout",	required_argument,	NULL, OPT_TIMEOUT_S },
	OPT_JSON_ENTRY,
	OPT_END,
};

static const struct option info_opts[] = {
	{ "brief",	no_argument,		NULL, OPT_BRIEF },
	{ "fresh",	no_argument,		NULL, OPT_FRESH },
	OPT_JSON_ENTRY,
	OPT_END,
};

static const struct option console_opts[] = {
	{ "recent",	no_argument,		NULL, OPT_RECENT },
	{ "bytes",	required_argument,	NULL, OPT_BYTES },
	{ "linger",	required_argument,	NULL, OPT_LINGER },
	OPT_JSON_ENTRY,
	OPT_END,
};

enum opt_kind {
	K_STR,		/* the argument, as a string */
	K_PATH,		/* the argument, made absolute */
	K_INT,		/* the argument, as an integer */
	K_LIST,		/* a string, or a list when repeated */
	K_PATH_LIST,	/* "PATH[,OPTIONS]", PATH made absolute; K_LIST */
	K_TRUE,
	K_FALSE,
	K_CONST,	/* value */
};

/* how an option becomes an RPC parameter */
static const struct opt_key {
	int opt;
	const char *key;
	enum opt_kind kind;
	const char *value;
} opt_keys[] = {
	{ OPT_NAME,	"name",		K_STR,		NULL },
	{ OPT_KERNEL,	"kernel",	K_PATH,		NULL },
	{ OPT_INITRD,	"initrd",	K_PATH,		NULL },
	{ OPT_DTB,	"dtb",		K_PATH,		NULL },
	{ OPT_CMDLINE,	"cmdline",	K_STR,		NULL },
	{ OPT_MEMORY,	"memory",	K_LIST,		NULL },
	{ OPT_VCPUS,	"vcpus",	K_INT,		NULL },
	{ OPT_IPA,	"ipa",		K_INT,		NULL },
	{ OPT_GIC,	"gic",		K_STR,		NULL },
	{ OPT_AARCH32,	"arch",		K_CONST,	"aarch32" },
	{ OPT_NO_START,	"start",	K_FALSE,	NULL },
	{ OPT_FORCE,	"force",	K_TRUE,		NULL },
	{ OPT_BYTES,	"bytes",	K_INT,		NULL },
	{ OPT_TIMEOUT_S, "timeout",	K_INT,		NULL },
	{ OPT_AUTOSTART, "autostart",	K_TRUE,		NULL },
	{ OPT_NO_AUTOSTART, "autostart", K_FALSE,	NULL },
	{ OPT_ON_POWEROFF, "on_poweroff", K_STR,	NULL },
	{ OPT_ON_REBOOT, "on_reboot",	K_STR,		NULL },
	{ OPT_VM,	"vm",		K_STR,		NULL },
	{ OPT_KIND,	"kinds",	K_LIST,		NULL },
	{ OPT_STATE,	"state",	K_STR,		NULL },
	{ OPT_DISK,	"disks",	K_PATH_LIST,	NULL },
	{ OPT_NET,	"nets",		K_LIST,		NULL },
	{ OPT_HVC,	"hvc",		K_TRUE,		NULL },
	{ OPT_RNG,	"rng",		K_TRUE,		NULL },
	{ OPT_BRIEF,	"brief",	K_TRUE,		NULL },
	{ OPT_FRESH,	"fresh",	K_TRUE,		NULL },
};

/* A command line after cmd_options. */
struct cmd_args {
	json_t *params;		/* RPC parameters from the options */
	bool recent;		/* console --recent */
	double linger;		/* console --linger, seconds */
	bool rm;		/* run --rm */
	bool quiet;		/* run --quiet */
	double run_timeout;	/* run --timeout, seconds; 0: none */
	int argc;		/* the operands */
	char **argv;
	char **vec;		/* owned: what getopt permuted */
	char prog[48];		/* "armvmctl COMMAND", for getopt's messages */
};

static int parse_seconds(const char *s, double *sec)
{
	char *end;

	errno = 0;
	*sec = strtod(s, &end);
	if (errno || end == s || *end || !(*sec >= 0) || *sec > 2000000.0)
		return -1;
	return 0;
}

static int parse_int(const char *s, json_int_t *v)
{
	char *end;

	errno = 0;
	*v = strtoll(s, &end, 10);
	return errno || end == s || *end ? -1 : 0;
}

static const char *opt_name(const struct ctl_cmd *cmd, int opt)
{
	const struct option *o;

	for (o = cmd->opts ? cmd->opts : json_opts; o->name; o++)
		if (o->val == opt)
			return o->name;
	return "?";
}

static int opt_bad(const struct ctl_cmd *cmd, int opt, const char *arg,
		   const char *want)
{
	ctl_err("%s: --%s: '%s' is not %s", cmd->name, opt_name(cmd, opt),
		arg, want);
	return CTL_USAGE;
}

/* a relative path as the daemon (in another directory) must see it */
static json_t *abs_path(const char *path)
{
	char *real, *cwd, *joined = NULL;
	json_t *v;

	if (path[0] == '/')
		return json_string(path);
	real = realpath(path, NULL);
	if (real) {
		v = json_string(real);
		free(real);
		return v;
	}
	cwd = getcwd(NULL, 0);
	if (!cwd || asprintf(&joined, "%s/%s", cwd, path) < 0)
		joined = NULL;
	v = joined ? json_string(joined) : NULL;
	free(cwd);
	free(joined);
	return v;
}

/* --disk PATH[,OPTIONS]: the path made absolute, the options kept */
static json_t *abs_path_options(const char *arg)
{
	const char *comma = strchr(arg, ',');
	char *path, *joined = NULL;
	json_t *abs, *v = NULL;

	if (!comma)
		return abs_path(arg);
	path = strndup(arg, (size_t)(comma - arg));
	abs = path ? abs_path(path) : NULL;
	if (abs && asprintf(&joined, "%s%s", json_string_value(abs), comma) >= 0)
		v = json_string(joined);
	json_decref(abs);
	free(path);
	free(joined);
	return v;
}

/* --memory: a string; given again, a list of them */
static int opt_append(json_t *params, const char *key, json_t *v)
{
	json_t *old = json_object_get(params, key), *list;

	if (!old)
		return json_object_set_new(params, key, v);
	if (json_is_array(old))
		return json_array_append_new(old, v);
	list = json_pack("[O, o]", old, v);
	return list ? json_object_set_new(params, key, list) : -1;
}

/* NULL: the argument is not an integer, or not UTF-8 */
static json_t *opt_value(const struct opt_key *k, const char *arg)
{
	json_int_t i;

	switch (k->kind) {
	case K_PATH:
		return abs_path(arg);
	case K_PATH_LIST:
		return abs_path_options(arg);
	case K_INT:
		return parse_int(arg, &i) < 0 ? NULL : json_integer(i);
	case K_TRUE:
		return json_true();
	case K_FALSE:
		return json_false();
	case K_CONST:
		return json_string(k->value);
	default:
		return json_string(arg);
	}
}

static int opt_store(const struct ctl_cmd *cmd, struct cmd_args *a, int opt,
		     const char *arg)
{
	const struct opt_key *k = NULL;
	json_t *v;
	size_t i;

	if (opt == OPT_RECENT) {
		a->recent = true;
		return CTL_OK;
	}
	if (opt == OPT_LINGER)
		return parse_seconds(arg, &a->linger) < 0
			? opt_bad(cmd, opt, arg, "a number of seconds") : CTL_OK;
	if (opt == OPT_RM || opt == OPT_QUIET) {
		*(opt == OPT_RM ? &a->rm : &a->quiet) = true;
		return CTL_OK;
	}
	if (opt == OPT_RUN_TIMEOUT)
		return run_parse_duration(arg, &a->run_timeout) < 0
			? opt_bad(cmd, opt, arg, "a duration (SEC, or 90s, 5m, 2h)")
			: CTL_OK;
	for (i = 0; i < sizeof(opt_keys) / sizeof(opt_keys[0]); i++)
		if (opt_keys[i].opt == opt)
			k = &opt_keys[i];
	if (!k)
		return CTL_USAGE;
	v = opt_value(k, arg);
	if (!v)
		return opt_bad(cmd, opt, arg, k->kind == K_INT ? "an integer"
							      : "valid UTF-8");
	if (k->kind == K_LIST || k->kind == K_PATH_LIST)
		return opt_append(a->params, k->key, v) < 0 ? ctl_oom() : CTL_OK;
	return json_object_set_new(a->params, k->key, v) < 0 ? ctl_oom() : CTL_OK;
}

static void cmd_args_free(struct cmd_args *a)
{
	json_decref(a->params);
	free(a->vec);
}

/*
 * Parse the options of cmd (getopt_long over its own arguments, so that
 * they may come before or after the operands); --json is everyone's.
 * Leaves the operands in a->argc/argv.  Free a with cmd_args_free, also
 * after a failure.
 */
static int cmd_options(struct ctl *ctl, const struct ctl_cmd *cmd, int argc,
		       char **argv, struct cmd_args *a)
{
	const struct option *opts = cmd->opts ? cmd->opts : json_opts;
	int opt, r;

	memset(a, 0, sizeof(*a));
	a->linger = 2.0;
	a->params = json_object();
	a->vec = calloc((size_t)argc + 2, sizeof(*a->vec));
	if (!a->params || !a->vec)
		return ctl_oom();
	snprintf(a->prog, sizeof(a->prog), "armvmctl %s", cmd->name);
	a->vec[0] = a->prog;
	memcpy(a->vec + 1, argv, (size_t)argc * sizeof(*argv));
	optind = 0;	/* glibc: start over */
	while ((opt = getopt_long(argc + 1, a->vec, "j", opts, NULL)) != -1) {
		if (opt == OPT_JSON) {
			ctl->json = ctl->json_forced = true;
			continue;
		}
		if (opt == OPT_BY_PATH) {
			ctl->by_path = true;
			continue;
		}
		if (opt == '?' || opt == ':') {
			fprintf(stderr, "Try 'armvmctl help %s'.\n", cmd->name);
			return CTL_USAGE;
		}
		r = opt_store(cmd, a, opt, optarg);
		if (r != CTL_OK)
			return r;
	}
	a->argc = argc + 1 - optind;
	a->argv = a->vec + optind;
	return CTL_OK;
}

/* cmd_options, then the operands: none, or the VM name */
static int cmd_parse(struct ctl *ctl, const struct ctl_cmd *cmd, int argc,
		     char **argv, struct cmd_args *a)
{
	int r = cmd_options(ctl, cmd, argc, argv, a);
	json_t *name;

	if (r != CTL_OK)
		return r;
	if (a->argc != (cmd->name_arg ? 1 : 0))
		return ctl_usage_error(cmd);
	if (cmd->name_arg) {
		name = json_string(a->argv[0]);
		if (!name) {
			ctl_err("%s: the VM name is not valid UTF-8", cmd->name);
			return CTL_USAGE;
		}
		json_object_set_new(a->params, "name", name);
	}
	if (cmd->required && !json_object_get(a->params, cmd->required)) {
		ctl_err("%s: --%s is required", cmd->name, cmd->required);
		return ctl_usage_error(cmd);
	}
	return CTL_OK;
}

/*
 * ---- files passed as descriptors ----
 *
 * create and layout open the kernel, initrd, DTB and disks themselves and
 * pass the descriptors with the call ({"fd": N, "path": P}, N their index
 * in the request's descriptors): the daemon reads what this user could
 * open, and opens nothing by path.  --by-path sends the paths instead.
 */
struct ctl_files {
	int fd[ARMVM_MAX_FDS];
	unsigned n;
};

static void ctl_files_close(struct ctl_files *f)
{
	while (f->n)
		close(f->fd[--f->n]);
}

/*
 * Open path for option opt: its index in f; FILE_BY_PATH when this user
 * cannot open it (or it is no regular file or block device): the path
 * then goes to the daemon, which opens it as this same user and refuses
 * it with the structured error (-32011 naming path, mode and uid; the
 * missing or wrong kind of file likewise); -1 after saying why.
 */
#define FILE_BY_PATH	(-2)
static int file_open(const struct ctl_cmd *cmd, struct ctl_files *f, const char *opt,
		     const char *path, bool rw)
{
	struct stat st;
	int fd, fl;

	if (f->n == ARMVM_MAX_FDS) {
		ctl_err("%s: more than %d files to pass with one call; --by-path "
			"sends their paths instead", cmd->name, ARMVM_MAX_FDS);
		return -1;
	}
	/* O_NONBLOCK: a FIFO named by mistake must not hang the open */
	fd = open(path, (rw ? O_RDWR : O_RDONLY) | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return FILE_BY_PATH;
	if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
		close(fd);
		return FILE_BY_PATH;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	f->fd[f->n] = fd;
	return (int)f->n++;
}

/* kernel, initrd, dtb: "PATH" becomes {"fd": N, "path": PATH} */
static int pass_image(const struct ctl_cmd *cmd, json_t *params, const char *key,
		      struct ctl_files *f)
{
	const char *path = json_string_value(json_object_get(params, key));
	json_t *v;
	int i;

	if (!path)
		return CTL_OK;
	i = file_open(cmd, f, key, path, false);
	if (i == FILE_BY_PATH)
		return CTL_OK;		/* the daemon says why not */
	if (i < 0)
		return CTL_RPC_ERROR;
	v = armvm_file_param(i, path);
	return v && json_object_set_new(params, key, v) == 0 ? CTL_OK : ctl_oom();
}

/*
 * --disk "PATH[,ro][,rw][,serial=ID][,queues=N]" (PATH made absolute
 * already) as the object form of vm.create's disks, with the descriptor:
 * {"fd", "path", "readonly", "serial", "queues"}.  The daemon checks the
 * values; this only splits them.
 */
static int pass_disk(const struct ctl_cmd *cmd, const char *arg, struct ctl_files *f,
		     json_t **out)
{
	char *text = strdup(arg), *opts, *o, *save = NULL;
	json_t *d = json_object();
	bool ro = false;
	int r = CTL_USAGE, i;

	*out = NULL;
	if (!text || !d) {
		free(text);
		json_decref(d);
		return ctl_oom();
	}
	opts = strchr(text, ',');
	if (opts)
		*opts++ = '\0';
	for (o = opts ? strtok_r(opts, ",", &save) : NULL; o; o = strtok_r(NULL, ",", &save)) {
		json_int_t q;

		if (!strcmp(o, "ro") || !strcmp(o, "readonly")) {
			ro = true;
		} else if (!strcmp(o, "rw")) {
			ro = false;
		} else if (!strncmp(o, "serial=", 7)) {
			json_object_set_new(d, "serial", json_string(o + 7));
		} else if (!strncmp(o, "queues=", 7)) {
			if (parse_int(o + 7, &q) < 0) {
				ctl_err("%s: --disk %s: queues=%s is not an integer",
					cmd->name, arg, o + 7);
				goto out;
			}
			json_object_set_new(d, "queues", json_integer(q));
		} else {
			ctl_err("%s: --disk %s: unknown option '%s' (ro, rw, serial=, "
				"queues=)", cmd->name, arg, o);
			goto out;
		}
	}
	r = CTL_RPC_ERROR;
	i = file_open(cmd, f, "disk", text, !ro);
	if (i < 0 && i != FILE_BY_PATH)
		goto out;
	/* FILE_BY_PATH: the path alone, and the daemon says why not */
	if ((i >= 0 && json_object_set_new(d, "fd", json_integer(i)) < 0) ||
	    json_object_set_new(d, "path", json_string(text)) < 0 ||
	    json_object_set_new(d, "readonly", json_boolean(ro)) < 0) {
		r = ctl_oom();
		goto out;
	}
	*out = d;
	d = NULL;
	r = CTL_OK;
out:
	json_decref(d);
	free(text);
	return r;
}

/* Every file of a VM specification opened and passed. */
static int spec_pass_files(const struct ctl_cmd *cmd, json_t *params, struct ctl_files *f)
{
	static const char *const images[] = { "kernel", "initrd", "dtb" };
	json_t *disks = json_object_get(params, "disks"), *list, *v, *d;
	size_t i;
	int r;

	for (i = 0; i < sizeof(images) / sizeof(images[0]); i++) {
		r = pass_image(cmd, params, images[i], f);
		if (r != CTL_OK)
			return r;
	}
	if (!disks)
		return CTL_OK;
	/* one --disk is a string, more a list (opt_append) */
	list = json_is_array(disks) ? json_incref(disks) : json_pack("[O]", disks);
	if (!list)
		return ctl_oom();
	json_array_foreach(list, i, v) {
		r = pass_disk(cmd, json_string_value(v), f, &d);
		if (r != CTL_OK) {
			json_decref(list);
			return r;
		}
		json_array_set_new(list, i, d);
	}
	return json_object_set_new(params, "disks", list) < 0 ? ctl_oom() : CTL_OK;
}

/* ---- vm.create, vm.start, vm.stop, vm.destroy, vm.list ---- */

static void row_state(json_t *res)
{
	const char *reason = jstr(res, "reason");

	row_start("State");
	fputs(str_or(jstr(res, "state"), "?"), stdout);
	if (json_is_true(json_object_get(res, "unresponsive")))
		fputs(", unresponsive", stdout);
	if (reason && *reason)
		printf(" (%s)", reason);
	putchar('\n');
}

/* "48 bits (requested), highest address 0x8900000000000" */
static void row_ipa(json_t *res, bool highest)
{
	json_t *bits = json_object_get(res, "ipa_bits");
	const char *reason = jstr(res, "ipa_reason");
	const char *hi = jstr(res, "highest_address");

	if (!json_is_integer(bits))
		return;
	row_start("IPA");
	printf("%" JSON_INTEGER_FORMAT " bits", json_integer_value(bits));
	if (reason)
		printf(" (%s)", reason);
	if (highest && hi)
		printf(", highest address %s", hi);
	putchar('\n');
}

static void show_created(json_t *res)
{
	row_str("Name", jstr(res, "name"));
	row_state(res);
	row_ipa(res, false);
}

/* "g1: running (started)" */
static void show_state(json_t *res)
{
	const char *reason = jstr(res, "reason");

	printf("%s: %s", str_or(jstr(res, "name"), "?"),
	       str_or(jstr(res, "state"), "?"));
	if (reason && *reason)
		printf(" (%s)", reason);
	putchar('\n');
}

static int width_of(json_t *list, const char *key, int min)
{
	size_t i;
	json_t *o;
	int w = min;

	json_array_foreach(list, i, o) {
		const char *s = jstr(o, key);

		if (s && (int)strlen(s) > w)
			w = (int)strlen(s);
	}
	return w;
}

static void show_list(json_t *res)
{
	int wname = width_of(res, "name", 4), wstate = width_of(res, "state", 5);
	size_t i;
	json_t *o;

	printf("%-*s  %-*s  %-3s  %-7s  %s\n", wname, "NAME", wstate, "STATE",
	       "IPA", "PID", "REASON");
	json_array_foreach(res, i, o) {
		json_t *ipa = json_object_get(o, "ipa_bits");
		json_t *pid = json_object_get(o, "pid");
		char sipa[16] = "-", spid[24] = "-";

		if (json_is_integer(ipa))
			snprintf(sipa, sizeof(sipa), "%" JSON_INTEGER_FORMAT,
				 json_integer_value(ipa));
		if (json_is_integer(pid))
			snprintf(spid, sizeof(spid), "%" JSON_INTEGER_FORMAT,
				 json_integer_value(pid));
		printf("%-*s  %-*s  %-3s  %-7s  %s%s\n", wname,
		       str_or(jstr(o, "name"), "?"), wstate,
		       str_or(jstr(o, "state"), "?"), sipa, spid,
		       json_is_true(json_object_get(o, "unresponsive")) ?
		       "unresponsive: " : "", str_or(jstr(o, "reason"), ""));
	}
}

/* ---- vm.layout: the address map ---- */

#define MAP_MAX 64

struct map_row {
	uint64_t base, size;
	int depth;		/* how many other rows contain this one */
	char what[256];
};

struct map {
	struct map_row row[MAP_MAX];
	size_t n;
};

static uint64_t range_end(uint64_t base, uint64_t size)
{
	return size ? base + size - 1 : base;
}

static void map_add(struct map *m, json_t *o, const char *base_key,
		    const char *size_key, const char *what)
{
	struct map_row *r;
	uint64_t base, size;

	if (m->n >= MAP_MAX || !jnum(o, base_key, &base) ||
	    !jnum(o, size_key, &size))
		return;
	r = &m->row[m->n++];
	r->base = base;
	r->size = size;
	snprintf(r->what, sizeof(r->what), "%s", what);
}

static void map_kernel(struct map *m, json_t *k)
{
	char what[256];

	if (!k)
		return;
	snprintf(what, sizeof(what), "kernel %s, entry %s (%s%s)",
		 str_or(jstr(k, "path"), "?"), str_or(jstr(k, "entry"), "?"),
		 str_or(jstr(k, "format"), "image"),
		 json_is_true(json_object_get(k, "compressed")) ? ", gzip" : "");
	map_add(m, k, "load", "reserved_size", what);
}

static void map_payload(struct map *m, json_t *p)
{
	json_t *initrd = json_object_get(p, "initrd");
	json_t *dtb = json_object_get(p, "dtb");
	const char *src = jstr(dtb, "source");
	char what[256];

	map_add(m, p, "region_base", "region_size",
		"payload region (kernel, initrd, DTB)");
	map_kernel(m, json_object_get(p, "kernel"));
	if (initrd) {
		snprintf(what, sizeof(what), "initrd %s",
			 str_or(jstr(initrd, "path"), "?"));
		map_add(m, initrd, "base", "size", what);
	}
	if (dtb) {
		snprintf(what, sizeof(what), src && strcmp(src, "generated")
			 ? "DTB %s" : "DTB (%s)", str_or(src, "generated"));
		map_add(m, dtb, "base", "reserved_size", what);
	}
}

static void map_collect(struct map *m, json_t *layout)
{
	const char *placed;
	char what[256];
	size_t i;
	json_t *o;

	json_array_foreach(json_object_get(layout, "devices"), i, o)
		map_add(m, o, "base", "size", str_or(jstr(o, "name"), "device"));
	json_array_foreach(json_object_get(layout, "banks"), i, o) {
		placed = jstr(o, "placed");
		snprintf(what, sizeof(what), "RAM: %s%s",
			 str_or(jstr(o, "name"), "ram"),
			 placed && !strcmp(placed, "requested")
			 ? ", at the requested base" : "");
		map_add(m, o, "base", "size", what);
	}
	map_payload(m, json_object_get(layout, "payload"));
}

/* by address; of two rows at one address, the larger (the container) first */
static int map_cmp(const void *pa, const void *pb)
{
	const struct map_row *a = pa, *b = pb;

	if (a->base != b->base)
		return a->base < b->base ? -1 : 1;
	if (a->size != b->size)
		return a->size > b->size ? -1 : 1;
	return 0;
}

static void map_sort(struct map *m)
{
	size_t i, j;

	qsort(m->row, m->n, sizeof(m->row[0]), map_cmp);
	for (i = 0; i < m->n; i++)
		for (j = 0; j < i; j++)
			if (m->row[j].base <= m->row[i].base &&
			    range_end(m->row[j].base, m->row[j].size) >=
			    range_end(m->row[i].base, m->row[i].size))
				m->row[i].depth++;
}

static int hex_digits(uint64_t v)
{
	int n = 1;

	while (v >>= 4)
		n++;
	return n;
}

static void map_print(const struct map *m)
{
	char size[MAP_MAX][48], human[24];
	int digits = 8, wsize = 4;
	size_t i;

	for (i = 0; i < m->n; i++) {
		const struct map_row *r = &m->row[i];

		if (hex_digits(range_end(r->base, r->size)) > digits)
			digits = hex_digits(range_end(r->base, r->size));
		snprintf(size[i], sizeof(size[i]), "0x%" PRIx64 " (%s)", r->size,
			 human_size(r->size, human, sizeof(human)));
		if ((int)strlen(size[i]) > wsize)
			wsize = (int)strlen(size[i]);
	}
	printf("%-*s  %-*s  %s\n", 2 * digits + 5, "ADDRESS", wsize, "SIZE",
	       "WHAT");
	for (i = 0; i < m->n; i++) {
		const struct map_row *r = &m->row[i];

		printf("0x%0*" PRIx64 "-0x%0*" PRIx64 "  %-*s  %*s%s\n",
		       digits, r->base, digits, range_end(r->base, r->size),
		       wsize, size[i], 2 * r->depth, "", r->what);
	}
}

static void layout_summary(json_t *layout)
{
	json_t *ipa = json_object_get(layout, "ipa");
	json_t *bits = json_object_get(ipa, "bits");
	json_t *needed = json_object_get(ipa, "needed_bits");
	const char *gic_reason = jstr(layout, "gic_reason");
	json_t *kernel, *w;
	size_t i;

	printf("\nIPA: %" JSON_INTEGER_FORMAT " bits (%s)\n",
	       json_integer_value(bits), str_or(jstr(ipa, "reason"), "?"));
	if (jstr(ipa, "highest_address"))
		printf("Highest address: %s, needs %" JSON_INTEGER_FORMAT
		       " bits\n", jstr(ipa, "highest_address"),
		       json_integer_value(needed));
	if (jstr(layout, "gic"))
		printf("GIC: %s%s%s%s\n", jstr(layout, "gic"),
		       gic_reason ? " (" : "", str_or(gic_reason, ""),
		       gic_reason ? ")" : "");
	printf("vCPUs: %" JSON_INTEGER_FORMAT ", %s\n",
	       json_integer_value(json_object_get(layout, "vcpus")),
	       str_or(jstr(layout, "arch"), "aarch64"));
	kernel = json_object_get(json_object_get(layout, "payload"), "kernel");
	if (jstr(kernel, "page_size"))
		printf("Kernel pages: %s\n", jstr(kernel, "page_size"));
	if (jstr(kernel, "placement"))
		printf("Kernel placement: %s\n", jstr(kernel, "placement"));
	json_array_foreach(json_object_get(layout, "warnings"), i, w)
		if (json_is_string(w))
			printf("warning: %s\n", json_string_value(w));
}

static void show_layout(json_t *res)
{
	struct map *m = calloc(1, sizeof(*m));

	if (!m) {
		json_print(stdout, res, JSON_INDENT(2));
		return;
	}
	map_collect(m, res);
	map_sort(m);
	map_print(m);
	layout_summary(res);
	free(m);
}

/* ---- vm.info ---- */

/* "0x80000000-0x9fffffff (512 MiB)" */
static bool range_text(json_t *o, const char *base_key, const char *size_key,
		       char *buf, size_t len)
{
	uint64_t base, size;
	char human[24];

	if (!jnum(o, base_key, &base) || !jnum(o, size_key, &size))
		return false;
	snprintf(buf, len, "0x%" PRIx64 "-0x%" PRIx64 " (%s)", base,
		 range_end(base, size), human_size(size, human, sizeof(human)));
	return true;
}

static void info_vcpus(json_t *res, json_t *live)
{
	json_t *vcpus = json_object_get(live, "vcpus"), *v;
	char label[32];
	size_t i;

	if (!json_is_array(vcpus)) {
		if (json_object_get(res, "vcpus"))
			row_value("vCPUs", json_object_get(res, "vcpus"));
		return;
	}
	row_printf("vCPUs", "%zu", json_array_size(vcpus));
	json_array_foreach(vcpus, i, v) {
		snprintf(label, sizeof(label), "  vCPU %zu", i);
		row_printf(label, "MPIDR %s, %" JSON_INTEGER_FORMAT " exits (%"
			   JSON_INTEGER_FORMAT " MMIO)",
			   str_or(jstr(v, "mpidr"), "?"),
			   json_integer_value(json_object_get(v, "exits")),
			   json_integer_value(json_object_get(v, "mmio_exits")));
	}
}

static void row_uptime(json_t *uptime)
{
	unsigned long s;

	if (!json_is_number(uptime))
		return;
	s = (unsigned long)json_number_value(uptime);
	if (s >= 86400)
		row_printf("Uptime", "%lud %02lu:%02lu:%02lu", s / 86400,
			   s / 3600 % 24, s / 60 % 60, s % 60);
	else
		row_printf("Uptime", "%lu:%02lu:%02lu", s / 3600, s / 60 % 60,
			   s % 60);
}

static void row_time(const char *label, json_t *t)
{
	time_t when;
	struct tm tm;
	char buf[64];

	if (!json_is_integer(t))
		return;
	when = (time_t)json_integer_value(t);
	if (localtime_r(&when, &tm) &&
	    strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S %z", &tm))
		row_str(label, buf);
}

static void info_live(json_t *live)
{
	static const struct live_counter {
		const char *key, *label, *unit;
	} counters[] = {
		{ "console_bytes",	"Console output",	" bytes" },
		{ "uart_rx_bytes",	"Console input",	" bytes" },
		{ "unhandled_mmio",	"Unhandled MMIO",	" accesses" },
		{ "resets",		"Guest resets",		"" },
	};
	json_t *v;
	size_t i;

	if (jstr(live, "error"))
		row_str("Worker", jstr(live, "error"));
	for (i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		v = json_object_get(live, counters[i].key);
		if (json_is_integer(v))
			row_printf(counters[i].label, "%" JSON_INTEGER_FORMAT "%s",
				   json_integer_value(v), counters[i].unit);
	}
}

static json_int_t dev_int(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* virtio devices: one row each, "blk0 driver-ok /img (ro) ..." */
static void info_devices(json_t *devs)
{
	size_t i;
	json_t *d;

	json_array_foreach(devs, i, d) {
		const char *type = str_or(jstr(d, "type"), "?");

		row_start(i ? "" : "Devices");
		printf("%s %s", str_or(jstr(d, "name"), "?"), str_or(jstr(d, "state"), "?"));
		if (!strcmp(type, "blk"))
			printf(" %s%s, %" JSON_INTEGER_FORMAT " requests, %"
			       JSON_INTEGER_FORMAT " bytes read, %" JSON_INTEGER_FORMAT
			       " written, %" JSON_INTEGER_FORMAT " I/O errors",
			       str_or(jstr(d, "path"), "?"),
			       json_is_true(json_object_get(d, "readonly")) ? " (ro)" : "",
			       dev_int(d, "requests"), dev_int(d, "bytes_read"),
			       dev_int(d, "bytes_written"), dev_int(d, "io_errors"));
		else if (!strcmp(type, "net"))
			printf(" TAP %s %s, rx %" JSON_INTEGER_FORMAT " packets %"
			       JSON_INTEGER_FORMAT " bytes, tx %" JSON_INTEGER_FORMAT
			       " packets %" JSON_INTEGER_FORMAT " bytes",
			       str_or(jstr(d, "tap"), "?"), str_or(jstr(d, "mac"), "?"),
			       dev_int(d, "rx_packets"), dev_int(d, "rx_bytes"),
			       dev_int(d, "tx_packets"), dev_int(d, "tx_bytes"));
		else if (!strcmp(type, "console"))
			printf(" hvc0 %s", str_or(jstr(d, "socket"), "?"));
		else if (!strcmp(type, "rng"))
			printf(" %" JSON_INTEGER_FORMAT " bytes", dev_int(d, "bytes"));
		if (jstr(d, "error"))
			printf("; last error: %s", jstr(d, "error"));
		putchar('\n');
	}
}

static void info_worker(json_t *res, json_t *live)
{
	json_t *pid = json_object_get(res, "pid");

	if (pid)
		row_value("Worker pid", pid);
	else
		row_str("Worker pid", "none");
	row_uptime(json_object_get(res, "uptime"));
	row_time("Created", json_object_get(res, "created_at"));
	info_live(live);
	row_str("Console log", jstr(res, "console_log"));
	row_str("Console socket", jstr(res, "console_socket"));
	row_str("Worker log", jstr(res, "worker_log"));
}

static void info_memory(json_t *layout)
{
	char text[96];
	size_t i;
	json_t *b;

	json_array_foreach(json_object_get(layout, "banks"), i, b) {
		if (!range_text(b, "base", "size", text, sizeof(text)))
			continue;
		row_printf(i ? "" : "Memory", "%s, %s%s", text,
			   str_or(jstr(b, "name"), "ram"),
			   !strcmp(str_or(jstr(b, "placed"), ""), "requested")
			   ? ", at the requested base" : "");
	}
}

static void info_payload(json_t *layout)
{
	json_t *p = json_object_get(layout, "payload");
	json_t *k = json_object_get(p, "kernel");
	json_t *initrd = json_object_get(p, "initrd");
	json_t *dtb = json_object_get(p, "dtb");
	char text[96];

	if (range_text(p, "region_base", "region_size", text, sizeof(text)))
		row_str("Payload region", text);
	if (range_text(k, "load", "reserved_size", text, sizeof(text)))
		row_printf("  kernel", "%s, entry %s, %s", text,
			   str_or(jstr(k, "entry"), "?"),
			   str_or(jstr(k, "path"), "?"));
	if (range_text(initrd, "base", "size", text, sizeof(text)))
		row_printf("  initrd", "%s, %s", text,
			   str_or(jstr(initrd, "path"), "?"));
	if (range_text(dtb, "base", "reserved_size", text, sizeof(text)))
		row_printf("  DTB", "%s, %s", text,
			   str_or(jstr(dtb, "source"), "generated"));
}

static void show_info(json_t *res)
{
	json_t *layout = json_object_get(res, "layout");
	json_t *live = json_object_get(res, "live");
	const char *gic = jstr(layout, "gic");

	row_str("Name", jstr(res, "name"));
	row_state(res);
	row_ipa(res, true);
	row_str("Arch", jstr(res, "arch"));
	if (gic)
		row_printf("GIC", "%s (%s)", gic,
			   str_or(jstr(layout, "gic_reason"), "?"));
	info_vcpus(res, live);
	info_worker(res, live);
	info_memory(layout);
	info_payload(layout);
	info_devices(json_object_get(live, "devices"));
}

/* ---- the vm.* commands without a flow of their own ---- */

static int cmd_vm(struct ctl *ctl, const struct ctl_cmd *cmd,
		  int argc, char **argv)
{
	struct ctl_files files = { .n = 0 };
	struct cmd_args a;
	json_t *res = NULL;
	int r;

	r = cmd_parse(ctl, cmd, argc, argv, &a);
	if (r == CTL_OK && cmd->pass_files && !ctl->by_path)
		r = spec_pass_files(cmd, a.params, &files);
	if (r == CTL_OK)
		r = ctl_call_fds(ctl, cmd->method,
				 json_object_size(a.params) ? a.params : NULL,
				 files.fd, files.n, &res);
	ctl_files_close(&files);
	cmd_args_free(&a);
	if (r != CTL_OK)
		return r;
	if (ctl->json || !cmd->show)
		json_print(stdout, res, JSON_INDENT(2));
	else
		cmd->show(res);
	json_decref(res);
	return CTL_OK;
}

/* ---- events and wait ---- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static volatile sig_atomic_t events_stop;

static void events_signal(int sig)
{
	(void)sig;
	events_stop = 1;
}

/* one event as a line: TIME VM KIND details */
static void event_print(struct ctl *ctl, json_t *p)
{
	const char *kind = json_string_value(json_object_get(p, "kind"));
	time_t t = (time_t)json_number_value(json_object_get(p, "time"));
	char when[32];
	struct tm tm;

	if (ctl->json) {
		json_print(stdout, p, JSON_COMPACT);
		fflush(stdout);
		return;
	}
	strftime(when, sizeof(when), "%H:%M:%S", localtime_r(&t, &tm));
	printf("%s %s %s", when, json_string_value(json_object_get(p, "vm")) ?: "-",
	       kind ? kind : "?");
	if (kind && !strcmp(kind, "state"))
		printf(": %s -> %s (%s)",
		       json_string_value(json_object_get(p, "previous")) ?: "?",
		       json_string_value(json_object_get(p, "state")) ?: "?",
		       json_string_value(json_object_get(p, "reason")) ?: "");
	else if (kind && !strcmp(kind, "console"))
		printf(": %s", json_string_value(json_object_get(p, "line")) ?: "");
	else {
		json_t *c = json_deep_copy(p);
		char *text;

		json_object_del(c, "kind");
		json_object_del(c, "vm");
		json_object_del(c, "time");
		text = json_dumps(c, JSON_COMPACT);
		printf(": %s", text ? text : "");
		free(text);
		json_decref(c);
	}
	putchar('\n');
	fflush(stdout);
}

static int events_subscribe_call(struct ctl *ctl, json_t *params)
{
	json_t *kinds = json_object_get(params, "kinds"), *res = NULL;
	int r;

	if (json_is_string(kinds))
		json_object_set_new(params, "kinds", json_pack("[O]", kinds));
	r = ctl_call(ctl, "events.subscribe", params, &res);
	json_decref(res);
	return r;
}

static int cmd_events(struct ctl *ctl, const struct ctl_cmd *cmd,
		      int argc, char **argv)
{
	struct cmd_args a;
	json_t *msg;
	int r;

	r = cmd_parse(ctl, cmd, argc, argv, &a);
	if (r == CTL_OK)
		r = events_subscribe_call(ctl, a.params);
	cmd_args_free(&a);
	if (r != CTL_OK)
		return r;
	signal(SIGINT, events_signal);
	signal(SIGTERM, events_signal);
	while (!events_stop) {
		r = armvm_next_notification(ctl->conn, &msg, 500);
		if (r == 0)
			continue;
		if (r < 0) {
			if (events_stop)
				break;
			ctl_err("events: %s", armvm_strerror(r, NULL));
			return CTL_TRANSPORT;
		}
		event_print(ctl, json_object_get(msg, "params"));
		json_decref(msg);
	}
	return CTL_OK;
}

/* wait NAME --state S [--timeout SEC]: 0 when reached, 4 on timeout */
static int cmd_wait(struct ctl *ctl, const struct ctl_cmd *cmd,
		    int argc, char **argv)
{
	struct cmd_args a;
	json_t *res = NULL, *msg, *p;
	const char *want, *name;
	json_int_t timeout = -1;
	int64_t deadline;
	int r;

	r = cmd_parse(ctl, cmd, argc, argv, &a);
	if (r != CTL_OK)
		return r;
	want = json_string_value(json_object_get(a.params, "state"));
	name = json_string_value(json_object_get(a.params, "name"));
	if (json_object_get(a.params, "timeout"))
		timeout = json_integer_value(json_object_get(a.params, "timeout"));
	char padded[32];

	snprintf(padded, sizeof(padded), " %s ", want ? want : "");
	if (!want || !strstr(" creating created running paused stopped crashed ",
			     padded)) {
		ctl_err("wait: --state is one of creating, created, running, paused, "
			"stopped, crashed");
		cmd_args_free(&a);
		return CTL_USAGE;
	}
	/* subscribe first, then look: no change can slip between the two */
	p = json_pack("{s:s, s:[s]}", "vm", name, "kinds", "state");
	r = events_subscribe_call(ctl, p);
	json_decref(p);
	if (r == CTL_OK) {
		p = json_pack("{s:s}", "name", name);
		r = ctl_call(ctl, "vm.info", p, &res);
		json_decref(p);
	}
	if (r != CTL_OK) {
		cmd_args_free(&a);
		return r;
	}
	deadline = timeout < 0 ? -1 : now_ms() + timeout * 1000;
	r = CTL_TIMEOUT;
	if (!strcmp(json_string_value(json_object_get(res, "state")) ?: "", want))
		r = CTL_OK;
	while (r == CTL_TIMEOUT) {
		int64_t left = deadline < 0 ? 1000 : deadline - now_ms();
		int n;

		if (left <= 0)
			break;
		n = armvm_next_notification(ctl->conn, &msg, (int)(left > 1000 ? 1000 : left));
		if (n < 0) {
			ctl_err("wait: %s", armvm_strerror(n, NULL));
			r = CTL_TRANSPORT;
			break;
		}
		if (n == 0)
			continue;
		p = json_object_get(msg, "params");
		if (!strcmp(json_string_value(json_object_get(p, "state")) ?: "", want)) {
			r = CTL_OK;
			json_decref(res);
			res = json_incref(p);
		}
		json_decref(msg);
	}
	if (r == CTL_TIMEOUT) {
		json_t *now = NULL;

		p = json_pack("{s:s}", "name", name);
		if (ctl_call(ctl, "vm.info", p, &now) == CTL_OK) {
			json_decref(res);
			res = now;
		}
		json_decref(p);
		ctl_err("wait: %s did not reach state %s within %lld s (it is %s)", name,
			want, (long long)timeout,
			json_string_value(json_object_get(res, "state")) ?: "?");
	}
	else if (r == CTL_OK && ctl->json)
		json_print(stdout, res, JSON_INDENT(2));
	json_decref(res);
	cmd_args_free(&a);
	return r;
}

/* ---- console ---- */

#define CONSOLE_TAIL_RECENT	16384	/* console --recent */
#define CONSOLE_TAIL_ATTACH	2048	/* before attaching */
#define CONSOLE_DETACH		0x1d	/* Ctrl-] */
/* the guest UART buffers 256 bytes: input goes in paced chunks */
#define CONSOLE_CHUNK		64
#define CONSOLE_PACE_MS		5
#define ATTACH_GO		(-1)	/* attach_*: keep going */

struct attach {
	const char *name;
	int sock;
	bool tty;		/* stdin is a terminal: raw, Ctrl-] detaches */
	bool in_open;		/* stdin not at its end yet */
	int64_t linger_ms;	/* output kept flowing after stdin ends */
	int64_t deadline;	/* once stdin ended: when to leave */
	int64_t next_input;	/* no input read before this */
	const char *end;	/* why it ended, for stderr */
};

static struct termios tty_saved;
static volatile sig_atomic_t tty_is_raw;

static void tty_restore(void)
{
	if (tty_is_raw) {
		tcsetattr(STDIN_FILENO, TCSADRAIN, &tty_saved);
		tty_is_raw = 0;
	}
}

/* a signal ends armvmctl as it would have, with the terminal restored */
static void tty_signal(int sig)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };

	tty_restore();
	sigaction(sig, &dfl, NULL);
	raise(sig);
}

/* -1 with errno set when the terminal cannot be put in raw mode */
static int tty_raw(void)
{
	static const int sigs[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM };
	struct sigaction sa = { .sa_handler = tty_signal };
	struct termios raw;
	size_t i;

	if (tcgetattr(STDIN_FILENO, &tty_saved) < 0)
		return -1;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	raw = tty_saved;
	cfmakeraw(&raw);
	if (tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) < 0)
		return -1;
	tty_is_raw = 1;
	return 0;
}

static int unix_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/* SIGPIPE is ignored while attached */
static int write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* guest output: socket -> stdout */
static int attach_output(struct attach *a)
{
	char buf[4096];
	ssize_t n = read(a->sock, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return ATTACH_GO;
	if (n <= 0) {
		a->end = "the VM's worker closed the console";
		return CTL_OK;
	}
	if (write_all(STDOUT_FILENO, buf, (size_t)n) < 0) {
		if (errno == EPIPE)
			return CTL_OK;
		a->end = "cannot write the output";
		return CTL_TRANSPORT;
	}
	return ATTACH_GO;
}

/* what is typed: stdin -> socket, a chunk at a time */
static int attach_input(struct attach *a)
{
	char buf[CONSOLE_CHUNK], *esc;
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
	size_t len;

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return ATTACH_GO;
	if (n <= 0) {
		a->in_open = false;
		a->deadline = now_ms() + a->linger_ms;
		return ATTACH_GO;
	}
	esc = a->tty ? memchr(buf, CONSOLE_DETACH, (size_t)n) : NULL;
	len = esc ? (size_t)(esc - buf) : (size_t)n;
	if (len && write_all(a->sock, buf, len) < 0) {
		a->end = "the VM's worker closed the console";
		return CTL_OK;
	}
	if (esc) {
		a->end = "detached";
		return CTL_OK;
	}
	a->next_input = now_ms() + CONSOLE_PACE_MS;
	return ATTACH_GO;
}

/* poll's timeout; 0 when the time to linger is over */
static int attach_timeout(const struct attach *a, bool *want_input)
{
	int64_t now = now_ms();

	*want_input = a->in_open && now >= a->next_input;
	if (!a->in_open)
		return a->deadline > now ? (int)(a->deadline - now) : 0;
	return *want_input ? -1 : (int)(a->next_input - now);
}

static int attach_loop(struct attach *a)
{
	struct pollfd p[2];
	bool want_input;
	int timeout, r;

	for (;;) {
		timeout = attach_timeout(a, &want_input);
		if (timeout == 0 && !a->in_open)
			return CTL_OK;
		p[0] = (struct pollfd){ .fd = a->sock, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = want_input ? STDIN_FILENO : -1,
					.events = POLLIN };
		if (poll(p, 2, timeout) < 0) {
			if (errno == EINTR)
				continue;
			a->end = "poll failed";
			return CTL_TRANSPORT;
		}
		if (p[0].revents && (r = attach_output(a)) != ATTACH_GO)
			return r;
		if (p[1].revents && (r = attach_input(a)) != ATTACH_GO)
			return r;
	}
}

/* the recent output ended mid-line on a terminal: messages start anew */
static bool console_midline;

static void console_newline(void)
{
	if (console_midline)
		fputc('\n', stderr);
	console_midline = false;
}

/* vm.info names the console socket: connect to it */
static int attach_open(struct ctl *ctl, json_t *params, struct attach *a)
{
	const char *path;
	json_t *info;
	int r;

	r = ctl_call(ctl, "vm.info", params, &info);
	if (r != CTL_OK)
		return r;
	path = jstr(info, "console_socket");
	a->sock = path ? unix_connect(path) : -1;
	if (a->sock < 0) {
		console_newline();
		ctl_err("cannot attach to the console of %s (state %s)%s%s",
			a->name, str_or(jstr(info, "state"), "?"),
			path ? ": " : "", path ? strerror(errno) : "");
		r = CTL_RPC_ERROR;
	}
	json_decref(info);
	return r;
}

static int console_attach(struct ctl *ctl, json_t *params, double linger)
{
	struct attach a = { .name = jstr(params, "name"), .in_open = true,
			    .linger_ms = (int64_t)(linger * 1000) };
	int r;

	r = attach_open(ctl, params, &a);
	if (r != CTL_OK)
		return r;
	a.tty = isatty(STDIN_FILENO);
	if (a.tty) {
		console_newline();
		ctl_err("attached to %s, Ctrl-] detaches", a.name);
		if (tty_raw() < 0)
			ctl_err("cannot put the terminal in raw mode: %s",
				strerror(errno));
	}
	r = attach_loop(&a);
	tty_restore();
	close(a.sock);
	if (a.end && (a.tty || strcmp(a.end, "detached"))) {
		if (a.tty)
			fputc('\n', stderr);
		ctl_err("%s: %s", a.name, a.end);
	}
	return r;
}

static int console_recent(struct ctl *ctl, json_t *params, bool recent)
{
	json_t *res, *out;
	size_t len;
	int r;

	if (!json_object_get(params, "bytes"))
		json_object_set_new(params, "bytes", json_integer(recent ?
			CONSOLE_TAIL_RECENT : CONSOLE_TAIL_ATTACH));
	r = ctl_call(ctl, "vm.console", params, &res);
	json_object_del(params, "bytes");
	if (r != CTL_OK)
		return r;
	out = json_object_get(res, "output");
	len = json_string_length(out);
	if (ctl->json_forced) {
		json_print(stdout, res, JSON_INDENT(2));
	} else if (len) {
		fwrite(json_string_value(out), 1, len, stdout);
		console_midline = json_string_value(out)[len - 1] != '\n' &&
			isatty(STDOUT_FILENO) && isatty(STDERR_FILENO);
	}
	json_decref(res);
	if (fflush(stdout) != 0) {
		ctl_err("write error: %s", strerror(errno));
		return CTL_TRANSPORT;
	}
	return CTL_OK;
}

/*
 * The recent output, then (without --recent or --json) the console
 * itself.  Its output is raw bytes whatever stdout is.
 */
static int cmd_console(struct ctl *ctl, const struct ctl_cmd *cmd,
		       int argc, char **argv)
{
	struct cmd_args a;
	int r;

	signal(SIGPIPE, SIG_IGN);
	r = cmd_parse(ctl, cmd, argc, argv, &a);
	a.recent |= ctl->json_forced;	/* JSON is the recent output only */
	if (r == CTL_OK)
		r = console_recent(ctl, a.params, a.recent);
	if (r == CTL_OK && !a.recent)
		r = console_attach(ctl, a.params, a.linger);
	cmd_args_free(&a);
	return r;
}

/*
 * ---- run: create, start, the console, the end ----
 *
 * The VM is created with start false, so that the console is attached
 * and the state events subscribed before the guest's first instruction:
 * nothing it prints is missed, and no end goes unseen.  Then vm.start,
 * the console streamed (stdin forwarded) until the state event that ends
 * it (stopped, crashed, destroyed), and the exit status says how it ended
 * (run_outcome.h).  --rm destroys it after, whatever happened once it was
 * created.
 */
#define RUN_NAME_TRIES	100	/* run-PID-1, run-PID-2, ... taken */
#define RUN_DRAIN_MS	1000	/* console output after the end */

enum run_end {
	RUN_END_STATE,		/* a state event ended it */
	RUN_END_TIMEOUT,	/* --timeout expired */
	RUN_END_SIGNAL,		/* SIGINT, SIGTERM, SIGHUP */
	RUN_END_DETACH,		/* Ctrl-] on a terminal */
	RUN_END_LOST,		/* the daemon connection failed */
};

struct run {
	struct ctl *ctl;
	const struct ctl_cmd *cmd;
	char name[128];
	bool console;		/* attached: a.sock is open */
	bool input;		/* stdin forwarded */
	struct attach a;
	json_t *end;		/* the state event that ended it */
};

static volatile sig_atomic_t run_signal;

static void run_on_signal(int sig)
{
	if (!run_signal)
		run_signal = sig;
}

/* no SA_RESTART: poll returns, and the loop sees run_signal */
static void run_signals(void)
{
	static const int sigs[] = { SIGHUP, SIGINT, SIGTERM };
	struct sigaction sa = { .sa_handler = run_on_signal };
	size_t i;

	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

static json_t *run_name_param(const struct run *run)
{
	return json_pack("{s:s}", "name", run->name);
}

/*
 * vm.create with the VM's files passed, start false; without --name as
 * run-PID-N, the next N while one is taken.  A refusal is reported here,
 * once.
 */
static int run_create(struct run *run, json_t *params)
{
	struct ctl *ctl = run->ctl;
	struct ctl_files files = { .n = 0 };
	bool named = json_object_get(params, "name");
	struct armvm_error e;
	json_t *res = NULL;
	unsigned n = 0;
	int r = CTL_OK;

	if (json_object_set_new(params, "start", json_false()) < 0)
		return ctl_oom();
	if (!ctl->by_path)
		r = spec_pass_files(run->cmd, params, &files);
	while (r == CTL_OK) {
		if (!named && (run_name(run->name, sizeof(run->name), (long)getpid(), ++n) < 0 ||
			       json_object_set_new(params, "name", json_string(run->name)) < 0)) {
			r = ctl_oom();
			break;
		}
		r = ctl_call_fds_e(ctl, "vm.create", params, files.fd, files.n, &res, &e);
		if (r != CTL_RPC_ERROR)
			break;
		if (!named && e.code == ARMVM_E_EXISTS && n < RUN_NAME_TRIES) {
			armvm_error_clear(&e);
			r = CTL_OK;
			continue;
		}
		ctl_report_rpc_error(ctl, "vm.create", &e);
		armvm_error_clear(&e);
	}
	ctl_files_close(&files);
	if (r == CTL_OK)
		snprintf(run->name, sizeof(run->name), "%s",
			 str_or(jstr(res, "name"), json_string_value(json_object_get(params, "name"))));
	json_decref(res);
	return r;
}

/* stop (forced) or destroy, quietly when it is already so */
static int run_finish_call(struct run *run, const char *method, bool force)
{
	json_t *p = run_name_param(run), *res = NULL;
	struct armvm_error e;
	int r;

	if (!p)
		return ctl_oom();
	if (force)
		json_object_set_new(p, "force", json_true());
	r = ctl_call_fds_e(run->ctl, method, p, NULL, 0, &res, &e);
	json_decref(p);
	json_decref(res);
	if (r == CTL_RPC_ERROR) {
		/* stopped meanwhile, or gone: that was the point */
		if (e.code == ARMVM_E_STATE || (e.code == ARMVM_E_NO_VM && !force))
			r = CTL_OK;
		else
			ctl_report_rpc_error(run->ctl, method, &e);
		armvm_error_clear(&e);
	}
	return r;
}

/* a state event of the VM: true when it ends the run */
static bool run_event(struct run *run, json_t *msg)
{
	json_t *p = json_object_get(msg, "params");

	if (strcmp(str_or(jstr(p, "kind"), ""), "state") ||
	    strcmp(str_or(jstr(p, "vm"), ""), run->name) ||
	    !run_state_final(jstr(p, "state")))
		return false;
	json_decref(run->end);
	run->end = json_incref(p);
	return true;
}

/* the notifications already read or readable: true once one ends it */
static int run_events(struct run *run, bool *ended)
{
	json_t *msg;
	int n = 0;

	while (!*ended && (n = armvm_next_notification(run->ctl->conn, &msg, 0)) > 0) {
		*ended = run_event(run, msg);
		json_decref(msg);
	}
	if (*ended || n == 0)
		return 0;
	ctl_err("%s: lost armvmd: %s", run->name, armvm_strerror(n, NULL));
	return -1;
}

/* guest output and input until the VM ends or run is stopped */
static enum run_end run_follow(struct run *run, double timeout)
{
	struct attach *a = &run->a;
	int64_t deadline = timeout > 0 ? now_ms() + (int64_t)(timeout * 1000) : -1;
	struct pollfd p[3];
	bool ended = false, want_input;
	int64_t now, t;

	for (;;) {
		if (run_events(run, &ended) < 0)
			return RUN_END_LOST;
		if (ended)
			return RUN_END_STATE;
		if (run_signal)
			return RUN_END_SIGNAL;
		now = now_ms();
		if (deadline >= 0 && now >= deadline)
			return RUN_END_TIMEOUT;
		want_input = run->console && run->input && a->in_open &&
			     now >= a->next_input;
		t = run->console && run->input && a->in_open && !want_input
			? a->next_input - now : -1;
		if (deadline >= 0 && (t < 0 || deadline - now < t))
			t = deadline - now;
		p[0] = (struct pollfd){ .fd = armvm_fd(run->ctl->conn), .events = POLLIN };
		p[1] = (struct pollfd){ .fd = run->console ? a->sock : -1, .events = POLLIN };
		p[2] = (struct pollfd){ .fd = want_input ? STDIN_FILENO : -1,
					.events = POLLIN };
		if (poll(p, 3, t > INT_MAX ? INT_MAX : (int)t) < 0) {
			if (errno == EINTR)
				continue;
			ctl_err("%s: poll: %s", run->name, strerror(errno));
			return RUN_END_LOST;
		}
		/* the console's end is not the VM's: its state event is */
		if (p[1].revents && attach_output(a) != ATTACH_GO)
			run->console = false;
		if (p[2].revents && attach_input(a) != ATTACH_GO) {
			if (a->end && !strcmp(a->end, "detached"))
				return RUN_END_DETACH;
			run->console = false;
		}
	}
}

/* what the guest printed up to its end: the console until its EOF */
static void run_drain(struct run *run)
{
	int64_t until = now_ms() + RUN_DRAIN_MS;
	struct pollfd p;
	int64_t left;

	while (run->console && (left = until - now_ms()) > 0) {
		p = (struct pollfd){ .fd = run->a.sock, .events = POLLIN };
		if (poll(&p, 1, (int)left) <= 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (attach_output(&run->a) != ATTACH_GO)
			run->console = false;
	}
}

/* subscribe, attach, start; the VM exists already */
static int run_start(struct run *run, bool quiet)
{
	struct ctl *ctl = run->ctl;
	json_t *p, *res = NULL;
	int r;

	p = json_pack("{s:s, s:[s]}", "vm", run->name, "kinds", "state");
	r = p ? events_subscribe_call(ctl, p) : ctl_oom();
	json_decref(p);
	if (r != CTL_OK)
		return r;
	p = run_name_param(run);
	if (!p)
		return ctl_oom();
	if (!quiet) {
		run->a = (struct attach){ .name = run->name, .in_open = true, .sock = -1 };
		r = attach_open(ctl, p, &run->a);
		run->console = r == CTL_OK;
		run->input = true;
		run->a.tty = isatty(STDIN_FILENO);
	}
	if (r == CTL_OK && run->console && run->a.tty) {
		ctl_err("%s: console attached, Ctrl-] stops the VM", run->name);
		if (tty_raw() < 0)
			ctl_err("cannot put the terminal in raw mode: %s", strerror(errno));
		run_signals();	/* over tty_raw's: the VM is stopped first */
	}
	if (r == CTL_OK)
		r = ctl_call(ctl, "vm.start", p, &res);
	json_decref(res);
	json_decref(p);
	return r;
}

static int cmd_run(struct ctl *ctl, const struct ctl_cmd *cmd,
		   int argc, char **argv)
{
	struct run run = { .ctl = ctl, .cmd = cmd, .a = { .sock = -1 } };
	enum run_end end = RUN_END_LOST;
	bool gone = false;
	struct cmd_args a;
	int r, code;

	signal(SIGPIPE, SIG_IGN);
	r = cmd_parse(ctl, cmd, argc, argv, &a);
	if (r != CTL_OK) {
		cmd_args_free(&a);
		return RUN_EXIT_FAILED;
	}
	run_signals();
	r = run_create(&run, a.params);
	if (r != CTL_OK) {
		cmd_args_free(&a);
		return RUN_EXIT_FAILED;
	}
	r = run_signal ? CTL_OK : run_start(&run, a.quiet);
	if (r == CTL_OK)
		end = run_follow(&run, a.run_timeout);
	if (tty_is_raw) {
		tty_restore();
		fputc('\n', stderr);
	}

	switch (r != CTL_OK ? RUN_END_LOST : end) {
	case RUN_END_STATE:
		run_drain(&run);
		code = run_exit_code(jstr(run.end, "state"), jstr(run.end, "reason"));
		gone = !strcmp(jstr(run.end, "state"), "destroyed");
		if (code != RUN_EXIT_POWEROFF)
			ctl_err("%s: %s (%s)", run.name, jstr(run.end, "state"),
				str_or(jstr(run.end, "reason"), "?"));
		break;
	case RUN_END_TIMEOUT:
		ctl_err("%s: still running after %g s: %s by force", run.name,
			a.run_timeout, a.rm ? "destroyed" : "stopped");
		code = RUN_EXIT_TIMEOUT;
		break;
	case RUN_END_SIGNAL:
	case RUN_END_DETACH:
		code = RUN_EXIT_SIGNAL + (end == RUN_END_SIGNAL ? run_signal : SIGINT);
		ctl_err("%s: %s: %s by force", run.name,
			end == RUN_END_DETACH ? "Ctrl-]" : strsignal(run_signal),
			a.rm ? "destroyed" : "stopped");
		break;
	default:
		/* a failure after the VM was created: it does not stay running */
		code = RUN_EXIT_FAILED;
		if (r == CTL_TRANSPORT)
			gone = true;	/* no daemon to ask */
		break;
	}
	if (!gone && end != RUN_END_STATE && !a.rm &&
	    run_finish_call(&run, "vm.stop", true) == CTL_OK)
		run_drain(&run);
	if (!gone && a.rm && run_finish_call(&run, "vm.destroy", false) != CTL_OK &&
	    code == RUN_EXIT_POWEROFF)
		code = RUN_EXIT_FAILED;
	if (run.a.sock >= 0)
		close(run.a.sock);
	json_decref(run.end);
	cmd_args_free(&a);
	return code;
}

/* ---- host, call, methods ---- */

static int cmd_host(struct ctl *ctl, const struct ctl_cmd *cmd,
		    int argc, char **argv)
{
	struct cmd_args a;
	json_t *res = NULL;
	int r;

	r = cmd_parse(ctl, cmd, argc, argv, &a);
	cmd_args_free(&a);
	if (r == CTL_OK)
		r = ctl_call(ctl, "host.info", NULL, &res);
	if (r != CTL_OK)
		return r;
	if (ctl->json || !json_is_object(res))
		json_print(stdout, res, JSON_INDENT(2));
	else
		host_print(res);
	json_decref(res);
	return CTL_OK;
}

static int cmd_call(struct ctl *ctl, const struct ctl_cmd *cmd,
		    int argc, char **argv)
{
	json_t *params = NULL, *res;
	json_error_t jerr;
	int r;

	if (argc < 1 || argc > 2)
		return ctl_usage_error(cmd);
	if (argc == 2) {
		if (!strcmp(argv[1], "-"))
			params = json_loadf(stdin, 0, &jerr);
		else
			params = json_loads(argv[1], 0, &jerr);
		if (!params) {
			ctl_err("call: JSON-PARAMS: %s (line %d, column %d)",
				jerr.text, jerr.line, jerr.column);
			return CTL_USAGE;
		}
	}
	r = ctl_call(ctl, argv[0], params, &res);
	json_decref(params);
	if (r != CTL_OK)
		return r;
	json_print(stdout, res, JSON_INDENT(2));
	json_decref(res);
	return CTL_OK;
}

static char *method_params(json_t *m)
{
	json_t *params = json_object_get(m, "params"), *p;
	char *s = NULL;
	size_t len = 0, i;
	FILE *f;

	f = open_memstream(&s, &len);
	if (!f)
		return NULL;
	json_array_foreach(params, i, p) {
		const char *name = json_string_value(json_object_get(p, "name"));
		const char *type = json_string_value(json_object_get(p, "type"));
		bool req = json_is_true(json_object_get(p, "required"));

		fprintf(f, "%s%s%s%s%s%s", i ? " " : "", req ? "" : "[",
			name ? name : "?", type ? ":" : "", type ? type : "",
			req ? "" : "]");
	}
	if (!json_array_size(params))
		fputs("-", f);
	fclose(f);
	return s;
}

static int methods_print(json_t *res)
{
	size_t i, wname = 6, wparams = 6, n = json_array_size(res);
	char **cols = calloc(n ? n : 1, sizeof(*cols));
	json_t *m;

	if (!cols)
		return ctl_oom();
	json_array_foreach(res, i, m) {
		const char *name = json_string_value(json_object_get(m, "name"));

		if (name && strlen(name) > wname)
			wname = strlen(name);
		cols[i] = method_params(m);
		if (cols[i] && strlen(cols[i]) > wparams)
			wparams = strlen(cols[i]);
	}
	printf("%-*s  %-*s  %s\n", (int)wname, "METHOD", (int)wparams,
	       "PARAMS", "DESCRIPTION");
	json_array_foreach(res, i, m) {
		const char *name = json_string_value(json_object_get(m, "name"));
		const char *doc = json_string_value(json_object_get(m, "doc"));

		printf("%-*s  %-*s  %s\n", (int)wname, name ? name : "?",
		       (int)wparams, cols[i] ? cols[i] : "?", doc ? doc : "");
		free(cols[i]);
	}
	free(cols);
	return CTL_OK;
}

static int cmd_methods(struct ctl *ctl, const struct ctl_cmd *cmd,
		       int argc, char **argv)
{
	struct cmd_args a;
	json_t *res = NULL;
	int r;

	r = cmd_parse(ctl, cmd, argc, argv, &a);
	cmd_args_free(&a);
	if (r == CTL_OK)
		r = ctl_call(ctl, "rpc.methods", NULL, &res);
	if (r != CTL_OK)
		return r;
	if (ctl->json || !json_is_array(res))
		json_print(stdout, res, JSON_INDENT(2));
	else
		r = methods_print(res);
	json_decref(res);
	return r;
}

/* ---- version, help ---- */

static int cmd_version(struct ctl *ctl, const struct ctl_cmd *cmd,
		       int argc, char **argv)
{
	struct cmd_args a;
	int r;

	r = cmd_parse(ctl, cmd, argc, argv, &a);
	cmd_args_free(&a);
	if (r != CTL_OK)
		return r;
	if (ctl->json_forced) {
		json_t *v = json_pack("{s:s}", "armvmctl", ARMVMD_VERSION);

		json_print(stdout, v, JSON_INDENT(2));
		json_decref(v);
	} else {
		printf("armvmctl %s\n", ARMVMD_VERSION);
	}
	return CTL_OK;
}

static int cmd_help(struct ctl *ctl, const struct ctl_cmd *cmd,
		    int argc, char **argv)
{
	const struct ctl_cmd *about;

	(void)ctl;
	if (argc > 1)
		return ctl_usage_error(cmd);
	if (argc == 0) {
		help_print(stdout);
		return CTL_OK;
	}
	about = cmd_find(argv[0]);
	if (!about) {
		ctl_err("unknown command '%s'", argv[0]);
		return CTL_USAGE;
	}
	printf("usage: armvmctl [OPTIONS] %s%s%s\n\n%s\n", about->name,
	       *about->usage ? " " : "", about->usage, about->doc);
	if (about->help)
		printf("\nOptions:\n%s", about->help);
	return CTL_OK;
}

#define HELP_JSON \
	"  --json               print the JSON result, even on a terminal\n"

#define HELP_SPEC \
	"  --name NAME          VM name (default: generated, vm1, vm2, ...)\n" \
	HELP_VM_SPEC

#define HELP_VM_SPEC \
	"  --kernel PATH        arm64 Image (or gzip of one); zImage with --aarch32\n" \
	"  --initrd PATH        initial ramdisk\n" \
	"  --dtb PATH           device tree to boot with instead of the generated one\n" \
	"  --cmdline STR        kernel command line\n" \
	"  --memory SIZE[@BASE] a RAM bank (K, M, G, T; BASE decimal or 0x hex);\n" \
	"                       repeat for more banks, the first holds the kernel\n" \
	"                       (default 512M at 2 GiB)\n" \
	"  --vcpus N            number of vCPUs (default 1)\n" \
	"  --ipa BITS           IPA size (default: the smallest covering the map)\n" \
	"  --gic auto|v2|v3     interrupt controller (default auto)\n" \
	"  --aarch32            a 32-bit guest\n" \
	"  --disk PATH[,ro]     a virtio-blk disk on a raw image (,serial=ID,\n" \
	"                       ,queues=N too); repeat for more (vda, vdb, ...)\n" \
	"  --net tap=NAME[,mac=MAC]\n" \
	"                       a virtio-net interface on TAP NAME (created when\n" \
	"                       missing; \"tap\" alone: a new one); repeatable\n" \
	"  --hvc                a virtio-console: the guest's hvc0 (hvc0.sock)\n" \
	"  --rng                a virtio-rng entropy device\n" \
	"  --by-path            send the files' paths (armvmd opens them as you)\n" \
	"                       instead of opening them and passing descriptors\n"

#define HELP_POLICY \
	"  --on-poweroff P      when the guest powers off: stop (default),\n" \
	"                       restart or destroy\n" \
	"  --on-reboot P        when the guest resets: restart (default), stop\n" \
	"                       or destroy\n"

static const struct ctl_cmd ctl_cmds[] = {
	{ .name = "host", .run = cmd_host, .usage = "",
	  .doc = "show KVM support, address limits, GIC and features",
	  .help = HELP_JSON },
	{ .name = "methods", .run = cmd_methods, .usage = "",
	  .doc = "list the RPC methods armvmd offers", .help = HELP_JSON },
	{ .name = "call", .run = cmd_call, .usage = "METHOD [JSON-PARAMS|-]",
	  .doc = "call any RPC method and print its JSON result" },
	{ .name = "create", .run = cmd_vm,
	  .usage = "[--name NAME] --kernel PATH [--initrd PATH] [--dtb PATH]"
		   " [--cmdline STR] [--memory SIZE[@BASE]]... [--vcpus N]"
		   " [--ipa BITS] [--gic auto|v2|v3] [--aarch32] [--disk PATH[,ro]]..."
		   " [--net tap=NAME[,mac=MAC]]... [--hvc] [--rng] [--by-path] [--no-start]"
		   " [--autostart] [--on-poweroff P] [--on-reboot P]",
	  .brief = "--kernel PATH [OPTIONS]",
	  .doc = "create a VM and start it",
	  .help = HELP_SPEC
		  "  --no-start           set the VM up, but do not start it\n"
		  "  --autostart          start it whenever armvmd starts\n"
		  HELP_POLICY
		  HELP_JSON,
	  .opts = create_opts, .method = "vm.create", .required = "kernel",
	  .pass_files = true, .show = show_created },
	{ .name = "layout", .run = cmd_vm,
	  .usage = "--kernel PATH [--initrd PATH] [--dtb PATH] [--cmdline STR]"
		   " [--memory SIZE[@BASE]]... [--vcpus N] [--ipa BITS]"
		   " [--gic auto|v2|v3] [--aarch32] [--disk PATH[,ro]]..."
		   " [--net tap=NAME[,mac=MAC]]... [--hvc] [--rng] [--by-path]",
	  .brief = "--kernel PATH [OPTIONS]",
	  .doc = "show the address plan of a VM, creating nothing",
	  .help = HELP_SPEC HELP_JSON,
	  .opts = layout_opts, .method = "vm.layout", .required = "kernel",
	  .pass_files = true, .show = show_layout },
	{ .name = "start", .run = cmd_vm, .usage = "NAME",
	  .doc = "start a created, stopped or crashed VM", .help = HELP_JSON,
	  .method = "vm.start", .name_arg = true, .show = show_state },
	{ .name = "stop", .run = cmd_vm, .usage = "NAME [--force] [--timeout SEC]",
	  .doc = "stop a VM: the guest's power key, forced after a timeout",
	  .help = "  --force              stop at once, without asking the guest\n"
		  "  --timeout SEC        how long the guest gets (default 30)\n"
		  HELP_JSON,
	  .opts = stop_opts, .method = "vm.stop", .name_arg = true,
	  .show = show_state },
	{ .name = "reboot", .run = cmd_vm, .usage = "NAME [--force] [--timeout SEC]",
	  .doc = "reboot a VM: shut down by the power key and start again",
	  .help = "  --force              reset in place at once\n"
		  "  --timeout SEC        how long the guest gets (default 30)\n"
		  HELP_JSON,
	  .opts = stop_opts, .method = "vm.reboot", .name_arg = true,
	  .show = show_state },
	{ .name = "pause", .run = cmd_vm, .usage = "NAME",
	  .doc = "park a VM's vCPUs (its console stays readable)", .help = HELP_JSON,
	  .method = "vm.pause", .name_arg = true, .show = show_state },
	{ .name = "resume", .run = cmd_vm, .usage = "NAME",
	  .doc = "run a paused VM again", .help = HELP_JSON,
	  .method = "vm.resume", .name_arg = true, .show = show_state },
	{ .name = "set", .run = cmd_vm,
	  .usage = "NAME [--autostart|--no-autostart] [--on-poweroff P] [--on-reboot P]",
	  .brief = "NAME [OPTIONS]",
	  .doc = "change a VM's autostart and power policies (saved)",
	  .help = "  --autostart, --no-autostart   start it when armvmd starts, or not\n"
		  HELP_POLICY HELP_JSON,
	  .opts = set_opts, .method = "vm.set", .name_arg = true,
	  .show = show_state },
	{ .name = "events", .run = cmd_events, .usage = "[--vm NAME] [--kind KIND]...",
	  .doc = "print events as they happen, one per line",
	  .help = "  --vm NAME            only this VM\n"
		  "  --kind KIND          state, device or console (repeatable;\n"
		  "                       default state and device)\n"
		  "  --json               one JSON object per line\n",
	  .opts = events_opts },
	{ .name = "wait", .run = cmd_wait, .usage = "NAME --state STATE [--timeout SEC]",
	  .doc = "wait until a VM is in a state (exit 4 on timeout)",
	  .help = "  --state STATE        created, running, paused, stopped, crashed\n"
		  "  --timeout SEC        give up after SEC seconds (exit 4)\n"
		  HELP_JSON,
	  .opts = wait_opts, .name_arg = true },
	{ .name = "run", .run = cmd_run,
	  .usage = "[--rm] [--timeout DURATION] [--quiet] [--name NAME] --kernel PATH"
		   " [--initrd PATH] [--dtb PATH] [--cmdline STR] [--memory SIZE[@BASE]]..."
		   " [--vcpus N] [--ipa BITS] [--gic auto|v2|v3] [--aarch32]"
		   " [--disk PATH[,ro]]... [--net tap=NAME[,mac=MAC]]... [--hvc] [--rng]"
		   " [--by-path] [--on-poweroff P] [--on-reboot P]",
	  .brief = "[--rm] --kernel PATH [OPTIONS]",
	  .doc = "create and start a VM, stream its console, exit with its outcome",
	  .help = "  --rm                 destroy the VM once it has stopped (also after a\n"
		  "                       signal, a timeout or a failure to attach)\n"
		  "  --timeout DURATION   stop the VM by force if it still runs after\n"
		  "                       DURATION (SEC, or 90s, 5m, 2h; exit 124)\n"
		  "  --quiet              do not attach to the console\n"
		  "  --name NAME          VM name (default: run-PID-N)\n"
		  HELP_VM_SPEC
		  HELP_POLICY
		  "\n"
		  "The console is attached before the guest starts; its output goes to\n"
		  "standard output, standard input goes to the guest.  On a terminal\n"
		  "Ctrl-] stops the VM.  SIGINT, SIGTERM and SIGHUP stop it by force\n"
		  "(destroy it with --rm) before run exits.  Without --rm the VM stays\n"
		  "defined, stopped.\n"
		  "\n"
		  "Exit status:\n"
		  "  0    the guest powered off\n"
		  "  121  the guest reset, and --on-reboot stop or destroy ended the VM\n"
		  "  122  the VM was stopped or destroyed by someone else\n"
		  "  123  the VM crashed: a guest error, or its worker failed or was killed\n"
		  "  124  --timeout expired: the VM was stopped (--rm: destroyed) by force\n"
		  "  125  run itself failed: a usage error, armvmd unreachable or lost,\n"
		  "       armvmd refused the VM (its message on stderr), or the console\n"
		  "       could not be attached\n"
		  "  128+N  run was ended by signal N (130: SIGINT or Ctrl-]; 143: SIGTERM)\n",
	  .opts = run_opts, .required = "kernel", .pass_files = true },
	{ .name = "daemon", .run = cmd_vm, .usage = "",
	  .doc = "show the daemon: version, directories, VM counts",
	  .help = HELP_JSON, .method = "daemon.info" },
	{ .name = "destroy", .run = cmd_vm, .usage = "NAME",
	  .doc = "stop a VM if needed and forget it", .help = HELP_JSON,
	  .method = "vm.destroy", .name_arg = true, .show = show_state },
	{ .name = "list", .run = cmd_vm, .usage = "",
	  .doc = "list the VMs with their state", .help = HELP_JSON,
	  .method = "vm.list", .show = show_list },
	{ .name = "info", .run = cmd_vm, .usage = "NAME [--brief] [--fresh]",
	  .doc = "show a VM's state, IPA size, vCPUs, memory and files",
	  .help = "  --brief              without the layout (the plan): cheaper, for polling\n"
		  "  --fresh              ask the VM's worker now, not the state it pushed last\n"
		  HELP_JSON,
	  .opts = info_opts,
	  .method = "vm.info", .name_arg = true, .show = show_info },
	{ .name = "console", .run = cmd_console,
	  .usage = "NAME [--recent] [--bytes N] [--linger SEC]",
	  .brief = "NAME [OPTIONS]",
	  .doc = "print a VM's recent console output, then attach to it",
	  .help = "  --recent             print the recent output only, do not attach\n"
		  "  --bytes N            at most N bytes of recent output\n"
		  "                       (default 16384 with --recent, else 2048)\n"
		  "  --linger SEC         when standard input is not a terminal: keep\n"
		  "                       printing output SEC seconds after its end\n"
		  "                       (default 2)\n"
		  "  --json               print the vm.console result, do not attach\n",
	  .opts = console_opts, .name_arg = true },
	{ .name = "version", .run = cmd_version, .usage = "",
	  .doc = "print the version of armvmctl", .help = HELP_JSON },
	{ .name = "help", .run = cmd_help, .usage = "[COMMAND]",
	  .doc = "show this help, or the usage and options of one command" },
	{ .name = NULL },
};

static const struct ctl_cmd *cmd_find(const char *name)
{
	const struct ctl_cmd *cmd;

	for (cmd = ctl_cmds; cmd->name; cmd++)
		if (!strcmp(cmd->name, name))
			return cmd;
	return NULL;
}

static void help_print(FILE *f)
{
	const struct ctl_cmd *cmd;

	fprintf(f,
		"usage: armvmctl [--socket PATH] [--json|--table] [--timeout SEC] [--by-path]\n"
		"                COMMAND [ARGS]\n"
		"\n"
		"Control armvmd, the arm64 KVM virtual machine manager.\n"
		"\n"
		"Options:\n"
		"  -s, --socket PATH   daemon socket (default $ARMVMD_SOCKET, else\n"
		"                      %s)\n"
		"  -j, --json          print JSON even on a terminal (commands take\n"
		"                      --json too)\n"
		"      --table         readable output even when piped\n"
		"      --by-path       create, layout: send file paths (armvmd opens\n"
		"                      them as you), not descriptors of files opened here\n"
		"  -t, --timeout SEC   give up waiting for an answer after SEC seconds\n"
		"                      (fractions allowed; 0 waits forever, the default)\n"
		"  -h, --help          show this help\n"
		"\n"
		"Commands (armvmctl help COMMAND shows their options):\n",
		ARMVM_DEFAULT_SOCKET);
	for (cmd = ctl_cmds; cmd->name; cmd++) {
		const char *usage = cmd->brief ? cmd->brief : cmd->usage;
		char left[64];

		snprintf(left, sizeof(left), "%s%s%s", cmd->name,
			 *usage ? " " : "", usage);
		if (strlen(left) > 22)
			fprintf(f, "  %s\n  %-22s  %s\n", left, "", cmd->doc);
		else
			fprintf(f, "  %-22s  %s\n", left, cmd->doc);
	}
	fprintf(f,
		"\n"
		"Exit status:\n"
		"  0  success\n"
		"  1  armvmd answered with an error\n"
		"  2  usage error\n"
		"  3  cannot connect, or the connection failed\n"
		"  4  timed out waiting for armvmd\n");
}

static int parse_timeout(const char *s, int *ms)
{
	double sec;

	if (parse_seconds(s, &sec) < 0)
		return -1;
	*ms = sec == 0 ? -1 : (int)(sec * 1000 + 0.999);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket",	required_argument,	NULL, 's' },
		{ "json",	no_argument,		NULL, 'j' },
		{ "table",	no_argument,		NULL, 'T' },
		{ "timeout",	required_argument,	NULL, 't' },
		{ "by-path",	no_argument,		NULL, 'P' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl ctl = { .timeout_ms = -1 };
	bool table = false;	/* readable output even when piped */
	const struct ctl_cmd *cmd;
	int opt, r;

	while ((opt = getopt_long(argc, argv, "+s:jt:h", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			ctl.socket = optarg;
			break;
		case 'j':
			ctl.json_forced = true;
			break;
		case 'T':
			table = true;
			break;
		case 'P':
			ctl.by_path = true;
			break;
		case 't':
			if (parse_timeout(optarg, &ctl.timeout_ms) < 0) {
				ctl_err("--timeout: '%s' is not a number of seconds",
					optarg);
				return CTL_USAGE;
			}
			break;
		case 'h':
			help_print(stdout);
			return CTL_OK;
		default:
			fputs("Try 'armvmctl help'.\n", stderr);
			return CTL_USAGE;
		}
	}
	if (optind >= argc) {
		help_print(stderr);
		return CTL_USAGE;
	}
	cmd = cmd_find(argv[optind]);
	if (!cmd) {
		ctl_err("unknown command '%s'; try 'armvmctl help'",
			argv[optind]);
		return CTL_USAGE;
	}
	if (!ctl.socket)
		ctl.socket = armvm_default_socket();
	ctl.json = ctl.json_forced || (!table && !isatty(STDOUT_FILENO));

	r = cmd->run(&ctl, cmd, argc - optind - 1, argv + optind + 1);
	armvm_close(ctl.conn);
	if (fflush(stdout) != 0 && r == CTL_OK) {
		ctl_err("write error: %s", strerror(errno));
		r = CTL_TRANSPORT;
	}
	return r;
}
