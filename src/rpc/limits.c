// SPDX-License-Identifier: MIT
/* The bounds of src/rpc/limits.h: defaults, parsing, JSON, the fd limit. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "rpc/limits.h"
#include "util/log.h"

enum limit_kind { LK_BYTES, LK_COUNT, LK_SECONDS, LK_RATIO };

struct limit_desc {
	const char *field;		/* max_line; the option is max-line */
	enum limit_kind kind;
	size_t off;
	double def, lo, hi;
	const char *doc;
};

static const struct limit_desc descs[] = {
#define LIMIT_DESC(f, kind, d, l, h, text) \
	{ #f, LK_##kind, offsetof(struct armvmd_limits, f), (d), (l), (h), text },
	ARMVMD_LIMITS(LIMIT_DESC)
#undef LIMIT_DESC
};
#define NDESCS (sizeof(descs) / sizeof(descs[0]))

static const struct armvmd_limits defaults = {
#define LIMIT_INIT(f, kind, d, l, h, text) .f = (LIMIT_CTYPE_##kind)(d),
	ARMVMD_LIMITS(LIMIT_INIT)
#undef LIMIT_INIT
};

const struct armvmd_limits *limits_defaults(void)
{
	return &defaults;
}

void limits_default(struct armvmd_limits *l)
{
	*l = defaults;
}

static double get(const struct armvmd_limits *l, const struct limit_desc *d)
{
	const char *p = (const char *)l + d->off;

	switch (d->kind) {
	case LK_BYTES: return (double)*(const uint64_t *)(const void *)p;
	case LK_COUNT: return *(const unsigned *)(const void *)p;
	default:       return *(const double *)(const void *)p;
	}
}

static void put(struct armvmd_limits *l, const struct limit_desc *d, double v)
{
	char *p = (char *)l + d->off;

	switch (d->kind) {
	case LK_BYTES: *(uint64_t *)(void *)p = (uint64_t)v; break;
	case LK_COUNT: *(unsigned *)(void *)p = (unsigned)v; break;
	default:       *(double *)(void *)p = v; break;
	}
}

/* the field in kebab-case, without the "_s" of seconds: idle-partial */
static void option_name(const struct limit_desc *d, char *buf, size_t len)
{
	size_t i;

	for (i = 0; d->field[i] && i + 1 < len; i++)
		buf[i] = d->field[i] == '_' ? '-' : d->field[i];
	buf[i] = '\0';
	if (d->kind == LK_SECONDS && i > 2 && !strcmp(buf + i - 2, "-s"))
		buf[i - 2] = '\0';
}

/* "idle-partial", "idle-partial-s" and "idle_partial_s" name idle_partial_s */
static const struct limit_desc *find(const char *name)
{
	char opt[64], norm[64];
	size_t i;

	for (i = 0; name[i] && i + 1 < sizeof(norm); i++)
		norm[i] = name[i] == '_' ? '-' : name[i];
	norm[i] = '\0';
	for (i = 0; i < NDESCS; i++) {
		option_name(&descs[i], opt, sizeof(opt));
		if (!strcmp(norm, opt))
			return &descs[i];
		if (descs[i].kind == LK_SECONDS && !strncmp(norm, opt, strlen(opt)) &&
		    !strcmp(norm + strlen(opt), "-s"))
			return &descs[i];
	}
	return NULL;
}

/* a plain decimal number (no sign, exponent, hex, inf); *end after it */
static int parse_decimal(const char *s, double *v, const char **end)
{
	size_t n = strspn(s, "0123456789.");
	char num[32], *e;

	if (!n || n >= sizeof(num) || !isdigit((unsigned char)s[strspn(s, ".")]))
		return -1;
	memcpy(num, s, n);
	num[n] = '\0';
	*v = strtod(num, &e);
	if (*e)
		return -1;
	*end = s + n;
	return 0;
}

/* 16M, 16MiB, 16m, 1048576, 1.5G: bytes (whole) */
static int parse_bytes(const char *s, double *v)
{
	const char *end;
	double x, mult = 1;

	if (parse_decimal(s, &x, &end) < 0)
		return -1;
	switch (toupper((unsigned char)*end)) {
	case 'K': mult = LIMIT_K; end++; break;
	case 'M': mult = LIMIT_M; end++; break;
	case 'G': mult = LIMIT_G; end++; break;
	case 'T': mult = LIMIT_T; end++; break;
	}
	if (mult > 1 && *end == 'i')
		end++;
	if (*end == 'B' || (*end == 'b' && mult > 1))
		end++;
	if (*end)
		return -1;
	x *= mult;
	if (x != floor(x))
		return -1;
	*v = x;
	return 0;
}

static int parse_count(const char *s, double *v)
{
	char *end;
	unsigned long long x;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	x = strtoull(s, &end, 10);
	if (errno || *end)
		return -1;
	*v = (double)x;
	return 0;
}

/* 30, 30s, 1.5, 250ms */
static int parse_seconds(const char *s, double *v, bool suffix)
{
	const char *end;
	double x;

	if (parse_decimal(s, &x, &end) < 0)
		return -1;
	if (suffix && !strcmp(end, "ms")) {
		x /= 1000;
		end += 2;
	} else if (suffix && !strcmp(end, "s")) {
		end++;
	}
	if (*end || !isfinite(x))
		return -1;
	*v = x;
	return 0;
}

static void format_value(const struct limit_desc *d, double v, char *buf,
			 size_t len)
{
	static const struct { double mult; const char *suffix; } units[] = {
		{ LIMIT_T, "T" }, { LIMIT_G, "G" }, { LIMIT_M, "M" }, { LIMIT_K, "K" },
	};

	if (d->kind == LK_BYTES && v > 0) {
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (fmod(v, units[i].mult) == 0) {
				snprintf(buf, len, "%.0f%s", v / units[i].mult,
					 units[i].suffix);
				return;
			}
	}
	if (d->kind == LK_SECONDS)
		snprintf(buf, len, "%gs", v);
	else
		snprintf(buf, len, "%.15g", v);
}

int limits_set(struct armvmd_limits *l, const char *name, const char *value,
	       char *why, size_t len)
{
	const struct limit_desc *d = find(name);
	char opt[64], lo[32], hi[32];
	double v = 0;
	int r;

	if (!d) {
		snprintf(why, len, "unknown limit '%s' (armvmd --limit help lists them)",
			 name);
		return -1;
	}
	option_name(d, opt, sizeof(opt));
	switch (d->kind) {
	case LK_BYTES:   r = parse_bytes(value, &v); break;
	case LK_COUNT:   r = parse_count(value, &v); break;
	case LK_SECONDS: r = parse_seconds(value, &v, true); break;
	default:         r = parse_seconds(value, &v, false); break;
	}
	if (r < 0) {
		snprintf(why, len, "%s: '%s' is not %s", opt, value,
			 d->kind == LK_BYTES ? "a size (bytes, or with K, M, G, T)" :
			 d->kind == LK_COUNT ? "a whole number" :
			 d->kind == LK_SECONDS ? "a number of seconds" : "a number");
		return -1;
	}
	if (v < d->lo || v > d->hi) {
		format_value(d, d->lo, lo, sizeof(lo));
		format_value(d, d->hi, hi, sizeof(hi));
		snprintf(why, len, "%s: %s is out of range (%s to %s)", opt, value,
			 lo, hi);
		return -1;
	}
	put(l, d, v);
	return 0;
}

int limits_parse(struct armvmd_limits *l, const char *assignment,
		 char *why, size_t len)
{
	const char *eq = strchr(assignment, '=');
	char name[64];

	if (!eq || eq == assignment || (size_t)(eq - assignment) >= sizeof(name)) {
		snprintf(why, len, "'%s': expected NAME=VALUE", assignment);
		return -1;
	}
	snprintf(name, sizeof(name), "%.*s", (int)(eq - assignment), assignment);
	return limits_set(l, name, eq + 1, why, len);
}

int limits_check(const struct armvmd_limits *l, char *why, size_t len)
{
	/* an answer may come on top of pause-output: it must not be fatal */
	if (l->max_buffered < l->pause_output + l->max_answer) {
		snprintf(why, len, "max-buffered (%llu) must be at least pause-output "
			 "+ max-answer (%llu)", (unsigned long long)l->max_buffered,
			 (unsigned long long)(l->pause_output + l->max_answer));
		return -1;
	}
	return 0;
}

json_t *limits_to_json(const struct armvmd_limits *l)
{
	json_t *o = json_object();
	char opt[64];

	for (size_t i = 0; i < NDESCS; i++) {
		const struct limit_desc *d = &descs[i];
		double v = get(l, d);

		option_name(d, opt, sizeof(opt));
		json_object_set_new(o, opt, d->kind == LK_SECONDS || d->kind == LK_RATIO
				    ? json_real(v) : json_integer((json_int_t)v));
	}
	return o;
}

void limits_print(FILE *f)
{
	char opt[64], def[32], lo[32], hi[32];

	for (size_t i = 0; i < NDESCS; i++) {
		const struct limit_desc *d = &descs[i];

		option_name(d, opt, sizeof(opt));
		format_value(d, d->def, def, sizeof(def));
		format_value(d, d->lo, lo, sizeof(lo));
		format_value(d, d->hi, hi, sizeof(hi));
		fprintf(f, "%-22s %-6s (%s..%s)\n    %s\n", opt, def, lo, hi, d->doc);
	}
}

static uint64_t mem_total(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	unsigned long long kb = 0;
	char line[128];

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return (uint64_t)kb * 1024;
}

uint64_t limits_guest_mem(const struct armvmd_limits *l, bool per_uid)
{
	uint64_t set = per_uid ? l->max_guest_mem_per_uid : l->max_guest_mem;

	return set ? set : (uint64_t)((double)mem_total() * l->overcommit);
}

/* descriptors beyond the clients: per VM a pidfd, the event and console
 * links, a status pipe, a call in flight; and the daemon's own */
#define NOFILE_PER_VM	6
#define NOFILE_RESERVE	128

unsigned long limits_fit_nofile(const struct armvmd_limits *l)
{
	rlim_t need = (rlim_t)l->max_clients + (rlim_t)l->max_vms * NOFILE_PER_VM +
		      NOFILE_RESERVE;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need
			      ? need : rl.rlim_max;
		struct rlimit n = { want, rl.rlim_max };

		if (want > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &n) == 0)
			rl.rlim_cur = want;
		if (rl.rlim_cur < need)
			log_warn("only %llu file descriptors (RLIMIT_NOFILE) for "
				 "max-clients %u and max-vms %u (want %llu): past them "
				 "new connections wait (raise LimitNOFILE)",
				 (unsigned long long)rl.rlim_cur, l->max_clients,
				 l->max_vms, (unsigned long long)need);
	}
	return (unsigned long)rl.rlim_cur;
}
