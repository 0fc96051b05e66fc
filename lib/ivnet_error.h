/* SPDX-License-Identifier: MIT */
/*
 * ivnet_error.h - libivnet's one error convention, inside the library: a
 * failing function returns -errno and, when the caller passed a buffer,
 * puts a one-line reason into its char err[IVNET_ERRLEN].
 */
#ifndef IVNET_ERROR_H
#define IVNET_ERROR_H

#include <ivnet/ivnet.h>

/* Format the reason into err (if not NULL); returns -errnum. */
int ivnet_fail(char *err, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* IVNET_ERROR_H */
