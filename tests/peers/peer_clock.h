/* SPDX-License-Identifier: MIT */
/*
 * peer_clock.h - what the test peers share: the monotonic clock in seconds,
 * and the stop flag that SIGTERM and SIGINT set (peer_stop_on_signals()).
 */
#ifndef IVNET_PEER_CLOCK_H
#define IVNET_PEER_CLOCK_H

#include <signal.h>
#include <time.h>

static volatile sig_atomic_t stop;

static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

/* SIGTERM and SIGINT end the peer's loop (it checks stop) instead of it. */
static inline void peer_stop_on_signals(void)
{
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
}

#endif /* IVNET_PEER_CLOCK_H */
