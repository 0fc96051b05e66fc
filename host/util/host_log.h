/* SPDX-License-Identifier: MIT */
/*
 * host_log.h - how the parts that serve a daemon (the control server,
 * placement) log without knowing which daemon: the daemon hands them a
 * line writer, and they format one event per call.
 */
#ifndef HOST_LOG_H
#define HOST_LOG_H

struct host_log {
	void (*write)(void *ctx, const char *line); /* NULL: nothing is logged */
	void *ctx;
};

void host_log(const struct host_log *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* HOST_LOG_H */
