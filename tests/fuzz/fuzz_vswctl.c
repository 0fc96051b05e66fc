// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: ivnet-vswitch's control requests and port
 * specifications on arbitrary bytes. What the parser accepts must be well
 * formed: verb and kind in range, strings terminated, the fields a port
 * kind needs present, nothing that could break DPDK's KEY=VALUE,... device
 * arguments (no comma in a path).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vswitch/ctl_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_spec(const struct vsw_port_spec *s)
{
	if (s->kind > VSW_PORT_IVNET || !memchr(s->name, 0, sizeof(s->name)) || !s->name[0] ||
	    !memchr(s->path, 0, sizeof(s->path)) || !memchr(s->dev, 0, sizeof(s->dev)) ||
	    !memchr(s->ctl, 0, sizeof(s->ctl)) || strchr(s->path, ','))
		__builtin_trap();
	if (s->kind == VSW_PORT_DPDK ? !s->dev[0] : !s->path[0])
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vsw_request req;
	struct vsw_port_spec spec;
	char err[160], text[VSW_CTL_LINE_MAX + 1];

	if (vsw_ctl_parse((const char *)data, size, &req, err, sizeof(err)) == 0) {
		if (req.verb > VSW_CTL_HELP || !memchr(req.name, 0, sizeof(req.name)))
			__builtin_trap();
		if (req.verb == VSW_CTL_PORT_ADD)
			check_spec(&req.spec);
	} else if (!memchr(err, 0, sizeof(err))) {
		__builtin_trap();
	}
	if (size < sizeof(text)) {
		memcpy(text, data, size);
		text[size] = '\0';
		if (vsw_spec_parse(text, &spec, err, sizeof(err)) == 0)
			check_spec(&spec);
	}
	return 0;
}
