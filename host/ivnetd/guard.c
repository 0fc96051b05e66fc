// SPDX-License-Identifier: MIT
/*
 * guard.c - a region whose backing could not be sealed (a POSIX shm object
 * or a file, allowed with --unsealed) against a peer that truncates it.
 *
 * Every peer holds the fd and may shrink it; the broker's mapping of the
 * lost range then faults. Before each event is handled the size is checked
 * (fstat) and a shrunken backing grown back: the lost pages return as zeros,
 * the broker writes what it owns again (the header, the admin half of the
 * peer table, from its own state), and empty rings are what zeroed rings
 * are, which peers resync from. A truncation between that check and an
 * access raises SIGBUS: the handler maps zero pages over the whole mapping
 * (a hugetlb mapping splits only at huge page boundaries) so that the
 * access completes, and marks the segment; the next check maps the backing
 * back over it. A fault anywhere else goes to the disposition that was
 * there before (the default, or a sanitizer's report).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ivnetd.h"

static struct ivnetd_segment *guarded[IVNETD_SEGMENTS_MAX];
static struct sigaction prev_bus;
static int installed;

static void on_sigbus(int sig, siginfo_t *si, void *ctx)
{
	uintptr_t a = (uintptr_t)si->si_addr;
	int i;

	(void)ctx;
	for (i = 0; si->si_code > 0 && i < IVNETD_SEGMENTS_MAX; i++) {
		struct ivnetd_segment *s = guarded[i];

		if (!s || a - (uintptr_t)s->region.base >= s->region.size)
			continue;
		/* The system call itself: async-signal-safe, and not a
		 * sanitizer's interceptor. */
		if (syscall(SYS_mmap, s->region.base, (size_t)s->region.size,
			    PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
			    0) == -1)
			break;
		s->faulted = 1;
		return;
	}
	/* Not ours: the faulting access runs again under the disposition
	 * that was there; a signal that was sent is sent again. */
	sigaction(SIGBUS, &prev_bus, NULL);
	if (si->si_code <= 0)
		raise(sig);
}

static int install(void)
{
	struct sigaction sa;

	if (installed)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &prev_bus) < 0)
		return -errno;
	installed = 1;
	return 0;
}

int ivnetd_guard_add(struct ivnetd_segment *s)
{
	int i, err;

	if (s->cfg.backing == IVNET_BACKING_MEMFD)
		return 0; /* sealed: its size cannot change */
	err = install();
	if (err)
		return err;
	for (i = 0; i < IVNETD_SEGMENTS_MAX; i++) {
		if (!guarded[i]) {
			guarded[i] = s;
			return 0;
		}
	}
	return -ENOSPC;
}

void ivnetd_guard_remove(struct ivnetd_segment *s)
{
	int i;

	for (i = 0; i < IVNETD_SEGMENTS_MAX; i++)
		if (guarded[i] == s)
			guarded[i] = NULL;
}

static int is_guarded(const struct ivnetd_segment *s)
{
	int i;

	for (i = 0; i < IVNETD_SEGMENTS_MAX; i++)
		if (guarded[i] == s)
			return 1;
	return 0;
}

/* What the broker owns in the region, as it wrote it. */
static void rewrite(struct ivnetd_segment *s)
{
	struct ivnet_region_hdr *h = ivnet_region_hdr(&s->region);
	uint32_t gen = ivnet_load_relaxed(&h->table_gen);

	memcpy(h, &s->hdr, sizeof(s->hdr));
	ivnet_store_relaxed(&h->table_gen, gen);
	ivnetd_peer_rewrite_all(s);
}

void ivnetd_guard(struct ivnetd_segment *s)
{
	char err[IVNET_ERRLEN];
	uint64_t was = s->region.size;
	int ret;

	if (!is_guarded(s))
		return;
	ret = ivnet_region_regrow(&s->region, &was, err);
	if (ret < 0) {
		ivnetd_log(s->d, "error segment=%s region truncated: %s", s->cfg.name, err);
		return;
	}
	if (ret == 0 && !s->faulted)
		return;
	if (s->faulted) {
		/* cleared first: a fault during the rewrite marks it again */
		s->faulted = 0;
		if (ivnet_region_remap(&s->region, err)) {
			s->faulted = 1;
			ivnetd_log(s->d, "error segment=%s region truncated: %s", s->cfg.name, err);
			return;
		}
	}
	ivnetd_log(s->d, "tamper segment=%s region truncated to %" PRIu64 " bytes: restored",
		   s->cfg.name, was);
	rewrite(s);
}

void ivnetd_guard_all(struct ivnetd *d)
{
	int i;

	for (i = 0; i < d->nseg; i++)
		ivnetd_guard(&d->seg[i]);
}
