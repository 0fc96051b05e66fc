// SPDX-License-Identifier: MIT
/*
 * pin.c - where a domain's vCPUs and emulator threads run.
 *
 * The CPUs come from --pin CPULIST or from the broker's placement of the
 * segment (--pin broker). Policy pack pins every vCPU to all of them (the
 * domain stays on the cores next to its peers, the scheduler picks among
 * them); spread pins vCPU i to the i-th CPU, round-robin, so vCPUs do not
 * share a core. The emulator threads (QEMU's main loop, ivshmem's eventfd
 * handling) get the whole list.
 *
 * Persistently this is <cputune> in the definition, which libvirt applies
 * at every start; live, virDomainPinVcpuFlags and virDomainPinEmulator.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cpus.h"
#include "ivlv.h"

#define BIT_SET(m, i) ((m)[(i) / 8] |= (unsigned char)(1u << ((i) % 8)))
#define BIT_TEST(m, i) ((m)[(i) / 8] & (1u << ((i) % 8)))

/* util's list parser (cpus.h), into libvirt's byte maps of IVLV_CPUS_MAX
 * CPUs; a CPU the host does not have gets its own message. */
int ivlv_cpulist_parse(const char *s, unsigned char *map, unsigned max_cpus, char *err, size_t el)
{
	const char *p = s;
	int lo, hi, i, r;

	memset(map, 0, IVLV_CPUS_MAX / 8);
	if (max_cpus > IVLV_CPUS_MAX)
		max_cpus = IVLV_CPUS_MAX;
	if (!*s)
		r = -1; /* the empty set pins nothing: not a --pin */
	else
		while ((r = cpulist_range(&p, IVLV_CPUS_MAX, &lo, &hi)) > 0) {
			if ((unsigned)hi >= max_cpus) {
				snprintf(err, el, "CPU %d is not on this host (CPUs 0-%u)", hi,
					 max_cpus - 1);
				return -1;
			}
			for (i = lo; i <= hi; i++)
				BIT_SET(map, i);
		}
	if (r < 0)
		snprintf(err, el, "bad CPU list '%.64s' (like 0-3,6)", s);
	return r;
}

void ivlv_cpulist_format(const unsigned char *map, unsigned max_cpus, char *buf, size_t n)
{
	size_t len = 0;
	unsigned i, j;

	buf[0] = '\0';
	for (i = 0; i < max_cpus; i++) {
		if (!BIT_TEST(map, i))
			continue;
		for (j = i; j + 1 < max_cpus && BIT_TEST(map, j + 1); j++)
			;
		if (cpulist_put_range(buf, n, &len, (int)i, (int)j))
			return;
		i = j;
	}
}

void ivlv_pin_vcpu(const struct ivlv_pin *pin, unsigned vcpu, unsigned char *map)
{
	unsigned i, k = 0, want;

	memset(map, 0, IVLV_CPUS_MAX / 8);
	if (pin->policy == IVLV_PIN_PACK || !pin->ncpus) {
		memcpy(map, pin->cpus, sizeof(pin->cpus));
		return;
	}
	want = vcpu % pin->ncpus;
	for (i = 0; i < IVLV_CPUS_MAX; i++) {
		if (!BIT_TEST(pin->cpus, i))
			continue;
		if (k++ == want) {
			BIT_SET(map, i);
			return;
		}
	}
}

static int is_elem(xmlNodePtr n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && !xmlStrcmp(n->name, BAD_CAST name);
}

static xmlNodePtr child(xmlNodePtr parent, const char *name)
{
	xmlNodePtr n;

	for (n = parent->children; n; n = n->next)
		if (is_elem(n, name))
			return n;
	return NULL;
}

/* <vcpu>N</vcpu>: the most vCPUs the domain can have, each of which gets
 * a <vcpupin>. */
static int max_vcpus(xmlNodePtr root, unsigned *n)
{
	xmlNodePtr v = child(root, "vcpu");
	xmlChar *text = v ? xmlNodeGetContent(v) : NULL;
	unsigned long k = 0;
	char *end = NULL;

	if (text) {
		errno = 0;
		k = strtoul((const char *)text, &end, 10);
	}
	*n = (unsigned)k;
	k = text && end != (char *)text && !*end && !errno && k > 0 && k <= IVLV_CPUS_MAX;
	xmlFree(text);
	return k ? 0 : -1;
}

static int add_pin(xmlNodePtr tune, const char *elem, int vcpu, const unsigned char *map)
{
	char cpus[1024], id[16];
	xmlNodePtr n = xmlNewChild(tune, NULL, BAD_CAST elem, NULL);

	ivlv_cpulist_format(map, IVLV_CPUS_MAX, cpus, sizeof(cpus));
	snprintf(id, sizeof(id), "%d", vcpu);
	if (!n || (vcpu >= 0 && !xmlNewProp(n, BAD_CAST "vcpu", BAD_CAST id)) ||
	    !xmlNewProp(n, BAD_CAST "cpuset", BAD_CAST cpus))
		return -1;
	return 0;
}

int ivlv_cputune_set(xmlDocPtr doc, const struct ivlv_pin *pin, char *err, size_t el)
{
	xmlNodePtr root = xmlDocGetRootElement(doc), tune, n, next;
	unsigned char map[IVLV_CPUS_MAX / 8];
	unsigned nvcpus, i;

	if (max_vcpus(root, &nvcpus)) {
		snprintf(err, el, "the definition has no valid <vcpu> count");
		return -1;
	}
	tune = child(root, "cputune");
	if (!tune) {
		xmlNodePtr vcpu = child(root, "vcpu");

		tune = xmlNewNode(NULL, BAD_CAST "cputune");
		if (!tune || !xmlAddNextSibling(vcpu, tune)) {
			xmlFreeNode(tune);
			snprintf(err, el, "out of memory");
			return -1;
		}
	}
	for (n = tune->children; n; n = next) {
		next = n->next;
		if (is_elem(n, "vcpupin") || is_elem(n, "emulatorpin")) {
			xmlUnlinkNode(n);
			xmlFreeNode(n);
		}
	}
	for (i = 0; i < nvcpus; i++) {
		ivlv_pin_vcpu(pin, i, map);
		if (add_pin(tune, "vcpupin", (int)i, map))
			goto oom;
	}
	if (add_pin(tune, "emulatorpin", -1, pin->cpus))
		goto oom;
	return 0;
oom:
	snprintf(err, el, "out of memory");
	return -1;
}

int ivlv_pin_live(struct ivlv *c, virDomainPtr dom, const struct ivlv_pin *pin)
{
	unsigned char map[IVLV_CPUS_MAX / 8];
	int host = virNodeGetCPUMap(c->conn, NULL, NULL, 0), nvcpus, i, maplen;

	nvcpus = virDomainGetVcpusFlags(dom, VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_VCPU_MAXIMUM);
	if (host <= 0 || nvcpus <= 0)
		return ivlv_fail(c, "%s: cannot count CPUs: %s", virDomainGetName(dom),
				 ivlv_libvirt_error());
	maplen = VIR_CPU_MAPLEN(host > IVLV_CPUS_MAX ? IVLV_CPUS_MAX : host);
	for (i = 0; i < nvcpus; i++) {
		ivlv_pin_vcpu(pin, (unsigned)i, map);
		if (virDomainPinVcpuFlags(dom, (unsigned)i, map, maplen, VIR_DOMAIN_AFFECT_LIVE))
			return ivlv_fail(c, "%s: cannot pin vCPU %d: %s", virDomainGetName(dom), i,
					 ivlv_libvirt_error());
	}
	memcpy(map, pin->cpus, sizeof(map));
	if (virDomainPinEmulator(dom, map, maplen, VIR_DOMAIN_AFFECT_LIVE))
		return ivlv_fail(c, "%s: cannot pin the emulator: %s", virDomainGetName(dom),
				 ivlv_libvirt_error());
	return 0;
}
