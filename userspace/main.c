// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * anypind: options, signals and the main loop. See docs/anypind.md.
 *
 * Start-up order matters for "a bad config changes nothing": the file is
 * read and checked before anything is touched. Then the control socket
 * (refusing a second anypind on the same path), the raw sockets, the queue
 * (refusing a queue another program holds, before touching any set), the
 * sets, and only then the rules that send packets to the queue. Shutdown
 * goes the other way: rules first, then the packets still queued get their
 * verdicts, then the sets go.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include "anypind.h"
#include "conf.h"
#include "ctl.h"
#include "ipset.h"
#include "queue.h"
#include "raw.h"
#include "rules.h"
#include "table.h"
#include "util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: anypind [options]\n"
		"  -c, --config FILE     configuration, sysctl.d syntax (default %s)\n"
		"  -s, --socket PATH     control socket (default %s)\n"
		"  -q, --queue N         NFQUEUE number (default %u)\n"
		"      --no-rules        install no iptables rules; print those needed\n"
		"      --print-rules     print the rules for the configuration and exit\n"
		"  -t, --check           check the configuration and exit\n"
		"      --iptables CMD    iptables command (default iptables)\n"
		"      --ip6tables CMD   ip6tables command (default ip6tables)\n"
		"  -v, --verbose         log each decision on a packet\n"
		"  -h, --help            this text\n"
		"  -V, --version         the version\n"
		"Signals: SIGHUP reloads the configuration, SIGTERM/SIGINT stop.\n",
		ANYPIND_CONF, ANYPIND_SOCK, ANYPIND_QUEUE);
}

struct opts {
	const char *conf, *sock;
	struct rules_cmd rc;
	bool no_rules, print_rules, check;
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
	enum { O_NO_RULES = 256, O_PRINT_RULES, O_IPT, O_IP6T };
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "queue", required_argument, NULL, 'q' },
		{ "no-rules", no_argument, NULL, O_NO_RULES },
		{ "print-rules", no_argument, NULL, O_PRINT_RULES },
		{ "check", no_argument, NULL, 't' },
		{ "iptables", required_argument, NULL, O_IPT },
		{ "ip6tables", required_argument, NULL, O_IP6T },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	unsigned long q;
	int c;

	o->conf = ANYPIND_CONF;
	o->sock = ANYPIND_SOCK;
	o->rc.ipt = "iptables";
	o->rc.ip6t = "ip6tables";
	o->rc.queue = ANYPIND_QUEUE;
	while ((c = getopt_long(argc, argv, "c:s:q:tvhV", lo, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->conf = optarg;
			break;
		case 's':
			o->sock = optarg;
			break;
		case 'q':
			errno = 0;
			q = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || q > 65535) {
				logmsg("bad queue number '%s' (0 to 65535)", optarg);
				return 2;
			}
			o->rc.queue = (u16)q;
			break;
		case O_NO_RULES:
			o->no_rules = true;
			break;
		case O_PRINT_RULES:
			o->print_rules = true;
			break;
		case 't':
			o->check = true;
			break;
		case O_IPT:
			o->rc.ipt = optarg;
			break;
		case O_IP6T:
			o->rc.ip6t = optarg;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("anypind %s\n", ANYPIND_VERSION);
			exit(0);
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		logmsg("unexpected argument '%s'", argv[optind]);
		return 2;
	}
	return 0;
}

static void print_rules(const struct rules_cmd *rc, const struct ap_conf *c, FILE *f)
{
	fprintf(f, "# %s-restore --noflush\n", rc->ipt);
	rules_text(rc, c, 4, f);
	fprintf(f, "# %s-restore --noflush\n", rc->ip6t);
	rules_text(rc, c, 6, f);
	fflush(f);
}

/* The kernel sets hold the endpoints the table holds flows of. */
static void endpoint_first(void *arg, const struct ap_key *k)
{
	(void)arg;
	ipset_op(true, k->role, &k->addr, k->port);
}

static void endpoint_last(void *arg, const struct ap_key *k)
{
	(void)arg;
	ipset_op(false, k->role, &k->addr, k->port);
}

static const struct table_endpoints endpoints = {
	.first = endpoint_first,
	.last = endpoint_last,
};

struct state {
	struct opts o;
	struct ap_conf *conf;
	struct table *table;
	struct ctl_info ci;
	bool rules;
};

/*
 * Makes @n the running configuration: its rules, the counters and flows
 * remapped to its prefixes by name. On failure (@err set, @what names the
 * caller in the log) nothing changed and @n is freed.
 */
static int take_conf(struct state *s, struct ap_conf *n, const char *what,
		     char *err, size_t errlen)
{
	u8 remap[AP_MAX_PREFIXES];
	char e[512];
	int i, j;

	if (s->rules && rules_install(&s->o.rc, n, err, errlen)) {
		/* One family may have taken the new rules: put the old back. */
		if (rules_install(&s->o.rc, s->conf, e, sizeof(e)))
			logmsg("%s: restoring the rules: %s", what, e);
		free(n);
		return -1;
	}
	for (i = 0; i < s->conf->nprefixes; i++) {
		j = ap_conf_find(n, s->conf->prefixes[i].name,
				 strlen(s->conf->prefixes[i].name));
		remap[i] = j < 0 ? AP_MAX_PREFIXES : (u8)j;
	}
	table_set_conf(s->table, n, remap);
	free(s->conf);
	s->conf = n;
	s->ci.conf = n;
	if (!s->rules) {
		logmsg("rules are the operator's (--no-rules); these are needed now:");
		print_rules(&s->o.rc, n, stdout);
	}
	return 0;
}

/* SIGHUP: a good file replaces the configuration, flows stay. */
static void reload(struct state *s)
{
	struct ap_conf *n = malloc(sizeof(*n));
	char err[512];

	if (!n) {
		logmsg("reload: out of memory; keeping the running configuration");
		s->ci.reload_errors++;
		return;
	}
	if (conf_load(s->o.conf, n, err, sizeof(err))) {
		logmsg("reload: %s; keeping the running configuration", err);
		s->ci.reload_errors++;
		free(n);
		return;
	}
	if (take_conf(s, n, "reload", err, sizeof(err))) {
		logmsg("reload: %s; keeping the running configuration", err);
		s->ci.reload_errors++;
		return;
	}
	s->ci.reloads++;
	logmsg("reloaded %s: %u prefixes, %u flows kept", s->o.conf, s->conf->nprefixes,
	       table_count(s->table));
}

/*
 * The control socket's "set KEY VALUE": one key through the core's
 * ap_conf_set() on a copy, as one sysctl write changes the module (and,
 * as there, without the whole-configuration checks: a responder's role
 * comes before its unicast address). Runtime only: SIGHUP reads the file.
 */
static int set_key(void *arg, const char *key, const char *val, char *err, size_t errlen)
{
	struct state *s = arg;
	struct ap_conf *n = malloc(sizeof(*n));
	const char *why = NULL;

	if (!n) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memcpy(n, s->conf, sizeof(*n));
	if (ap_conf_set(n, key, (u32)strlen(key), val, (u32)strlen(val), &why)) {
		snprintf(err, errlen, "%s", why);
		free(n);
		return -1;
	}
	if (take_conf(s, n, "set", err, errlen)) {
		logmsg("set %.100s: %s; keeping the running configuration", key, err);
		return -1;
	}
	logmsg("set %.100s = %.200s (control socket; until the next reload)", key, val);
	return 0;
}

#define NPOLL	24

static int loop(struct state *s, int sfd)
{
	struct pollfd pfd[NPOLL];
	struct signalfd_siginfo si;
	u32 last_sweep = now_sec();
	int n, nctl;

	for (;;) {
		pfd[0].fd = sfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = queue_fd();
		pfd[1].events = POLLIN;
		pfd[2].fd = ipset_fd();
		pfd[2].events = POLLIN;
		nctl = ctl_pollfds(pfd + 3, NPOLL - 3);
		n = poll(pfd, 3 + nctl, 1000);
		if (n < 0 && errno != EINTR) {
			logmsg("poll: %s", strerror(errno));
			return 1;
		}
		if (n > 0 && (pfd[1].revents & POLLIN))
			queue_run(s->conf, s->table);
		if (n > 0 && (pfd[2].revents & POLLIN))
			ipset_drain();
		if (now_sec() != last_sweep) {
			last_sweep = now_sec();
			table_set_now(s->table, last_sweep);
			table_sweep(s->table);
			ipset_flush();
		}
		ctl_run(pfd + 3, n > 0 ? nctl : 0, &s->ci);
		if (n > 0 && (pfd[0].revents & POLLIN) &&
		    read(sfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGHUP)
				reload(s);
			else
				return 0;
		}
	}
}

int main(int argc, char **argv)
{
	struct state s;
	char err[512];
	sigset_t sigs;
	int ret, sfd;

	memset(&s, 0, sizeof(s));
	ret = parse_opts(argc, argv, &s.o);
	if (ret)
		return ret;
	s.conf = malloc(sizeof(*s.conf));
	if (!s.conf) {
		logmsg("out of memory");
		return 1;
	}
	if (conf_load(s.o.conf, s.conf, err, sizeof(err))) {
		fprintf(stderr, "anypind: %s\n", err);
		return 1;
	}
	if (s.o.check) {
		printf("%s: ok, %u prefixes\n", s.o.conf, s.conf->nprefixes);
		return 0;
	}
	if (s.o.print_rules) {
		print_rules(&s.o.rc, s.conf, stdout);
		return 0;
	}

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		logmsg("signalfd: %s", strerror(errno));
		return 1;
	}

	s.table = table_new(s.conf, &endpoints);
	if (!s.table) {
		logmsg("out of memory");
		return 1;
	}
	if (ctl_open(s.o.sock, err, sizeof(err))) {
		logmsg("%s", err);
		return 1;
	}
	ret = 1;
	if (raw_open())
		logmsg("warning: no raw socket (%s): losing responders get no RST",
		       strerror(errno));
	/* The queue first: if another anypind holds it, touch none of its sets. */
	if (queue_open(s.o.rc.queue, err, sizeof(err)) || ipset_open(err, sizeof(err)) ||
	    ipset_setup(err, sizeof(err))) {
		logmsg("%s", err);
		goto out;
	}
	if (s.o.no_rules) {
		logmsg("--no-rules: install these rules yourself:");
		print_rules(&s.o.rc, s.conf, stdout);
	} else {
		if (rules_install(&s.o.rc, s.conf, err, sizeof(err))) {
			logmsg("%s", err);
			rules_remove(&s.o.rc);
			goto out;
		}
		s.rules = true;
	}
	s.ci.conf_path = s.o.conf;
	s.ci.queue = s.o.rc.queue;
	s.ci.rules = s.rules;
	s.ci.started = now_sec();
	s.ci.conf = s.conf;
	s.ci.table = s.table;
	s.ci.qstats = &qstats;
	s.ci.ipset_errors = &ipset_errors;
	s.ci.set = set_key;
	s.ci.set_arg = &s;
	logmsg("ready: queue %u, %u prefixes, control socket %s", s.o.rc.queue,
	       s.conf->nprefixes, s.o.sock);

	ret = loop(&s, sfd);

	logmsg("stopping");
	if (s.rules)
		rules_remove(&s.o.rc);
	/* What was queued before the rules went still gets its verdict. */
	queue_run(s.conf, s.table);
out:
	ipset_teardown();
	queue_close();
	ctl_close();
	raw_close();
	table_free(s.table);
	free(s.conf);
	return ret;
}
