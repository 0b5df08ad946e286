// SPDX-License-Identifier: MIT
/*
 * armvmctl — command line front end of armvmd, built on libarmvm only.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libarmvm.h"

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
	struct armvm *conn;
};

struct ctl_cmd {
	const char *name;
	int (*run)(struct ctl *ctl, const struct ctl_cmd *cmd,
		   int argc, char **argv);
	const char *usage;	/* arguments after the command name */
	const char *doc;
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

static void json_print(FILE *f, json_t *j, size_t flags)
{
	char *s = json_dumps(j, flags | JSON_ENCODE_ANY);

	if (s) {
		fputs(s, f);
		free(s);
	}
	fputc('\n', f);
}

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

static void ctl_report_rpc_error(struct ctl *ctl, const char *method,
				 const struct armvm_error *e)
{
	json_t *obj;

	ctl_err("%s: %s (code %d)", method, e->message, e->code);
	if (e->data)
		json_print(stderr, e->data, JSON_COMPACT);
	if (!ctl->json_forced)
		return;
	obj = json_pack("{s:i, s:s, s:O*}", "code", e->code,
			"message", e->message, "data", e->data);
	if (obj) {
		json_print(stdout, obj, JSON_INDENT(2));
		json_decref(obj);
	}
}

/*
 * Call method and map every failure to an exit code after reporting it.
 * On CTL_OK *result holds a new reference.
 */
static int ctl_call(struct ctl *ctl, const char *method, json_t *params,
		    json_t **result)
{
	struct armvm_error e;
	int r;

	*result = NULL;
	r = ctl_connect(ctl);
	if (r != CTL_OK)
		return r;
	r = armvm_call_timeout(ctl->conn, method, params, result, &e,
			       ctl->timeout_ms);
	if (r == ARMVM_OK)
		return CTL_OK;
	if (r == ARMVM_RPC_ERROR) {
		ctl_report_rpc_error(ctl, method, &e);
		armvm_error_clear(&e);
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

/* ---- host ---- */

#define LABEL_WIDTH 20

static void row_start(const char *label)
{
	printf("%-*s", LABEL_WIDTH - 1, label);
	putchar(' ');
}

static void print_scalar(json_t *v)
{
	char *s;

	switch (json_typeof(v)) {
	case JSON_STRING:
		fputs(json_string_value(v), stdout);
		break;
	case JSON_TRUE:
		fputs("yes", stdout);
		break;
	case JSON_FALSE:
		fputs("no", stdout);
		break;
	case JSON_NULL:
		fputs("unknown", stdout);
		break;
	case JSON_INTEGER:
		printf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	default:
		s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		fputs(s ? s : "?", stdout);
		free(s);
	}
}

static void row_value(const char *label, json_t *v)
{
	row_start(label);
	print_scalar(v);
	putchar('\n');
}

/* "40 bits (source)", "vhe (source)" */
static void row_sourced(const char *label, json_t *v, json_t *source,
			bool bits)
{
	row_start(label);
	if (bits && json_is_integer(v))
		printf("%" JSON_INTEGER_FORMAT " bits", json_integer_value(v));
	else
		print_scalar(v);
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
		print_scalar(v);
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
	{ "gic",		"GIC" },
	{ "max_vcpus",		"Max vCPUs" },
	{ "recommended_vcpus",	"Recommended vCPUs" },
	{ "features",		NULL },
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
			print_scalar(v);
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

	json_object_foreach(info, key, v) {
		if (host_known(key))
			continue;
		if (json_is_array(v))
			row_list(key, v);
		else
			row_value(key, v);
	}
}

static int cmd_host(struct ctl *ctl, const struct ctl_cmd *cmd,
		    int argc, char **argv)
{
	json_t *res;
	int r;

	(void)argv;
	if (argc != 0)
		return ctl_usage_error(cmd);
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

/* ---- call ---- */

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

/* ---- methods ---- */

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

static int cmd_methods(struct ctl *ctl, const struct ctl_cmd *cmd,
		       int argc, char **argv)
{
	size_t i, wname = 6, wparams = 6, n;
	json_t *res, *m;
	char **cols;
	int r;

	(void)argv;
	if (argc != 0)
		return ctl_usage_error(cmd);
	r = ctl_call(ctl, "rpc.methods", NULL, &res);
	if (r != CTL_OK)
		return r;
	if (ctl->json || !json_is_array(res)) {
		json_print(stdout, res, JSON_INDENT(2));
		json_decref(res);
		return CTL_OK;
	}

	n = json_array_size(res);
	cols = calloc(n ? n : 1, sizeof(*cols));
	if (!cols) {
		json_decref(res);
		ctl_err("out of memory");
		return CTL_TRANSPORT;
	}
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
	json_decref(res);
	return CTL_OK;
}

/* ---- version, help ---- */

static int cmd_version(struct ctl *ctl, const struct ctl_cmd *cmd,
		       int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return ctl_usage_error(cmd);
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
	return CTL_OK;
}

static const struct ctl_cmd ctl_cmds[] = {
	{ "host",	cmd_host,	"",
	  "show KVM support, address limits, GIC and features" },
	{ "methods",	cmd_methods,	"",
	  "list the RPC methods armvmd offers" },
	{ "call",	cmd_call,	"METHOD [JSON-PARAMS|-]",
	  "call any RPC method and print its JSON result" },
	{ "version",	cmd_version,	"",
	  "print the version of armvmctl" },
	{ "help",	cmd_help,	"[COMMAND]",
	  "show this help, or the usage of one command" },
	{ NULL, NULL, NULL, NULL },
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
	char left[64];

	fprintf(f,
		"usage: armvmctl [--socket PATH] [--json] [--timeout SEC] COMMAND [ARGS]\n"
		"\n"
		"Control armvmd, the arm64 KVM virtual machine manager.\n"
		"\n"
		"Options:\n"
		"  -s, --socket PATH   daemon socket (default $ARMVMD_SOCKET, else\n"
		"                      %s)\n"
		"  -j, --json          print JSON even on a terminal\n"
		"  -t, --timeout SEC   give up waiting for an answer after SEC seconds\n"
		"                      (fractions allowed; 0 waits forever, the default)\n"
		"  -h, --help          show this help\n"
		"\n"
		"Commands:\n", ARMVM_DEFAULT_SOCKET);
	for (cmd = ctl_cmds; cmd->name; cmd++) {
		snprintf(left, sizeof(left), "%s%s%s", cmd->name,
			 *cmd->usage ? " " : "", cmd->usage);
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
	char *end;
	double sec;

	errno = 0;
	sec = strtod(s, &end);
	if (errno || end == s || *end || !(sec >= 0) || sec > 2000000.0)
		return -1;
	if (sec == 0) {
		*ms = -1;
		return 0;
	}
	*ms = (int)(sec * 1000 + 0.999);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket",	required_argument,	NULL, 's' },
		{ "json",	no_argument,		NULL, 'j' },
		{ "timeout",	required_argument,	NULL, 't' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl ctl = { .timeout_ms = -1 };
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
	ctl.json = ctl.json_forced || !isatty(STDOUT_FILENO);

	r = cmd->run(&ctl, cmd, argc - optind - 1, argv + optind + 1);
	armvm_close(ctl.conn);
	if (fflush(stdout) != 0 && r == CTL_OK) {
		ctl_err("write error: %s", strerror(errno));
		r = CTL_TRANSPORT;
	}
	return r;
}
