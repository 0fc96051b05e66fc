// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the control socket's request parser and the broker's
 * --segment and size parsers, on arbitrary bytes. A request the parser
 * accepts must be well formed (verb in range, strings terminated, peer id
 * bounded).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ivnetd.h"
#include "size.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ivnetd_ctl_request req;
	struct ivnetd_segment_config seg;
	char err[160], text[1100];
	uint64_t bytes;

	if (ivnetd_ctl_parse((const char *)data, size, &req, err, sizeof(err)) == 0) {
		if (req.verb > IVNETD_CTL_HELP || req.peer_id >= IVNET_PEERS_MAX ||
		    !memchr(req.segment, 0, sizeof(req.segment)) ||
		    !memchr(req.label, 0, sizeof(req.label)) ||
		    !memchr(req.uuid, 0, sizeof(req.uuid)) ||
		    !memchr(req.qmp, 0, sizeof(req.qmp)) ||
		    (req.verb == IVNETD_CTL_PLACEMENT_SET && !req.place_keys) ||
		    req.place.policy > IVNETD_POLICY_SPREAD || req.place.pin > IVNETD_PIN_CPUSET)
			__builtin_trap();
	} else if (!memchr(err, 0, sizeof(err))) {
		__builtin_trap();
	}
	if (size < sizeof(text)) {
		memcpy(text, data, size);
		text[size] = '\0';
		ivnetd_segment_defaults(&seg);
		ivnetd_parse_segment(&seg, text, err, sizeof(err));
		host_parse_size(text, &bytes);
	}
	return 0;
}
