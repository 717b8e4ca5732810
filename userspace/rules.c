// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The iptables/ip6tables rules that send packets to the queue, in chains
 * of our own, one per hook:
 *
 *   raw PREROUTING     -> ANYPIN-IN    before conntrack (DESIGN.md)
 *   mangle OUTPUT      -> ANYPIN-OUT   after conntrack; the kernel routes
 *                                      a reinjected packet again when its
 *                                      destination changed
 *   mangle POSTROUTING -> ANYPIN-POST
 *
 * Only what can matter is queued: SYNs to client prefixes (OUT), SYNs to
 * responder prefixes (IN; a legacy one is counted, as the module counts
 * it, and makes no entry, so the rest of its connection stays here),
 * packets of endpoints in our sets (ipset.c), and the ICMP errors the core
 * rewrites. Every rule has --queue-bypass: with no anypind listening,
 * packets pass unchanged.
 *
 * Installed with one iptables-restore --noflush per family, which is
 * atomic per table and flushes chains a killed run left, so a restart
 * reuses them. The jumps are added only where missing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include "ipset.h"
#include "rules.h"
#include "util.h"

static const struct {
	const char *table, *hook, *chain;
} chains[] = {
	{ "raw", "PREROUTING", "ANYPIN-IN" },
	{ "mangle", "OUTPUT", "ANYPIN-OUT" },
	{ "mangle", "POSTROUTING", "ANYPIN-POST" },
};
#define NCHAINS (sizeof(chains) / sizeof(chains[0]))

/* multiport takes 15 ports, a range counting as two. */
#define MPORT_MAX	15

static u8 fam_of(int family)
{
	return family == 4 ? AP_AF_INET : AP_AF_INET6;
}

static void target(const struct rules_cmd *rc, FILE *f)
{
	fprintf(f, " -j NFQUEUE --queue-num %u --queue-bypass\n", rc->queue);
}

/* "-A CHAIN -p tcp -d PREFIX MATCH [--dports ...] -j NFQUEUE", per port chunk. */
static void prefix_rules(const struct rules_cmd *rc, const struct ap_pconf *pc,
			 const char *chain, const char *match, FILE *f)
{
	char pfx[AP_PREFIX_STRLEN];
	int i = 0, used, w;

	ap_prefix_format(&pc->prefix, pfx, sizeof(pfx));
	do {
		fprintf(f, "-A %s -d %s -p tcp %s", chain, pfx, match);
		if (pc->ports.n) {
			fputs(" -m multiport --dports ", f);
			for (used = 0; i < pc->ports.n; i++, used += w) {
				w = pc->ports.r[i].lo == pc->ports.r[i].hi ? 1 : 2;
				if (used + w > MPORT_MAX)
					break;
				if (used)
					fputc(',', f);
				if (w == 1)
					fprintf(f, "%u", pc->ports.r[i].lo);
				else
					fprintf(f, "%u:%u", pc->ports.r[i].lo, pc->ports.r[i].hi);
			}
		}
		target(rc, f);
	} while (i < pc->ports.n);
}

static void chain_rules(const struct rules_cmd *rc, const struct ap_conf *c, int family,
			unsigned int ch, FILE *f)
{
	const char *cset = family == 4 ? SET_CLIENT4 : SET_CLIENT6;
	const char *rset = family == 4 ? SET_RESP4 : SET_RESP6;
	const char *name = chains[ch].chain;
	static const int icmp4[] = { 3, 11, 12 }, icmp6[] = { 1, 2, 3, 4 };
	const struct ap_pconf *pc;
	unsigned int i;

	switch (ch) {
	case 0:		/* IN */
		for (i = 0; i < c->nprefixes; i++) {
			pc = &c->prefixes[i];
			if (pc->prefix.addr.family == fam_of(family) && pc->enabled &&
			    pc->role == AP_ROLE_RESPONDER)
				prefix_rules(rc, pc, name, "--syn", f);
		}
		fprintf(f, "-A %s -p tcp -m set --match-set %s dst,dst", name, cset);
		target(rc, f);
		fprintf(f, "-A %s -p tcp -m set --match-set %s src,src", name, rset);
		target(rc, f);
		if (family == 4) {
			for (i = 0; i < sizeof(icmp4) / sizeof(icmp4[0]); i++) {
				fprintf(f, "-A %s -p icmp --icmp-type %d", name, icmp4[i]);
				target(rc, f);
			}
		} else {
			for (i = 0; i < sizeof(icmp6) / sizeof(icmp6[0]); i++) {
				fprintf(f, "-A %s -p ipv6-icmp --icmpv6-type %d", name, icmp6[i]);
				target(rc, f);
			}
		}
		break;
	case 1:		/* OUT */
		for (i = 0; i < c->nprefixes; i++) {
			pc = &c->prefixes[i];
			if (pc->prefix.addr.family == fam_of(family) && pc->enabled &&
			    pc->role == AP_ROLE_CLIENT)
				prefix_rules(rc, pc, name, "--syn", f);
		}
		fprintf(f, "-A %s -p tcp -m set --match-set %s src,src", name, cset);
		target(rc, f);
		break;
	case 2:		/* POST */
		fprintf(f, "-A %s -p tcp -m set --match-set %s dst,dst", name, rset);
		target(rc, f);
		break;
	}
}

void rules_text(const struct rules_cmd *rc, const struct ap_conf *c, int family, FILE *f)
{
	unsigned int ch;

	for (ch = 0; ch < NCHAINS; ch++) {
		if (ch == 0 || strcmp(chains[ch].table, chains[ch - 1].table))
			fprintf(f, "*%s\n", chains[ch].table);
		fprintf(f, ":%s - [0:0]\n", chains[ch].chain);
		fprintf(f, "-I %s 1 -j %s\n", chains[ch].hook, chains[ch].chain);
		chain_rules(rc, c, family, ch, f);
		if (ch + 1 == NCHAINS || strcmp(chains[ch].table, chains[ch + 1].table))
			fputs("COMMIT\n", f);
	}
}

/* Bounds what we read of a command's output (an iptables-save). */
#define OUT_MAX		(64u << 20)

/*
 * Runs @argv with @input on its stdin; its stdout and stderr, joined, go
 * to *@out (malloc'd, NUL-terminated) when @out is given. Returns its exit
 * status, or -1.
 */
static int run(const char *const argv[], const char *input, size_t inlen, char **out)
{
	int in[2], op[2], status;
	size_t off = 0, n = 0, cap = 0;
	char *buf = NULL, *nb;
	ssize_t r;
	pid_t pid;

	if (out)
		*out = NULL;
	if (pipe2(in, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(op, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		close(in[0]);
		close(in[1]);
		close(op[0]);
		close(op[1]);
		return -1;
	}
	if (!pid) {
		sigset_t all;

		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		dup2(in[0], 0);
		dup2(op[1], 1);
		dup2(op[1], 2);
		execvp(argv[0], (char *const *)argv);
		dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(op[1]);
	/* Input is small (a ruleset): it fits the pipe before output starts. */
	while (input && off < inlen) {
		r = write(in[1], input + off, inlen - off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		off += r;
	}
	close(in[1]);
	for (;;) {
		char tmp[4096];

		r = read(op[0], tmp, sizeof(tmp));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (n + r + 1 > cap && n + r + 1 <= OUT_MAX) {
			cap = cap * 2 > n + r + 1 ? cap * 2 : n + r + 1 + 16384;
			nb = realloc(buf, cap);
			if (!nb)
				continue;	/* drain, so the command can end */
			buf = nb;
		}
		if (n + r + 1 <= cap) {
			memcpy(buf + n, tmp, r);
			n += r;
		}
	}
	close(op[0]);
	if (buf)
		buf[n] = 0;
	if (out)
		*out = buf;
	else
		free(buf);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* A command's output as one line for a log message. */
static void oneline(const char *out, char *err, size_t errlen)
{
	size_t i, n = 0;

	for (i = 0; out && out[i] && n + 1 < errlen; i++) {
		if (out[i] == '\n' && !out[i + 1])
			break;
		err[n++] = out[i] == '\n' ? ';' : out[i];
	}
	err[n] = 0;
}

static int ipt_quiet(const char *ipt, const char *a1, const char *a2, const char *a3,
		     const char *a4, const char *a5, const char *a6, const char *a7)
{
	const char *argv[] = { ipt, "-w", "5", a1, a2, a3, a4, a5, a6, a7, NULL };

	return run(argv, NULL, 0, NULL);
}

/* Which of our jumps exist, from one iptables-save. */
static void jumps(const char *ipt, bool *have)
{
	char save[256], line[128];
	const char *argv[] = { save, NULL };
	const char *table = "", *p, *e;
	char *out;
	unsigned int ch;

	snprintf(save, sizeof(save), "%s-save", ipt);
	memset(have, 0, sizeof(bool) * NCHAINS);
	if (run(argv, NULL, 0, &out) || !out) {
		free(out);
		return;
	}
	for (p = out; *p; p = *e ? e + 1 : e) {
		e = strchr(p, '\n');
		if (!e)
			e = p + strlen(p);
		if (*p == '*') {
			table = p + 1;
			continue;
		}
		for (ch = 0; ch < NCHAINS; ch++) {
			snprintf(line, sizeof(line), "-A %s -j %s", chains[ch].hook,
				 chains[ch].chain);
			if ((size_t)(e - p) == strlen(line) && !strncmp(p, line, e - p) &&
			    !strncmp(table, chains[ch].table, strlen(chains[ch].table)) &&
			    table[strlen(chains[ch].table)] == '\n')
				have[ch] = true;
		}
	}
	free(out);
}

static bool has_family(const struct ap_conf *c, int family)
{
	unsigned int i;

	for (i = 0; i < c->nprefixes; i++)
		if (c->prefixes[i].prefix.addr.family == fam_of(family))
			return true;
	return false;
}

static int install_family(const struct rules_cmd *rc, const struct ap_conf *c, int family,
			  char *err, size_t errlen)
{
	const char *ipt = family == 4 ? rc->ipt : rc->ip6t;
	const char *argv[] = { NULL, "-w", "5", "--noflush", NULL };
	char restore[256], msg[512];
	bool have[NCHAINS];
	char *text = NULL, *out;
	size_t len = 0;
	unsigned int ch;
	FILE *f;
	int ret;

	snprintf(restore, sizeof(restore), "%s-restore", ipt);
	argv[0] = restore;
	/* A jump a killed run left stays: not a second one. */
	jumps(ipt, have);
	f = open_memstream(&text, &len);
	if (!f)
		return -1;
	for (ch = 0; ch < NCHAINS; ch++) {
		if (ch == 0 || strcmp(chains[ch].table, chains[ch - 1].table))
			fprintf(f, "*%s\n", chains[ch].table);
		fprintf(f, ":%s - [0:0]\n", chains[ch].chain);
		if (!have[ch])
			fprintf(f, "-I %s 1 -j %s\n", chains[ch].hook, chains[ch].chain);
		chain_rules(rc, c, family, ch, f);
		if (ch + 1 == NCHAINS || strcmp(chains[ch].table, chains[ch + 1].table))
			fputs("COMMIT\n", f);
	}
	fclose(f);
	ret = run(argv, text, len, &out);
	free(text);
	if (ret) {
		oneline(out, msg, sizeof(msg));
		snprintf(err, errlen, "%s failed (exit status %d): %s", restore, ret,
			 msg[0] ? msg : "no message");
	}
	free(out);
	return ret ? -1 : 0;
}

int rules_install(const struct rules_cmd *rc, const struct ap_conf *c, char *err,
		  size_t errlen)
{
	int family;

	for (family = 4; family <= 6; family += 2) {
		if (!install_family(rc, c, family, err, errlen))
			continue;
		/* A family without prefixes may lack ip(6)tables support. */
		if (has_family(c, family))
			return -1;
		logmsg("warning: %s (no IPv%d prefix configured, going on)", err, family);
	}
	return 0;
}

static void remove_family(const char *ipt)
{
	const char *argv[] = { NULL, "-w", "5", "--noflush", NULL };
	char restore[256], text[512];
	size_t len = 0;
	unsigned int ch;
	int i;

	/* All at once when everything is there, as on a normal exit. */
	snprintf(restore, sizeof(restore), "%s-restore", ipt);
	argv[0] = restore;
	for (ch = 0; ch < NCHAINS; ch++) {
		if (ch == 0 || strcmp(chains[ch].table, chains[ch - 1].table))
			len += snprintf(text + len, sizeof(text) - len, "*%s\n", chains[ch].table);
		len += snprintf(text + len, sizeof(text) - len, "-D %s -j %s\n-F %s\n-X %s\n",
				chains[ch].hook, chains[ch].chain, chains[ch].chain,
				chains[ch].chain);
		if (ch + 1 == NCHAINS || strcmp(chains[ch].table, chains[ch + 1].table))
			len += snprintf(text + len, sizeof(text) - len, "COMMIT\n");
	}
	if (!run(argv, text, len, NULL))
		return;
	/* Otherwise piece by piece, whatever is left (a second jump...). */
	for (ch = 0; ch < NCHAINS; ch++) {
		for (i = 0; i < 16; i++)
			if (ipt_quiet(ipt, "-t", chains[ch].table, "-D", chains[ch].hook, "-j",
				      chains[ch].chain, NULL))
				break;
		ipt_quiet(ipt, "-t", chains[ch].table, "-F", chains[ch].chain, NULL, NULL, NULL);
		ipt_quiet(ipt, "-t", chains[ch].table, "-X", chains[ch].chain, NULL, NULL, NULL);
	}
}

void rules_remove(const struct rules_cmd *rc)
{
	remove_family(rc->ipt);
	remove_family(rc->ip6t);
}
