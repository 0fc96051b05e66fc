/* SPDX-License-Identifier: MIT */
/*
 * ctl_io.h - a control request line split into words, for ivnetd's and
 * ivnet-vswitch's parsers alike.
 */
#ifndef IVNET_CTL_IO_H
#define IVNET_CTL_IO_H

#include <stddef.h>
#include <string.h>

#define CTL_LINE_MAX 1024 /* a request line, without its newline */

/*
 * Split line[0..len) (one trailing newline allowed) into at most maxw
 * words separated by spaces or tabs, in buf (max + 1 bytes); w[] points
 * into buf. The line must be printable ASCII and at most max bytes.
 * Returns the number of words, or -1 with a one-line reason in err.
 */
int ctl_words(const char *line, size_t len, char *buf, size_t max, char **w, int maxw, char *err,
	      size_t errlen);

#define CTL_WORDS_MAX 16

/* A request's words; its verb is w[first], first being 1 after a -j (a
 * JSON answer). */
struct ctl_words {
	char buf[CTL_LINE_MAX + 1];
	char *w[CTL_WORDS_MAX];
	int n;
	int first;
};

/*
 * The words of a request (at most maxw, up to CTL_WORDS_MAX) into cw.
 * Returns 0, or -1 with a reason in err; an empty request is an error.
 */
int ctl_request_words(struct ctl_words *cw, const char *line, size_t len, int maxw, char *err,
		      size_t errlen);

/* Whether word k of the request (the verb is 0) is there and is word. */
static inline int ctl_is(const struct ctl_words *cw, int k, const char *word)
{
	return cw->first + k < cw->n && !strcmp(cw->w[cw->first + k], word);
}

/* Whether the request ends after k words. */
static inline int ctl_alone(const struct ctl_words *cw, int k)
{
	return cw->n == cw->first + k;
}

/* Whether every character of w is a letter, a digit or one of extra: the
 * names and values requests carry. */
int ctl_word_ok(const char *w, const char *extra);
/* w into dst (n bytes); -1 if it does not fit. */
int ctl_word_copy(char *dst, size_t n, const char *w);

#endif /* IVNET_CTL_IO_H */
