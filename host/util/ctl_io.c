// SPDX-License-Identifier: MIT
/*
 * ctl_io.c - a control request line split into words (ctl_io.h). Nothing
 * from the socket is trusted: length and bytes are checked first.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "ctl_io.h"

int ctl_word_ok(const char *w, const char *extra)
{
	for (; *w; w++)
		if (!isalnum((unsigned char)*w) && !strchr(extra, *w))
			return 0;
	return 1;
}

int ctl_word_copy(char *dst, size_t n, const char *w)
{
	size_t len = strlen(w);

	if (len >= n)
		return -1;
	memcpy(dst, w, len + 1);
	return 0;
}

int ctl_words(const char *line, size_t len, char *buf, size_t max, char **w, int maxw, char *err,
	      size_t errlen)
{
	char *save = NULL, *tok;
	size_t k;
	int n = 0;

	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > max) {
		snprintf(err, errlen, "request too long");
		return -1;
	}
	for (k = 0; k < len; k++) {
		unsigned char c = (unsigned char)line[k];

		if (c == '\t')
			c = ' ';
		if (c < 0x20 || c > 0x7e) {
			snprintf(err, errlen, "request has a non-printable byte");
			return -1;
		}
		buf[k] = (char)c;
	}
	buf[len] = '\0';
	for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		if (n == maxw) {
			snprintf(err, errlen, "too many words");
			return -1;
		}
		w[n++] = tok;
	}
	return n;
}

int ctl_request_words(struct ctl_words *cw, const char *line, size_t len, int maxw, char *err,
		      size_t errlen)
{
	cw->n = ctl_words(line, len, cw->buf, CTL_LINE_MAX, cw->w,
			  maxw < CTL_WORDS_MAX ? maxw : CTL_WORDS_MAX, err, errlen);
	if (cw->n < 0)
		return -1;
	cw->first = cw->n > 0 && !strcmp(cw->w[0], "-j");
	if (cw->n == cw->first) {
		snprintf(err, errlen, "empty request (try: help)");
		return -1;
	}
	return 0;
}
