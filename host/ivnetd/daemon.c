// SPDX-License-Identifier: MIT
/*
 * daemon.c - start every segment and the control socket, then one epoll
 * loop over all of them. Signals arrive through a signalfd: SIGTERM and
 * SIGINT stop the loop, SIGHUP reopens the log.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "host_err.h"
#include "ivnetd.h"

int ivnetd_watch_add(struct ivnetd *d, struct ivnetd_watch *w)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = w};

	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0 ? -errno : 0;
}

void ivnetd_bury(struct ivnetd *d, struct ivnetd_watch *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	w->grave_next = d->grave;
	d->grave = w;
}

static void free_grave(struct ivnetd *d)
{
	while (d->grave) {
		struct ivnetd_watch *w = d->grave;

		d->grave = w->grave_next;
		free(w); /* the watch is its owner's first member */
	}
}

/* Every peer holds a socket and one eventfd per vector. */
static void raise_fd_limit(void)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

static int signals_start(struct ivnetd *d)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	/* a peer that hangs up mid-send must not kill us */
	signal(SIGPIPE, SIG_IGN);
	d->sig.kind = IVNETD_W_SIGNAL;
	d->sig.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->sig.fd < 0)
		return -errno;
	return ivnetd_watch_add(d, &d->sig);
}

static void signal_event(struct ivnetd *d)
{
	struct signalfd_siginfo si;

	while (read(d->sig.fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			if (ivnetd_log_open(d))
				ivnetd_log(d, "error reopening log %s: %s", d->cfg.log_path,
					   strerror(errno));
			else
				ivnetd_log(d, "log reopened");
		} else {
			ivnetd_log(d, "signal %s: shutting down", strsignal((int)si.ssi_signo));
			d->quit = 1;
		}
	}
}

/* Once, for every segment's plan and `ivnetctl topology`. A machine whose
 * sysfs cannot be read still brokers; only placement then refuses. */
static void read_topology(struct ivnetd *d)
{
	char err[HOST_ERRLEN];

	d->topo = calloc(1, sizeof(*d->topo));
	if (!d->topo)
		return;
	if (ivnetd_topo_read("", d->topo, err, sizeof(err))) {
		ivnetd_log(d, "warning topology: %s", err);
		free(d->topo);
		d->topo = NULL;
	}
}

/* Placement is handed the daemon's topology and log (each segment then
 * starts its own placement), and its rescan timer joins our loop. */
static int placement_timer(struct ivnetd *d)
{
	struct placement_env *e = &d->place;
	int fd;

	e->topo = d->topo;
	e->log = (struct host_log){ivnetd_log_line, d};
	fd = ivnetd_placement_timer_start(e);
	if (fd < 0)
		return fd;
	d->timer.kind = IVNETD_W_TIMER;
	d->timer.fd = fd;
	return ivnetd_watch_add(d, &d->timer);
}

int ivnetd_start(struct ivnetd *d, const struct ivnetd_config *cfg)
{
	int i, err;

	memset(d, 0, sizeof(*d));
	d->cfg = *cfg;
	d->sig.fd = -1;
	ctl_server_init(&d->ctl);
	d->ctl_w.fd = -1;
	d->timer.fd = -1;
	d->place.timer_fd = -1;
	d->started_at = (int64_t)time(NULL);
	for (i = 0; i < IVNETD_SEGMENTS_MAX; i++)
		d->seg[i].w.fd = -1;
	if (ivnetd_log_open(d)) {
		fprintf(stderr, "ivnetd: cannot open log %s: %s\n", cfg->log_path, strerror(errno));
		return -errno;
	}
	raise_fd_limit();
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->epfd < 0)
		return -errno;
	read_topology(d);
	err = signals_start(d);
	if (!err)
		err = placement_timer(d);
	for (i = 0; !err && i < cfg->nseg; i++) {
		err = ivnetd_segment_start(d, &d->seg[i], &cfg->seg[i]);
		if (!err) {
			d->nseg++;
			err = ivnetd_watch_add(d, &d->seg[i].w);
		}
	}
	if (!err) {
		err = ivnetd_ctl_start(d);
		if (err)
			ivnetd_log(d, "error control=%s: %s", cfg->control_path, strerror(-err));
	}
	if (err) {
		ivnetd_stop(d);
		return err;
	}
	ivnetd_log(d, "ready pid=%d segments=%d control=%s", (int)getpid(), d->nseg,
		   cfg->control_path);
	return 0;
}

int ivnetd_run_once(struct ivnetd *d, int timeout_ms)
{
	struct epoll_event ev[32];
	int n, i;

	n = epoll_wait(d->epfd, ev, 32, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	/* on every wake-up, at least each IVNETD_RESTORE_MS (ivnetd_run):
	 * a newcomer that read a rewritten header retries until then */
	ivnetd_guard_all(d);
	for (i = 0; i < d->nseg; i++) {
		ivnetd_segment_restore_header(&d->seg[i]);
		ivnetd_peer_restore_table(&d->seg[i]);
	}
	for (i = 0; i < n; i++) {
		struct ivnetd_watch *w = ev[i].data.ptr;

		if (w->fd < 0)
			continue; /* dropped earlier in this batch */
		/* every kind of event may touch a region: joins, leaves,
		 * control requests, placement */
		ivnetd_guard_all(d);
		switch (w->kind) {
		case IVNETD_W_LISTEN:
			ivnetd_segment_accept((struct ivnetd_segment *)w);
			break;
		case IVNETD_W_PEER:
			ivnetd_peer_event((struct ivnetd_peer *)w, ev[i].events);
			break;
		case IVNETD_W_CONTROL:
			ctl_server_run(&d->ctl, 0);
			break;
		case IVNETD_W_ADMIN_LISTEN:
			ivnetd_admin_accept(((struct ivnetd_admin_listen *)w)->seg);
			break;
		case IVNETD_W_ADMIN:
			ivnetd_admin_event((struct ivnetd_admin *)w, ev[i].events);
			break;
		case IVNETD_W_SIGNAL:
			signal_event(d);
			break;
		case IVNETD_W_TIMER:
			ivnetd_placement_tick(&d->place);
			break;
		}
	}
	free_grave(d);
	return n;
}

int ivnetd_run(struct ivnetd *d)
{
	while (!d->quit) {
		int err = ivnetd_run_once(d, IVNETD_RESTORE_MS);

		if (err < 0) {
			ivnetd_log(d, "error epoll: %s", strerror(-err));
			return err;
		}
	}
	return 0;
}

void ivnetd_stop(struct ivnetd *d)
{
	int i;

	ctl_server_stop(&d->ctl);
	d->ctl_w.fd = -1;
	for (i = 0; i < IVNETD_SEGMENTS_MAX; i++)
		ivnetd_segment_stop(&d->seg[i]);
	free_grave(d);
	if (d->sig.fd >= 0)
		close(d->sig.fd);
	ivnetd_placement_timer_stop(&d->place);
	if (d->epfd >= 0)
		close(d->epfd);
	d->sig.fd = d->epfd = d->timer.fd = -1;
	if (d->topo)
		ivnetd_topo_free(d->topo);
	free(d->topo);
	d->topo = NULL;
	if (d->log_owned)
		fclose(d->log);
	d->log = NULL;
	d->log_owned = 0;
}
