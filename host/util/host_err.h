/* SPDX-License-Identifier: MIT */
/*
 * host_err.h - the size of every error buffer in host/ and tools/.
 *
 * The convention of host/util, ivnetd and placement: a call that can fail
 * for a reason the operator has to read returns 0, or -1 with one line (no
 * newline, no "error:" prefix) in the caller's buffer, passed as
 * (err, errlen) and declared `char err[HOST_ERRLEN]`. Calls whose only
 * reason is a system call's return a negative errno instead, and their
 * caller words the line (strerror).
 */
#ifndef HOST_ERR_H
#define HOST_ERR_H

/* A path (PATH_MAX is longer, but sun_path bounds ours) and its reason. */
#define HOST_ERRLEN 320

#endif /* HOST_ERR_H */
