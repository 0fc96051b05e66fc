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

/* "fifo:10", "rr:5", "nice:-5", "other", "none" */
static int parse_sched(struct ivnetd_placement_config *c, const char *v)
{
	if (!strcmp(v, "none")) {
		c->sched = IVNETD_SCHED_KEEP;
		return 0;
	}
	if (!strcmp(v, "other")) {
		c->sched = IVNETD_SCHED_OTHER;
		c->sched_value = 0;
		return 0;
	}
	if (!strncmp(v, "fifo:", 5)) {
		c->sched = IVNETD_SCHED_FIFO;
		return parse_int(v + 5, 1, 99, &c->sched_value);
	}
	if (!strncmp(v, "rr:", 3)) {
		c->sched = IVNETD_SCHED_RR;
		return parse_int(v + 3, 1, 99, &c->sched_value);
	}
	if (!strncmp(v, "nice:", 5)) {
		c->sched = IVNETD_SCHED_NICE;
		return parse_int(v + 5, -20, 19, &c->sched_value);
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
	int ret = 0;

	if (!strcmp(key, "placement") || !strcmp(key, "policy")) {
		bit = IVNETD_PLK_POLICY;
		if (!strcmp(v, "none"))
			c->policy = IVNETD_POLICY_NONE;
		else if (!strcmp(v, "pack"))
			c->policy = IVNETD_POLICY_PACK;
		else if (!strcmp(v, "spread"))
			c->policy = IVNETD_POLICY_SPREAD;
		else
			ret = -1;
	} else if (!strcmp(key, "pin")) {
		bit = IVNETD_PLK_PIN;
		if (!strcmp(v, "affinity"))
			c->pin = IVNETD_PIN_AFFINITY;
		else if (!strcmp(v, "cpuset"))
			c->pin = IVNETD_PIN_CPUSET;
		else
			ret = -1;
	} else if (!strcmp(key, "cpus")) {
		bit = IVNETD_PLK_CPUS;
		c->cpus_set = 1;
		if (ivnetd_cpulist_parse(v, &c->cpus) || !cpus_count(&c->cpus))
			ret = -1;
	} else if (!strcmp(key, "sched")) {
		bit = IVNETD_PLK_SCHED;
		ret = parse_sched(c, v);
	} else if (!strcmp(key, "mlock")) {
		if (!strcmp(v, "try"))
			c->mlock = IVNETD_MLOCK_TRY;
		else if (!strcmp(v, "require"))
			c->mlock = IVNETD_MLOCK_REQUIRE;
		else if (!strcmp(v, "off"))
			c->mlock = IVNETD_MLOCK_OFF;
		else
			ret = -1;
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
	switch (p) {
	case IVNETD_POLICY_NONE:
		return "none";
	case IVNETD_POLICY_PACK:
		return "pack";
	case IVNETD_POLICY_SPREAD:
		return "spread";
	}
	return "?";
}

const char *ivnetd_pin_name(enum ivnetd_pin m)
{
	return m == IVNETD_PIN_CPUSET ? "cpuset" : "affinity";
}

void ivnetd_sched_format(enum ivnetd_sched s, int value, char *buf, size_t n)
{
	switch (s) {
	case IVNETD_SCHED_KEEP:
		snprintf(buf, n, "none");
		break;
	case IVNETD_SCHED_OTHER:
		snprintf(buf, n, "other");
		break;
	case IVNETD_SCHED_FIFO:
		snprintf(buf, n, "fifo:%d", value);
		break;
	case IVNETD_SCHED_RR:
		snprintf(buf, n, "rr:%d", value);
		break;
	case IVNETD_SCHED_NICE:
		snprintf(buf, n, "nice:%d", value);
		break;
	}
}
