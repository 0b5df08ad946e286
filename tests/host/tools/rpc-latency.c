// SPDX-License-Identifier: MIT
/*
 * rpc-latency: time JSON-RPC calls to armvmd, one after the other.
 *
 *   rpc-latency [--socket PATH] [--count N] [--reconnect] [--timeout SEC]
 *               [--expect-error CODE] [--show] [METHOD[=JSON-PARAMS]]...
 *
 * Makes N calls (default 100) cycling through the methods given (default
 * host.info and vm.list, alternating), over one connection, or one
 * connection per call with --reconnect (the connect is timed too).  Each
 * call must be answered within --timeout seconds (default 10): the first
 * that is not ends the run.  An error answer counts as a failure unless it
 * is --expect-error CODE, which every call must then get.  --show prints
 * every answer ("answer N METHOD MS JSON").  Then:
 *
 *   calls=N errors=N connections=N
 *   min_ms=...  median_ms=...  p99_ms=...  (one per line)
 *   max_ms=...
 *
 * Exit 0 when every call got the answer it should, 1 otherwise, 2 on usage
 * or connection errors.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "libarmvm.h"

struct call_spec {
	const char *method;
	json_t *params;
};

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: rpc-latency [--socket PATH] [--count N] [--reconnect] [--timeout SEC]\n"
		"                   [--expect-error CODE] [--show] [METHOD[=JSON-PARAMS]]...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "count", required_argument, NULL, 'n' },
		{ "reconnect", no_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 't' },
		{ "expect-error", required_argument, NULL, 'e' },
		{ "show", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = NULL;
	long count = 100;
	bool reconnect = false, show = false, expect_err = false;
	double timeout_s = 10;
	int expect_code = 0, o, nspecs = 0, conns = 0, errors = 0, rc = 0;
	struct call_spec *specs;
	struct armvm *c = NULL;
	double *lat;
	long done = 0;

	while ((o = getopt_long(argc, argv, "s:n:rt:e:vh", opts, NULL)) != -1) {
		switch (o) {
		case 's': sock = optarg; break;
		case 'n': count = strtol(optarg, NULL, 10); break;
		case 'r': reconnect = true; break;
		case 't': timeout_s = strtod(optarg, NULL); break;
		case 'e': expect_err = true; expect_code = atoi(optarg); break;
		case 'v': show = true; break;
		default: usage();
		}
	}
	if (count < 1 || count > 10000000 || timeout_s <= 0)
		usage();
	specs = calloc((size_t)(argc - optind) + 2, sizeof(*specs));
	lat = calloc((size_t)count, sizeof(*lat));
	if (!specs || !lat)
		return 2;
	for (int i = optind; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		json_error_t jerr;

		specs[nspecs].method = argv[i];
		if (eq) {
			*eq = '\0';
			specs[nspecs].params = json_loads(eq + 1, 0, &jerr);
			if (!specs[nspecs].params) {
				fprintf(stderr, "rpc-latency: %s: bad JSON params: %s\n", argv[i], jerr.text);
				return 2;
			}
		}
		nspecs++;
	}
	if (!nspecs) {
		specs[nspecs++].method = "host.info";
		specs[nspecs++].method = "vm.list";
	}

	for (long i = 0; i < count; i++) {
		const struct call_spec *s = &specs[i % nspecs];
		struct armvm_error err = { 0 };
		json_t *res = NULL;
		double t = now_ms();
		int r, cerr = 0;

		if (!c) {
			c = armvm_connect(sock, &cerr);
			if (!c) {
				fprintf(stderr, "rpc-latency: connect %s: %s\n",
					sock ? sock : armvm_default_socket(), strerror(-cerr));
				rc = 2;
				break;
			}
			conns++;
		}
		r = armvm_call_timeout(c, s->method, s->params, &res, &err, (int)(timeout_s * 1000));
		lat[done] = now_ms() - t;
		if (r < 0) {
			printf("call %ld (%s): %s after %.1f ms\n", i + 1, s->method,
			       r == -ETIMEDOUT ? "no answer" : armvm_strerror(r, NULL), lat[done]);
			rc = 1;
			break;
		}
		done++;
		if (show) {
			json_t *a = r == ARMVM_OK ? json_incref(res)
				: json_pack("{s:{s:i, s:s, s:O*}}", "error", "code", err.code,
					    "message", err.message, "data", err.data);
			char *txt = json_dumps(a, JSON_COMPACT);

			printf("answer %ld %s %.3f %s\n", i + 1, s->method, lat[done - 1], txt ? txt : "?");
			free(txt);
			json_decref(a);
		}
		if (r == ARMVM_RPC_ERROR && (!expect_err || err.code != expect_code)) {
			printf("call %ld (%s): error %d: %s\n", i + 1, s->method, err.code, err.message);
			errors++;
		} else if (r == ARMVM_OK && expect_err) {
			printf("call %ld (%s): succeeded, expected error %d\n", i + 1, s->method,
			       expect_code);
			errors++;
		}
		json_decref(res);
		armvm_error_clear(&err);
		if (reconnect) {
			armvm_close(c);
			c = NULL;
		}
	}
	if (c)
		armvm_close(c);
	if (errors)
		rc = rc ? rc : 1;

	printf("calls=%ld errors=%d connections=%d\n", done, errors, conns);
	if (done) {
		qsort(lat, (size_t)done, sizeof(*lat), cmp_double);
		printf("min_ms=%.3f\n", lat[0]);
		printf("median_ms=%.3f\n", done % 2 ? lat[done / 2]
		       : (lat[done / 2 - 1] + lat[done / 2]) / 2);
		printf("p99_ms=%.3f\n", lat[(long)ceil(0.99 * (double)done) - 1]);
		printf("max_ms=%.3f\n", lat[done - 1]);
	} else {
		printf("max_ms=nan\n");
	}
	for (int i = 0; i < nspecs; i++)
		json_decref(specs[i].params);
	free(specs);
	free(lat);
	return rc;
}
