/* SPDX-License-Identifier: MIT */
/*
 * ctl_words.h - the first step of every control request, ivnetd's and
 * ivnet-vswitch's alike: one line, split into words.
 */
#ifndef IVNET_CTL_WORDS_H
#define IVNET_CTL_WORDS_H

#include <stddef.h>

/*
 * Split line[0..len) (one trailing newline allowed) into at most maxw
 * words separated by spaces or tabs, in buf (max + 1 bytes); w[] points
 * into buf. The line must be printable ASCII and at most max bytes.
 * Returns the number of words, or -1 with a one-line reason in err.
 */
int ctl_words(const char *line, size_t len, char *buf, size_t max, char **w, int maxw, char *err,
	      size_t errlen);

#endif /* IVNET_CTL_WORDS_H */
