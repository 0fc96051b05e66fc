/* SPDX-License-Identifier: MIT */
/*
 * ctl_io.h - the two ends of every control request, ivnetd's and
 * ivnet-vswitch's alike: the request line split into words, the answer sent
 * back.
 */
#ifndef IVNET_CTL_IO_H
#define IVNET_CTL_IO_H

#include <stddef.h>

#define CTL_LINE_MAX 1024 /* a request line, without its newline */

/*
 * Split line[0..len) (one trailing newline allowed) into at most maxw
 * words separated by spaces or tabs, in buf (max + 1 bytes); w[] points
 * into buf. The line must be printable ASCII and at most max bytes.
 * Returns the number of words, or -1 with a one-line reason in err.
 */
int ctl_words(const char *line, size_t len, char *buf, size_t max, char **w, int maxw, char *err,
	      size_t errlen);

/*
 * The words of a request into buf (CTL_LINE_MAX + 1 bytes), with the
 * leading -j (a JSON answer) taken off into *json. Returns the number of
 * words, the first (the verb) at w[*json], or -1 with a reason in err; an
 * empty request is an error.
 */
int ctl_request_words(const char *line, size_t len, char *buf, char **w, int maxw, int *json,
		      char *err, size_t errlen);

/* Whether every character of w is a letter, a digit or one of extra: the
 * names and values requests carry. */
int ctl_word_ok(const char *w, const char *extra);
/* w into dst (n bytes); -1 if it does not fit. */
int ctl_word_copy(char *dst, size_t n, const char *w);

/*
 * Send the whole answer on a control connection, blocking for a second at
 * most: a client that does not read cannot hold the daemon. What it did not
 * take by then is dropped with the connection.
 */
void ctl_send_answer(int fd, const char *text, size_t len);

#endif /* IVNET_CTL_IO_H */
