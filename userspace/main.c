// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * anypind: options, signals and the main loop. See docs/anypind.md.
 *
 * Start-up order matters for "a bad config changes nothing": the file is
 * read and checked before anything is touched. Then the control socket
 * (refusing a second anypind on the same path), the raw sockets, the queue
 * (refusing a queue another program holds, before touching the table), and
 * only then the nftables table, in one batch. Shutdown goes the other way:
 * the table first, then the packets still queued get their verdicts.
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
#include "nft.h"
#include "queue.h"
#include "raw.h"
#include "second.h"
#include "table.h"
#include "util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: anypind [options]\n"
		"  -c, --config FILE     configuration, sysctl.d syntax (default %s)\n"
		"  -s, --socket PATH     control socket (default %s)\n"
		"  -q, --queue N         NFQUEUE number (default %u)\n"
		"      --print-rules     print the nftables table for the configuration and exit\n"
		"  -t, --check           check the configuration and exit\n"
		"  -v, --verbose         log each decision on a packet\n"
		"  -h, --help            this text\n"
		"  -V, --version         the version\n"
		"Signals: SIGHUP reloads the configuration, SIGTERM/SIGINT stop.\n",
		ANYPIND_CONF, ANYPIND_SOCK, ANYPIND_QUEUE);
}

struct opts {
	const char *conf, *sock;
	u16 queue;
	bool print_rules, check;
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
	o->queue = ANYPIND_QUEUE;
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
			o->queue = (u16)q;
			break;
		case O_NO_RULES:
		case O_IPT:
		case O_IP6T:
			/* Refused, not ignored: they said what not to touch. */
			logmsg("--%s: no longer an option: anypind keeps its own nftables "
			       "table, inet %s (docs/anypind.md)",
			       c == O_NO_RULES ? "no-rules" : c == O_IPT ? "iptables" : "ip6tables",
			       NFT_TABLE);
			return 2;
		case O_PRINT_RULES:
			o->print_rules = true;
			break;
		case 't':
			o->check = true;
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

/* The kernel's maps hold the pins the table holds. */
static void pin(void *arg, const struct ap_pin *p, bool add)
{
	(void)arg;
	nft_pin(add, p);
}

static const struct table_pins pins = {
	.pin = pin,
};

struct state {
	struct opts o;
	struct ap_conf *conf;
	struct table *table;
	struct ctl_info ci;
	u64 nft_errors;		/* nft_errors when the table was last whole */
};

/*
 * The table again, and every pin in it: at start, when the ruleset was
 * changed under us, or after the kernel refused a batch.
 */
static int restore(struct state *s, char *err, size_t errlen)
{
	table_replay(s->table);
	if (nft_install(s->conf, s->o.queue, true, err, errlen))
		return -1;
	s->nft_errors = nft_errors;
	return 0;
}

static void pin_packets(void *arg, u8 role, bool out, const struct ap_tuple *t, u64 packets)
{
	table_pin_packets(arg, role, out, t, packets);
}

static void pin_ended(void *arg, const struct ap_tuple *t)
{
	table_pin_ended(arg, t);
}

/*
 * What the kernel did for pinned flows: their ends, and with @counters
 * their packets (activity, counters).
 */
static void read_pins(struct state *s, bool counters)
{
	if (!table_count(s->table))
		return;
	if (counters)
		nft_counters(pin_packets, s->table);
	nft_ends(pin_ended, s->table);
}

static void refresh(void *arg)
{
	struct state *s = arg;

	read_pins(s, true);
	second_count(s->table);
}

/*
 * Seconds between two reads of the packet counters: a dump of every map
 * element, during which no verdict goes out. Idle expiry is what needs
 * them: an eighth of idle_timeout, at most a minute, and a second more
 * per 8192 flows. "flows" and "stats" read them before they answer.
 */
static u32 counters_period(const struct state *s)
{
	u32 p = s->conf->idle_timeout / 8;

	p = p < 1 ? 1 : p > 60 ? 60 : p;
	return p + table_count(s->table) / 8192;
}

/*
 * Makes @n the running configuration: its rules, the counters and flows
 * remapped to its prefixes by name. On failure (@err set, @what names the
 * caller in the log) nothing changed and @n is freed.
 */
static int take_conf(struct state *s, struct ap_conf *n, const char *what,
		     char *err, size_t errlen)
{
	u8 remap[AP_MAX_PREFIXES];
	int i, j;

	(void)what;
	/* Counted by the old prefixes' indexes, before they change. */
	second_count(s->table);
	/*
	 * The BPF programs first: what cannot load refuses the configuration.
	 * One batch: the old rules stay if the kernel refuses the new.
	 */
	if (second_set(n, err, errlen) || nft_install(n, s->o.queue, false, err, errlen)) {
		char e2[256];

		if (second_set(s->conf, e2, sizeof(e2)))
			logmsg("%s", e2);
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
	u32 last_sweep = now_sec(), last_refresh = last_sweep, last_restore = 0;
	int n, nctl;

	for (;;) {
		pfd[0].fd = sfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = queue_fd();
		pfd[1].events = POLLIN;
		pfd[2].fd = nft_monitor_fd();
		pfd[2].events = POLLIN;
		pfd[3].fd = second_monitor_fd();	/* -1, not polled: no second chance */
		pfd[3].events = POLLIN;
		pfd[4].fd = second_route_fd();
		pfd[4].events = POLLIN;
		nctl = ctl_pollfds(pfd + 5, NPOLL - 5);
		n = poll(pfd, 5 + nctl, 1000);
		if (n < 0 && errno != EINTR) {
			logmsg("poll: %s", strerror(errno));
			return 1;
		}
		if (n > 0 && (pfd[1].revents & POLLIN))
			queue_run(s->conf, s->table);
		if (n > 0 && (pfd[2].revents & POLLIN) && nft_monitor_run()) {
			logmsg("table inet %s changed under us: putting it back", NFT_TABLE);
			s->nft_errors = nft_errors - 1;
		}
		/* POLLERR too: lost notifications (ENOBUFS) with none queued. */
		if (n > 0 && ((pfd[3].revents | pfd[4].revents) & (POLLIN | POLLERR)))
			second_monitor_run();
		if (now_sec() != last_sweep) {
			bool counters;

			last_sweep = now_sec();
			table_set_now(s->table, last_sweep);
			/* The ends each second: a FIN starts fin_timeout. */
			counters = last_sweep - last_refresh >= counters_period(s);
			if (counters)
				last_refresh = last_sweep;
			read_pins(s, counters);
			second_tick();
			table_sweep(s->table);
			nft_commit();
		}
		/* At once, and once a second while the kernel refuses it. */
		if (s->nft_errors != nft_errors && last_restore != now_sec()) {
			char err[512];

			last_restore = now_sec();
			if (restore(s, err, sizeof(err)))
				logmsg("%s", err);
			else
				s->ci.restores++;
		}
		ctl_run(pfd + 5, n > 0 ? nctl : 0, &s->ci);
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
		nft_text(s.conf, s.o.queue, stdout);
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

	s.table = table_new(s.conf, &pins);
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
	/* The queue first: if another anypind holds it, leave its table alone. */
	if (queue_open(s.o.queue, err, sizeof(err)) || nft_open(err, sizeof(err)) ||
	    restore(&s, err, sizeof(err)) || second_set(s.conf, err, sizeof(err))) {
		logmsg("%s", err);
		goto out;
	}
	s.ci.conf_path = s.o.conf;
	s.ci.queue = s.o.queue;
	s.ci.started = now_sec();
	s.ci.conf = s.conf;
	s.ci.table = s.table;
	s.ci.qstats = &qstats;
	s.ci.nft_errors = &nft_errors;
	s.ci.refresh = refresh;
	s.ci.refresh_arg = &s;
	s.ci.set = set_key;
	s.ci.set_arg = &s;
	logmsg("ready: queue %u, %u prefixes, control socket %s", s.o.queue,
	       s.conf->nprefixes, s.o.sock);

	ret = loop(&s, sfd);

	logmsg("stopping");
	nft_remove();
	second_close();
	/* What was queued before the table went still gets its verdict. */
	queue_run(s.conf, s.table);
out:
	second_close();
	nft_close();
	queue_close();
	ctl_close();
	raw_close();
	table_free(s.table);
	free(s.conf);
	return ret;
}
