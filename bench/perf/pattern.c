// SPDX-License-Identifier: MIT
/* pattern.c - payload fill and check for ivnet-perf --verify. */
#include <string.h>

#include "pattern.h"

#define STREAM_SEQ 0x5a5a5a5a5a5a5a5aull

void pattern_stamp(uint8_t *buf, size_t len, size_t from, uint64_t seq)
{
	int i;

	if (len < from + PATTERN_SEQ_LEN)
		return;
	for (i = 0; i < PATTERN_SEQ_LEN; i++)
		buf[from + (size_t)i] = (uint8_t)(seq >> (8 * i));
}

void pattern_fill(uint8_t *buf, size_t len, size_t from, uint64_t seq)
{
	size_t i = from;

	if (len >= from + PATTERN_SEQ_LEN) {
		pattern_stamp(buf, len, from, seq);
		i += PATTERN_SEQ_LEN;
	}
	for (; i < len; i++)
		buf[i] = pattern_byte(seq, i);
}

uint64_t pattern_seq(const uint8_t *buf, size_t len, size_t from)
{
	uint64_t seq = 0;
	int i;

	if (len < from + PATTERN_SEQ_LEN)
		return UINT64_MAX;
	for (i = PATTERN_SEQ_LEN - 1; i >= 0; i--)
		seq = seq << 8 | buf[from + (size_t)i];
	return seq;
}

uint64_t pattern_check(const uint8_t *buf, size_t len, size_t from, uint64_t seq)
{
	uint64_t bad = 0;
	size_t i = from;

	if (len >= from + PATTERN_SEQ_LEN) {
		if (pattern_seq(buf, len, from) != seq)
			bad += PATTERN_SEQ_LEN;
		i += PATTERN_SEQ_LEN;
	}
	for (; i < len; i++)
		bad += buf[i] != pattern_byte(seq, i);
	return bad;
}

void pattern_fill_stream(uint8_t *buf, size_t len, uint64_t off)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = pattern_byte(STREAM_SEQ, off + i);
}

uint64_t pattern_check_stream(const uint8_t *buf, size_t len, uint64_t off)
{
	uint64_t bad = 0;
	size_t i;

	for (i = 0; i < len; i++)
		bad += buf[i] != pattern_byte(STREAM_SEQ, off + i);
	return bad;
}
