/* SPDX-License-Identifier: MIT */
/*
 * pattern.h - payloads that can be checked byte by byte (--verify).
 *
 * A message starts with its sequence number (8 bytes, little-endian) when
 * it has room; every other byte is a function of (sequence, offset), so a
 * byte that is lost, repeated, reordered or flipped is caught. A byte
 * stream (TCP_STREAM, UNIX_STREAM) has no messages: there each byte is a
 * function of its offset in the stream.
 */
#ifndef IVNET_PERF_PATTERN_H
#define IVNET_PERF_PATTERN_H

#include <stddef.h>
#include <stdint.h>

#define PATTERN_SEQ_LEN 8

/* The sum of seq's bytes: changing any one of them changes it (as does
 * adding one), so a message whose number was altered no longer matches its
 * own pattern, where the receiver can only go by that number (UDP). */
static inline uint8_t pattern_seq_sum(uint64_t seq)
{
	uint8_t sum = 0;
	int i;

	for (i = 0; i < 8; i++)
		sum = (uint8_t)(sum + (seq >> (8 * i)));
	return sum;
}

/* The offset goes through a multiplicative hash: a stream's pattern does
 * not repeat with any period, so bytes displaced by any distance (a lost or
 * repeated block, however large) are caught, not only nearby ones. */
static inline uint8_t pattern_byte(uint64_t seq, uint64_t off)
{
	return (uint8_t)(pattern_seq_sum(seq) * 0x9du +
			 (((off + 1) * 0x9e3779b97f4a7c15ull) >> 56));
}

/* Fill buf[from..len) for message seq; the sequence number too when the
 * message has room for it. */
void pattern_fill(uint8_t *buf, size_t len, size_t from, uint64_t seq);
/* Stamp only the sequence number (the rest of buf keeps what it had). */
void pattern_stamp(uint8_t *buf, size_t len, size_t from, uint64_t seq);
/* The sequence number stamped at from, or UINT64_MAX if there is no room. */
uint64_t pattern_seq(const uint8_t *buf, size_t len, size_t from);
/* Bytes of buf[from..len) that differ from message seq's pattern. */
uint64_t pattern_check(const uint8_t *buf, size_t len, size_t from, uint64_t seq);

/* Byte streams: off is the offset of buf[0] in the stream. */
void pattern_fill_stream(uint8_t *buf, size_t len, uint64_t off);
uint64_t pattern_check_stream(const uint8_t *buf, size_t len, uint64_t off);

#endif
