/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Text helpers of the parsers and formatters (addr.c, conf.c, second.c).
 * Input text comes with its length, no NUL needed. Blanks (space, tab)
 * separate the items of a list; spaces are blanks, '\n' and '\r'.
 */
#ifndef ANYPIN_TEXT_H
#define ANYPIN_TEXT_H

#include <anypin/types.h>

/* Sets *why to @msg if @why is not NULL; returns -1. */
int ap_err(const char **why, const char *msg);

/* Drops the spaces at both ends of the text at *@s, *@n bytes. */
void ap_trim(const char **s, u32 *n);

/*
 * The next token of @s from *@pos on, separated by blanks (and commas if
 * @commas); a run of separators counts as one. False at the end.
 */
bool ap_token(const char *s, u32 n, u32 *pos, bool commas, const char **tok, u32 *tlen);

/*
 * Bounded text output of the formatters: keeps a prefix of what was
 * written that fits @size with its NUL.
 */
struct ap_out {
	char *buf;
	u32 size, len;
};

void ap_putc(struct ap_out *o, char c);
void ap_puts(struct ap_out *o, const char *s);
/* @v in @base (2 to 16, upper case digits), zero-padded to @width digits. */
void ap_putu(struct ap_out *o, u32 v, u32 base, u32 width);
/* Ends the text with its NUL (if @size); returns its length. */
u32 ap_out_end(struct ap_out *o);

#endif
