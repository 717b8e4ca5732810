/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * anypinctl: what its files share.
 *
 *   anypinctl.c  options and commands
 *   datapath.c   talking to anypin.ko (sysctl, /proc) or to anypind (socket)
 *   text.c       tables by header name, JSON output, escaping (no I/O but
 *                a FILE *, so the unit tests link it alone)
 */
#ifndef ANYPINCTL_H
#define ANYPINCTL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* text.c */

/* A whitespace-separated table with a header line, as in /proc/net/anypin. */
struct tab {
	size_t ncols, nrows;
	char **head;		/* ncols names */
	char **cells;		/* nrows * ncols, row by row */
	char *buf;		/* the text, split in place */
};

/*
 * Parses @len bytes of @text: the first line names the columns, every
 * other non-empty line must have as many fields. 0, or -1 with @err set
 * (and @t empty).
 */
int tab_parse(struct tab *t, const char *text, size_t len, char *err, size_t errlen);
/* The index of the column named @name, or -1. */
int tab_col(const struct tab *t, const char *name);
/* The row whose first cell is @first (the last such), or -1. */
int tab_find_row(const struct tab *t, const char *first);
const char *tab_cell(const struct tab *t, size_t row, size_t col);
void tab_free(struct tab *t);

/* @s (@n bytes, any bytes) as a JSON string, quotes included. */
void json_str(FILE *f, const char *s, size_t n);
/* Whether @s is a decimal integer JSON would read back unchanged. */
bool json_is_uint(const char *s);
/* @s as a number when json_is_uint() and @numeric, else as a string. */
void json_value(FILE *f, const char *s, bool numeric);
/*
 * Row @row of @t as a JSON object keyed by column names; every column is
 * numeric where its cells are integers, except those in @strcols
 * (NULL-ended).
 */
void json_row(FILE *f, const struct tab *t, size_t row, const char *const *strcols);

/*
 * @s made printable for a message: control bytes, backslash and DEL as
 * \n, \t, \\, \xNN; truncated with "..." to fit @size.
 */
void text_show(char *out, size_t size, const char *s);

/* datapath.c */

enum dp_kind { DP_MODULE = 1, DP_ANYPIND };

#define DP_SYSCTL_DIR	"/proc/sys/net/anypin"
#define DP_SOCK		"/run/anypind.sock"
#define DP_EXIT_NONE	3

struct dp {
	enum dp_kind kind;
	const char *sock;
	long pid;		/* anypind's, from SO_PEERCRED; 0 if unknown */
	char name[16];		/* "anypin.ko" or "anypind" */
	char text[256];		/* "anypin.ko (net namespace sysctls)", ... */
};

/*
 * Chooses the datapath: @force DP_MODULE or DP_ANYPIND, or 0 for the
 * module when its sysctls exist in this netns, else anypind when @sock
 * answers. 0, or -1 with @err set (then exit DP_EXIT_NONE).
 */
int dp_select(struct dp *d, int force, const char *sock, char *err, size_t errlen);

/*
 * "flows", "stats", "blackholes" (the /proc tables) or, for anypind,
 * "status": the text in *@out (malloc'ed, NUL-terminated), 0 or -1 with
 * @err.
 */
int dp_read(const struct dp *d, const char *what, char **out, size_t *len,
	    char *err, size_t errlen);

/* The value of @key ("net.anypin...."), no trailing newline. */
int dp_get(const struct dp *d, const char *key, char *buf, size_t size,
	   char *err, size_t errlen);

/*
 * Writes @key. 0 done; 1 refused by the datapath (@why: its reason, or
 * empty when it gives none, as the kernel does); -1 could not ask (@why).
 */
int dp_set(const struct dp *d, const char *key, const char *val, char *why, size_t whylen);

/* Forgets every blackhole: 0, or -1 with @err. */
int dp_flush_blackholes(const struct dp *d, char *err, size_t errlen);

#endif
