// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * anypinctl: flows, counters, blackholes and configuration of either
 * datapath, the module in this network namespace or a running anypind.
 * See docs/anypinctl.md and anypinctl(8).
 *
 * Values are judged by the datapath alone; the core's ap_conf_set(),
 * linked here too, only explains a refusal (and tells a refused value
 * from another failure of anypind).
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <anypin/stats.h>
#include "anypinctl.h"

#ifndef ANYPIN_VERSION
#define ANYPIN_VERSION	"unknown"
#endif
#define KEY_MAX		128
#define PFX		"net.anypin."

enum { EX_OK, EX_FAIL, EX_USAGE, EX_NONE = DP_EXIT_NONE };

static const char *prog = "anypinctl";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: anypinctl [options] COMMAND\n"
		"commands:\n"
		"  status [--json]                   the datapath, its state, the configuration\n"
		"  flows [--json]                    the flow table (/proc/net/anypin/flows)\n"
		"  stats [--json]                    the counters (/proc/net/anypin/stats)\n"
		"  blackholes [--json]               addresses whose paths drop anypin's SYNs\n"
		"                                    (/proc/net/anypin/blackholes)\n"
		"  blackholes flush                  forget them\n"
		"  get KEY                           one configuration key\n"
		"  set KEY VALUE                     set one key (runtime only)\n"
		"  prefix add NAME PREFIX [KEY VALUE]...   add a prefix, then set its keys\n"
		"  prefix set NAME KEY VALUE         set a key of a prefix\n"
		"  prefix del NAME                   remove a prefix\n"
		"options:\n"
		"  -s, --socket PATH   anypind's control socket (default $ANYPIND_SOCKET or %s)\n"
		"      --module        use anypin.ko (this network namespace's sysctls)\n"
		"      --anypind       use anypind\n"
		"  -j, --json          JSON output (status, flows, stats, blackholes)\n"
		"  -h, --help          this text\n"
		"  -V, --version       the version\n"
		"KEY: max_flows, net.anypin.max_flows or net/anypin/max_flows; per prefix\n"
		"(prefix set): enabled, role, responders, unicast, ports.\n"
		"Exit status: 0 done, 1 refused or failed, 2 usage, 3 no datapath.\n",
		DP_SOCK);
}

static void __attribute__((format(printf, 1, 2))) errmsg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

struct opts {
	const char *sock;
	int force;
	bool json;
};

/* One option at argv[*i]; 1 if taken, 0 if not an option, -1 on error. */
static int take_opt(int argc, char **argv, int *i, struct opts *o)
{
	const char *a = argv[*i];

	if (!strcmp(a, "-j") || !strcmp(a, "--json")) {
		o->json = true;
	} else if (!strcmp(a, "--module")) {
		o->force = DP_MODULE;
	} else if (!strcmp(a, "--anypind")) {
		o->force = DP_ANYPIND;
	} else if (!strcmp(a, "-s") || !strcmp(a, "--socket")) {
		if (*i + 1 >= argc) {
			errmsg("%s needs a path", a);
			return -1;
		}
		o->sock = argv[++*i];
	} else if (!strncmp(a, "--socket=", 9)) {
		o->sock = a + 9;
	} else if (!strncmp(a, "-s", 2) && a[2]) {
		o->sock = a + 2;
	} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
		usage(stdout);
		exit(EX_OK);
	} else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
		printf("anypinctl %s\n", ANYPIN_VERSION);
		exit(EX_OK);
	} else if (a[0] == '-' && a[1]) {
		errmsg("unknown option '%s' (see --help)", a);
		return -1;
	} else {
		return 0;
	}
	return 1;
}

static bool name_ok(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-");

	return n && !s[n] && n <= AP_NAME_MAX;
}

static bool in_list(const char *const *l, const char *s)
{
	for (; *l; l++)
		if (!strcmp(*l, s))
			return true;
	return false;
}

/*
 * "max_flows", "net.anypin.max_flows", "net/anypin/prefix/web/role" ->
 * "net.anypin....": 0, or -1 when no such key can exist.
 */
static int norm_key(const char *in, char *out, size_t size)
{
	char *k, *dot;
	size_t i;

	if (snprintf(out, size, "%s%s", strncmp(in, "net.anypin.", 11) &&
		     strncmp(in, "net/anypin/", 11) ? PFX : "", in) >= (int)size)
		return -1;
	for (i = 0; out[i]; i++)
		if (out[i] == '/')
			out[i] = '.';
	k = out + strlen(PFX);
	if (in_list(ap_conf_global_keys, k))
		return 0;
	if (strncmp(k, "prefix.", 7))
		return -1;
	k += 7;
	dot = strchr(k, '.');
	if (!dot)
		return -1;
	*dot = 0;
	if (!name_ok(k) || !in_list(ap_conf_prefix_keys, dot + 1)) {
		*dot = '.';
		return -1;
	}
	*dot = '.';
	return 0;
}

/*
 * The core's reason for refusing @val for @key, given the datapath's
 * prefix list @prefixes; NULL when the core takes it.
 */
static const char *local_why(const char *key, const char *val, const char *prefixes)
{
	static struct ap_conf c;
	const char *why = NULL;

	ap_conf_init(&c);
	if (prefixes && strcmp(key, PFX "prefixes") &&
	    ap_conf_set(&c, PFX "prefixes", strlen(PFX "prefixes"), prefixes,
			(u32)strlen(prefixes), NULL))
		return NULL;
	if (ap_conf_set(&c, key, (u32)strlen(key), val, (u32)strlen(val), &why))
		return why;
	return NULL;
}

static char cur_prefixes[AP_VALUE_MAX + 64];

static int get_prefixes(const struct dp *d)
{
	char err[512];

	if (dp_get(d, PFX "prefixes", cur_prefixes, sizeof(cur_prefixes), err, sizeof(err))) {
		errmsg("%s", err);
		return -1;
	}
	return 0;
}

/*
 * Sets @key on the datapath; on refusal says why. @item, if given, is what
 * to show instead of the whole value (the item of a prefix list).
 * @prefixes: the list in force for the check (for a prefix key).
 */
static int set_key(const struct dp *d, const char *key, const char *val, const char *item,
		   const char *prefixes)
{
	char why[1024], shown[256];
	const char *lw;
	int r;

	if (strpbrk(val, "\n\r")) {
		text_show(shown, sizeof(shown), val);
		errmsg("%s: invalid value '%s': contains a line break", key, shown);
		return -1;
	}
	r = dp_set(d, key, val, why, sizeof(why));
	if (!r)
		return 0;
	text_show(shown, sizeof(shown), item ? item : val);
	if (r < 0) {
		errmsg("%s: could not set '%s': %s", key, shown, why);
		return -1;
	}
	lw = local_why(key, val, prefixes);
	if (d->kind == DP_MODULE)
		errmsg("%s: invalid %s '%s'%s%s (refused by anypin.ko)", key,
		       item ? "item" : "value", shown, lw ? ": " : "", lw ? lw : "");
	else if (lw)
		errmsg("%s: invalid %s '%s': %s (refused by anypind)", key,
		       item ? "item" : "value", shown, why[0] ? why : lw);
	else
		errmsg("%s: could not set '%s': %s (anypind)", key, shown, why);
	return -1;
}

/* The next "name=prefix" item of a list at *@pos: its name's length, or 0. */
static size_t next_item(const char *l, size_t *pos, const char **item, size_t *ilen)
{
	size_t i = *pos + strspn(l + *pos, " \t");

	if (!l[i])
		return 0;
	*item = l + i;
	*ilen = strcspn(l + i, " \t");
	*pos = i + *ilen;
	return strcspn(*item, "=") < *ilen ? strcspn(*item, "=") : *ilen;
}

static bool has_prefix(const char *list, const char *name)
{
	const char *it;
	size_t pos = 0, il, nl;

	while ((nl = next_item(list, &pos, &it, &il)))
		if (nl == strlen(name) && !strncmp(it, name, nl))
			return true;
	return false;
}

static void dp_json(FILE *f, const struct dp *d)
{
	char ns[64];
	ssize_t n;

	fputs("{\"name\": ", f);
	json_str(f, d->name, strlen(d->name));
	if (d->kind == DP_ANYPIND) {
		fputs(", \"socket\": ", f);
		json_str(f, d->sock, strlen(d->sock));
		if (d->pid)
			fprintf(f, ", \"pid\": %ld", d->pid);
	} else {
		n = readlink("/proc/self/ns/net", ns, sizeof(ns) - 1);
		if (n > 0) {
			fputs(", \"netns\": ", f);
			json_str(f, ns, (size_t)n);
		}
	}
	fputs(", \"text\": ", f);
	json_str(f, d->text, strlen(d->text));
	fputc('}', f);
}

static const char *const flow_strcols[] = {
	"role", "prefix", "state", "addr", "anycast", "unicast", NULL
};
static const char *const stats_strcols[] = { "prefix", NULL };
static const char *const bh_strcols[] = { "addr", NULL };

/* flows, stats, blackholes: the table as the datapath gives it, or as JSON. */
static int cmd_table(const struct dp *d, const char *what, bool json)
{
	bool flows = !strcmp(what, "flows"), stats = !strcmp(what, "stats");
	const char *const *strcols = flows ? flow_strcols : stats ? stats_strcols : bh_strcols;
	char *text, err[512];
	struct tab t;
	size_t len, r, nr;
	int total = -1;

	if (dp_read(d, what, &text, &len, err, sizeof(err))) {
		errmsg("%s", err);
		return EX_FAIL;
	}
	if (tab_parse(&t, text, len, err, sizeof(err))) {
		errmsg("%s: %s", what, err);
		free(text);
		return EX_FAIL;
	}
	if (!json) {
		printf("# datapath: %s\n", d->text);
		fwrite(text, 1, len, stdout);
	} else {
		fputs("{\"datapath\": ", stdout);
		dp_json(stdout, d);
		nr = t.nrows;
		if (stats && nr && !strcmp(tab_cell(&t, nr - 1, 0), AP_STATS_TOTAL))
			total = (int)--nr;
		printf(", \"%s\": [", stats ? "prefixes" : what);
		for (r = 0; r < nr; r++) {
			fputs(r ? ",\n  " : "\n  ", stdout);
			json_row(stdout, &t, r, strcols);
		}
		fputs(nr ? "\n]" : "]", stdout);
		if (total >= 0) {
			fputs(", \"total\": ", stdout);
			json_row(stdout, &t, (size_t)total, strcols);
		}
		fputs("}\n", stdout);
	}
	tab_free(&t);
	free(text);
	return EX_OK;
}

/* "key value" lines of anypind's status, in text or into a JSON object. */
static void status_lines(char *text, bool json)
{
	char *l, *nl, *sp;
	bool first = true;

	for (l = text; l && *l; l = nl) {
		nl = strchr(l, '\n');
		if (nl)
			*nl++ = 0;
		if (!*l)
			continue;
		if (!json) {
			printf("%s\n", l);
			continue;
		}
		sp = strchr(l, ' ');
		if (sp)
			*sp++ = 0;
		fputs(first ? "\n  " : ",\n  ", stdout);
		first = false;
		json_str(stdout, l, strlen(l));
		fputs(": ", stdout);
		json_value(stdout, sp ? sp : "", true);
	}
}

/* The stats table's total flows, or -1. */
static long long total_flows(const struct dp *d)
{
	char *text, err[512];
	struct tab t;
	size_t len;
	long long v = -1;
	int r, c;

	if (dp_read(d, "stats", &text, &len, err, sizeof(err)))
		return -1;
	if (!tab_parse(&t, text, len, err, sizeof(err))) {
		r = tab_find_row(&t, AP_STATS_TOTAL);
		c = tab_col(&t, "flows");
		if (r >= 0 && c >= 0 && json_is_uint(tab_cell(&t, r, c)))
			v = strtoll(tab_cell(&t, r, c), NULL, 10);
		tab_free(&t);
	}
	free(text);
	return v;
}

static int print_key(const struct dp *d, const char *key, bool json, bool *first)
{
	char val[AP_VALUE_MAX + 64], err[512];

	if (dp_get(d, key, val, sizeof(val), err, sizeof(err))) {
		errmsg("%s", err);
		return -1;
	}
	if (!json) {
		printf("%s = %s\n", key, val);
		return 0;
	}
	fputs(*first ? "\n  " : ",\n  ", stdout);
	*first = false;
	json_str(stdout, key, strlen(key));
	fputs(": ", stdout);
	json_str(stdout, val, strlen(val));
	return 0;
}

/* Every key, in sysctl's order, as "key = value" or JSON members. */
static int print_config(const struct dp *d, bool json)
{
	char key[KEY_MAX], name[AP_NAME_MAX + 1];
	const char *it;
	bool first = true;
	size_t pos = 0, il, nl;
	int i;

	if (get_prefixes(d))
		return -1;
	for (i = 0; ap_conf_global_keys[i]; i++) {
		snprintf(key, sizeof(key), PFX "%s", ap_conf_global_keys[i]);
		if (print_key(d, key, json, &first))
			return -1;
	}
	while ((nl = next_item(cur_prefixes, &pos, &it, &il))) {
		snprintf(name, sizeof(name), "%.*s", (int)nl, it);
		for (i = 0; ap_conf_prefix_keys[i]; i++) {
			snprintf(key, sizeof(key), PFX "prefix.%s.%s", name, ap_conf_prefix_keys[i]);
			if (print_key(d, key, json, &first))
				return -1;
		}
	}
	return 0;
}

static int cmd_status(const struct dp *d, bool json)
{
	char *text = NULL, err[512], ns[64];
	long long flows;
	ssize_t n;

	if (d->kind == DP_ANYPIND && dp_read(d, "status", &text, NULL, err, sizeof(err))) {
		errmsg("%s", err);
		return EX_FAIL;
	}
	if (json) {
		fputs("{\"datapath\": ", stdout);
		dp_json(stdout, d);
		fputs(", \"status\": {", stdout);
	} else {
		printf("datapath: %s\n", d->text);
	}
	if (text) {
		status_lines(text, json);
		free(text);
	} else {
		n = readlink("/proc/self/ns/net", ns, sizeof(ns) - 1);
		ns[n > 0 ? n : 0] = 0;
		flows = total_flows(d);
		if (json) {
			fputs("\n  \"netns\": ", stdout);
			json_str(stdout, ns, strlen(ns));
			if (flows >= 0)
				printf(",\n  \"flows\": %lld", flows);
		} else {
			printf("netns %s\n", ns);
			if (flows >= 0)
				printf("flows %lld\n", flows);
		}
	}
	if (json)
		fputs("\n}, \"config\": {", stdout);
	else
		putchar('\n');
	if (print_config(d, json)) {
		if (json)
			fputs("}}\n", stdout);
		return EX_FAIL;
	}
	if (json)
		fputs("\n}}\n", stdout);
	return EX_OK;
}

static int cmd_flush(const struct dp *d)
{
	char err[512];

	if (dp_flush_blackholes(d, err, sizeof(err))) {
		errmsg("blackholes flush: %s", err);
		return EX_FAIL;
	}
	return EX_OK;
}

static int cmd_get(const struct dp *d, const char *key)
{
	char val[AP_VALUE_MAX + 64], err[512];

	if (dp_get(d, key, val, sizeof(val), err, sizeof(err))) {
		errmsg("%s", err);
		return EX_FAIL;
	}
	printf("%s\n", val);
	return EX_OK;
}

static int cmd_set(const struct dp *d, const char *key, const char *val)
{
	if (!strncmp(key, PFX "prefix.", strlen(PFX "prefix.")) && get_prefixes(d))
		return EX_FAIL;
	return set_key(d, key, val, NULL, cur_prefixes) ? EX_FAIL : EX_OK;
}

static int cmd_prefix_add(const struct dp *d, const char *name, const char *prefix,
			  int nkv, char **kv)
{
	char old[sizeof(cur_prefixes)], *list, *item, key[KEY_MAX], err[1024];
	int i;

	if (get_prefixes(d))
		return EX_FAIL;
	if (has_prefix(cur_prefixes, name)) {
		errmsg("prefix '%s' exists already ('prefix set %s KEY VALUE' changes it, "
		       "'prefix del %s' removes it)", name, name, name);
		return EX_FAIL;
	}
	strcpy(old, cur_prefixes);
	if (asprintf(&item, "%s=%s", name, prefix) < 0 ||
	    asprintf(&list, "%s%s%s", old, old[0] ? " " : "", item) < 0) {
		errmsg("out of memory");
		return EX_FAIL;
	}
	if (set_key(d, PFX "prefixes", list, item, NULL)) {
		free(item);
		free(list);
		return EX_FAIL;
	}
	for (i = 0; i + 1 < nkv; i += 2) {
		snprintf(key, sizeof(key), PFX "prefix.%s.%s", name, kv[i]);
		if (set_key(d, key, kv[i + 1], NULL, list))
			break;
	}
	free(item);
	free(list);
	if (i + 1 >= nkv)
		return EX_OK;
	/* Writing the old list back removes the name with its settings. */
	if (dp_set(d, PFX "prefixes", old, err, sizeof(err))) {
		errmsg("putting back %s = '%s' failed: %s", PFX "prefixes", old, err);
		return EX_FAIL;
	}
	errmsg("prefix '%s' not added", name);
	return EX_FAIL;
}

static int cmd_prefix_del(const struct dp *d, const char *name)
{
	char list[sizeof(cur_prefixes)];
	const char *it;
	size_t pos = 0, il, nl, o = 0;

	if (get_prefixes(d))
		return EX_FAIL;
	if (!has_prefix(cur_prefixes, name)) {
		errmsg("no prefix '%s'", name);
		return EX_FAIL;
	}
	while ((nl = next_item(cur_prefixes, &pos, &it, &il))) {
		if (nl == strlen(name) && !strncmp(it, name, nl))
			continue;
		o += snprintf(list + o, sizeof(list) - o, "%s%.*s", o ? " " : "", (int)il, it);
	}
	list[o] = 0;
	return set_key(d, PFX "prefixes", list, NULL, NULL) ? EX_FAIL : EX_OK;
}

static int cmd_prefix_set(const struct dp *d, const char *name, const char *k,
			  const char *val)
{
	char key[KEY_MAX];

	if (get_prefixes(d))
		return EX_FAIL;
	if (!has_prefix(cur_prefixes, name)) {
		errmsg("no prefix '%s' ('prefix add %s PREFIX' adds it)", name, name);
		return EX_FAIL;
	}
	snprintf(key, sizeof(key), PFX "prefix.%s.%s", name, k);
	return set_key(d, key, val, NULL, cur_prefixes) ? EX_FAIL : EX_OK;
}

/* The rest of the arguments as one value, blank-separated. */
static char *join(int n, char **a)
{
	size_t len = 1;
	char *s;
	int i;

	for (i = 0; i < n; i++)
		len += strlen(a[i]) + 1;
	s = malloc(len);
	if (!s)
		return NULL;
	s[0] = 0;
	for (i = 0; i < n; i++) {
		if (i)
			strcat(s, " ");
		strcat(s, a[i]);
	}
	return s;
}

static int bad_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", prog);
	fprintf(stderr, fmt, arg);
	fputs(" (see --help)\n", stderr);
	return EX_USAGE;
}

/* Checks a command's arguments before any datapath is asked. */
static int check_args(const char *cmd, int n, char **a)
{
	char key[KEY_MAX];
	int i;

	if (!strcmp(cmd, "get") || !strcmp(cmd, "set")) {
		if (n < 1 || (!strcmp(cmd, "get") && n != 1) || (!strcmp(cmd, "set") && n < 2))
			return bad_usage("%s: wrong number of arguments", cmd);
		if (norm_key(a[0], key, sizeof(key)))
			return bad_usage("unknown key '%s'", a[0]);
		return 0;
	}
	if (strcmp(cmd, "prefix"))
		return bad_usage("unknown command '%s'", cmd);
	if (n < 1)
		return bad_usage("%s: add, set or del?", cmd);
	if (!strcmp(a[0], "add")) {
		if (n < 3 || (n - 3) % 2)
			return bad_usage("%s", "prefix add NAME PREFIX [KEY VALUE]...");
		/* It becomes one item of a blank-separated list. */
		if (!a[2][0] || strpbrk(a[2], " \t\r\n"))
			return bad_usage("prefix '%s': one address/length, no blanks", a[2]);
		for (i = 3; i < n; i += 2)
			if (!in_list(ap_conf_prefix_keys, a[i]))
				return bad_usage("unknown prefix key '%s' (enabled, role, "
						 "responders, unicast, ports)", a[i]);
	} else if (!strcmp(a[0], "set")) {
		if (n < 4)
			return bad_usage("%s", "prefix set NAME KEY VALUE");
		if (!in_list(ap_conf_prefix_keys, a[2]))
			return bad_usage("unknown prefix key '%s' (enabled, role, responders, "
					 "unicast, ports)", a[2]);
	} else if (!strcmp(a[0], "del")) {
		if (n != 2)
			return bad_usage("%s", "prefix del NAME");
	} else {
		return bad_usage("prefix %s: add, set or del?", a[0]);
	}
	if (!name_ok(a[1]))
		return bad_usage("bad prefix name '%s' (1 to 15 of a-z 0-9 _ -)", a[1]);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { NULL, 0, false };
	char err[1024], key[KEY_MAX], *val;
	bool flush = false;
	const char *cmd;
	struct dp d;
	int i = 1, r, n;
	char **a;

	o.sock = getenv("ANYPIND_SOCKET");
	if (!o.sock || !*o.sock)
		o.sock = DP_SOCK;
	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		}
		r = take_opt(argc, argv, &i, &o);
		if (r < 0)
			return EX_USAGE;
		if (!r)
			break;
	}
	if (i >= argc) {
		usage(stderr);
		return EX_USAGE;
	}
	cmd = argv[i++];
	a = argv + i;
	n = argc - i;
	if (!strcmp(cmd, "status") || !strcmp(cmd, "flows") || !strcmp(cmd, "stats") ||
	    !strcmp(cmd, "blackholes")) {
		/* No arguments of their own but "flush": options may follow. */
		for (i = 0; i < n; i++) {
			if (!strcmp(cmd, "blackholes") && !flush && !strcmp(a[i], "flush")) {
				flush = true;
				continue;
			}
			r = take_opt(n, a, &i, &o);
			if (r < 0)
				return EX_USAGE;
			if (!r)
				return bad_usage("unexpected argument '%s'", a[i]);
		}
	} else if ((r = check_args(cmd, n, a))) {
		return r;
	}
	if (dp_select(&d, o.force, o.sock, err, sizeof(err))) {
		errmsg("%s", err);
		return EX_NONE;
	}
	if (!strcmp(cmd, "status"))
		return cmd_status(&d, o.json);
	if (flush)
		return cmd_flush(&d);
	if (!strcmp(cmd, "flows") || !strcmp(cmd, "stats") || !strcmp(cmd, "blackholes"))
		return cmd_table(&d, cmd, o.json);
	if (!strcmp(cmd, "get") || !strcmp(cmd, "set")) {
		norm_key(a[0], key, sizeof(key));
		if (!strcmp(cmd, "get"))
			return cmd_get(&d, key);
		val = join(n - 1, a + 1);
		if (!val) {
			errmsg("out of memory");
			return EX_FAIL;
		}
		r = cmd_set(&d, key, val);
		free(val);
		return r;
	}
	if (!strcmp(a[0], "add"))
		return cmd_prefix_add(&d, a[1], a[2], n - 3, a + 3);
	if (!strcmp(a[0], "del"))
		return cmd_prefix_del(&d, a[1]);
	val = join(n - 3, a + 3);
	if (!val) {
		errmsg("out of memory");
		return EX_FAIL;
	}
	r = cmd_prefix_set(&d, a[1], a[2], val);
	free(val);
	return r;
}
