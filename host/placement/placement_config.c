// SPDX-License-Identifier: MIT
/*
 * placement_config.c - the placement options (--segment keys, long options
 * and `placement set` requests share them): names in, names out.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "placement.h"

void ivnetd_placement_defaults(struct ivnetd_placement_config *c)
{
	memset(c, 0, sizeof(*c));
	c->policy = IVNETD_POLICY_NONE;
	c->pin = IVNETD_PIN_AFFINITY;
	c->sched = IVNETD_SCHED_KEEP;
	c->mlock = IVNETD_MLOCK_DEFAULT;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v;

	if (!*s || (!isdigit((unsigned char)*s) && *s != '-'))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

/* The names of each option's values, by enum; what is parsed and what is
 * shown come from the same table. */
static const char *const policy_names[] = {
	[IVNETD_POLICY_NONE] = "none",
	[IVNETD_POLICY_PACK] = "pack",
	[IVNETD_POLICY_SPREAD] = "spread",
};

static const char *const pin_names[] = {
	[IVNETD_PIN_AFFINITY] = "affinity",
	[IVNETD_PIN_CPUSET] = "cpuset",
};

static const char *const mlock_names[] = {
	[IVNETD_MLOCK_DEFAULT] = NULL, /* not a value one can give */
	[IVNETD_MLOCK_TRY] = "try",
	[IVNETD_MLOCK_REQUIRE] = "require",
	[IVNETD_MLOCK_OFF] = "off",
};

/* sched=NAME, or NAME:VALUE within [lo, hi] for those that take one. */
static const struct {
	const char *name;
	int lo, hi; /* both 0: no value */
} scheds[] = {
	[IVNETD_SCHED_KEEP] = {"none", 0, 0},	 [IVNETD_SCHED_OTHER] = {"other", 0, 0},
	[IVNETD_SCHED_FIFO] = {"fifo", 1, 99},	 [IVNETD_SCHED_RR] = {"rr", 1, 99},
	[IVNETD_SCHED_NICE] = {"nice", -20, 19},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The value v names in names[n] into *out; 0, or -1 for no such name. */
static int by_name(const char *v, const char *const *names, size_t n, int *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (names[i] && !strcmp(v, names[i])) {
			*out = (int)i;
			return 0;
		}
	return -1;
}

/* "fifo:10", "rr:5", "nice:-5", "other", "none" */
static int parse_sched(struct ivnetd_placement_config *c, const char *v)
{
	size_t i;

	for (i = 0; i < COUNT(scheds); i++) {
		size_t len = strlen(scheds[i].name);

		if (strncmp(v, scheds[i].name, len))
			continue;
		c->sched = (enum ivnetd_sched)i;
		c->sched_value = 0;
		if (!scheds[i].lo && !scheds[i].hi)
			return v[len] ? -1 : 0;
		if (v[len] != ':')
			return -1;
		return parse_int(v + len + 1, scheds[i].lo, scheds[i].hi, &c->sched_value);
	}
	return -1;
}

/* A QMP socket pattern: an absolute path in which %p is the peer's pid, %i
 * its id, %% a percent sign; nothing else may follow a %. */
static int check_qmp(const char *v)
{
	const char *p;

	if (v[0] != '/' || strlen(v) >= IVNETD_PL_PATH_MAX)
		return -1;
	for (p = v; *p; p++)
		if (*p == '%' && (p[1] == 'p' || p[1] == 'i' || p[1] == '%'))
			p++;
		else if (*p == '%')
			return -1;
	return 0;
}

/* An absolute path with no "." or ".." component: the daemon makes
 * directories in it. */
static int check_dir(const char *v)
{
	const char *p = v;

	if (v[0] != '/' || strlen(v) >= IVNETD_PL_PATH_MAX)
		return -1;
	while (*p) {
		size_t n;

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return -1;
		p += n;
	}
	return 0;
}

int ivnetd_placement_key(struct ivnetd_placement_config *c, const char *key, const char *v,
			 unsigned *keys)
{
	unsigned bit = 0;
	int ret = 0, i;

	if (!strcmp(key, "placement") || !strcmp(key, "policy")) {
		bit = IVNETD_PLK_POLICY;
		ret = by_name(v, policy_names, COUNT(policy_names), &i);
		if (!ret)
			c->policy = (enum ivnetd_policy)i;
	} else if (!strcmp(key, "pin")) {
		bit = IVNETD_PLK_PIN;
		ret = by_name(v, pin_names, COUNT(pin_names), &i);
		if (!ret)
			c->pin = (enum ivnetd_pin)i;
	} else if (!strcmp(key, "cpus")) {
		bit = IVNETD_PLK_CPUS;
		c->cpus_set = 1;
		if (ivnetd_cpulist_parse(v, &c->cpus) || !cpus_count(&c->cpus))
			ret = -1;
	} else if (!strcmp(key, "sched")) {
		bit = IVNETD_PLK_SCHED;
		ret = parse_sched(c, v);
	} else if (!strcmp(key, "mlock")) {
		ret = by_name(v, mlock_names, COUNT(mlock_names), &i);
		if (!ret)
			c->mlock = (enum ivnetd_mlock)i;
	} else if (!strcmp(key, "qmp")) {
		ret = check_qmp(v);
		if (!ret)
			strcpy(c->qmp, v);
	} else if (!strcmp(key, "cgroup")) {
		ret = check_dir(v);
		if (!ret)
			strcpy(c->cgroup, v);
	} else {
		return -2;
	}
	if (!ret && keys)
		*keys |= bit;
	return ret;
}

const char *ivnetd_policy_name(enum ivnetd_policy p)
{
	return (unsigned)p < COUNT(policy_names) ? policy_names[p] : "?";
}

const char *ivnetd_pin_name(enum ivnetd_pin m)
{
	return (unsigned)m < COUNT(pin_names) ? pin_names[m] : "?";
}

void ivnetd_sched_format(enum ivnetd_sched s, int value, char *buf, size_t n)
{
	if ((unsigned)s >= COUNT(scheds))
		snprintf(buf, n, "?");
	else if (!scheds[s].lo && !scheds[s].hi)
		snprintf(buf, n, "%s", scheds[s].name);
	else
		snprintf(buf, n, "%s:%d", scheds[s].name, value);
}
