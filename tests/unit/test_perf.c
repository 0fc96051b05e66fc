// SPDX-License-Identifier: MIT
/*
 * ivnet-perf's arithmetic, which its reports rest on: the latency histogram
 * (quantiles against a sorted-array reference, merging, exact small values)
 * and summaries (median, min, max); and the --verify payload patterns, which
 * must catch any flipped byte and any wrong sequence number.
 */
#include "testlib.h"

#include "pattern.h"
#include "stats.h"

#define N 20011

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* A value spread over many powers of two, as latencies are. */
static uint64_t rand_value(uint64_t *seed, unsigned int max_bits)
{
	unsigned int bits = t_rand_range(seed, 0, max_bits);

	return bits ? t_rand(seed) >> (64 - bits) : 0;
}

/*
 * Against the exact quantile of the sorted values (the value of rank
 * ceil(q * n)): never below it, above it by less than the bucket width,
 * 1/64 of the value (exact below 128).
 */
static void check_quantiles(const struct hist *h, const uint64_t *sorted, uint64_t n)
{
	static const int permille[] = {1, 10, 100, 250, 500, 750, 900, 990, 999};
	unsigned int i;

	CHECK_EQ(h->count, n);
	CHECK_EQ(hist_quantile(h, 0), sorted[0]);
	CHECK_EQ(hist_quantile(h, -1), sorted[0]);
	CHECK_EQ(hist_quantile(h, 1), sorted[n - 1]);
	CHECK_EQ(hist_quantile(h, 2), sorted[n - 1]);
	CHECK_EQ(h->min, sorted[0]);
	CHECK_EQ(h->max, sorted[n - 1]);
	for (i = 0; i < sizeof(permille) / sizeof(permille[0]); i++) {
		uint64_t rank = ((uint64_t)permille[i] * n + 999) / 1000;
		uint64_t want = sorted[rank - 1];
		uint64_t got = hist_quantile(h, permille[i] / 1000.0);

		if (got < want || got - want > (want < 128 ? 0 : want / 64)) {
			fprintf(stderr,
				"q=0.%03d of %" PRIu64 " values: %" PRIu64 ", exact %" PRIu64 "\n",
				permille[i], n, got, want);
			exit(1);
		}
		if (i)
			CHECK(got >= hist_quantile(h, permille[i - 1] / 1000.0));
	}
}

static void test_quantiles_random(void)
{
	static uint64_t v[N];
	static struct hist h;
	uint64_t seed = 1;
	double sum;
	int round, i;

	for (round = 0; round < 6; round++) {
		/* 40 bits: latencies up to 18 minutes in ns; 64: any value */
		unsigned int bits = round < 3 ? 40 : 64;
		int n = round % 3 == 0 ? N : round % 3 == 1 ? 1 + (int)(t_rand(&seed) % 300) : 2;

		hist_init(&h);
		sum = 0;
		for (i = 0; i < n; i++) {
			v[i] = rand_value(&seed, bits);
			hist_add(&h, v[i]);
			sum += (double)v[i];
		}
		qsort(v, (size_t)n, sizeof(v[0]), cmp_u64);
		check_quantiles(&h, v, (uint64_t)n);
		CHECK(hist_mean(&h) == sum / n);
	}
	/* the extremes of the range */
	hist_init(&h);
	hist_add(&h, UINT64_MAX);
	hist_add(&h, 1ull << 63);
	hist_add(&h, 0);
	CHECK_EQ(hist_quantile(&h, 0.1), 0);
	CHECK(hist_quantile(&h, 0.5) >= 1ull << 63);
	CHECK(hist_quantile(&h, 0.5) <= (1ull << 63) + (1ull << 57));
	CHECK(hist_quantile(&h, 0.9) == UINT64_MAX);
}

/* Values below 128 have a bucket each: every quantile is exact. */
static void test_quantiles_exact(void)
{
	struct hist h;
	uint64_t v;

	hist_init(&h);
	CHECK_EQ(h.count, 0);
	CHECK_EQ(hist_quantile(&h, 0.5), 0);
	CHECK(hist_mean(&h) == 0);
	for (v = 0; v < 128; v++)
		hist_add(&h, v);
	for (v = 0; v < 128; v++)
		CHECK_EQ(hist_quantile(&h, (double)(v + 1) / 128), v);
	CHECK(hist_mean(&h) == 63.5);
	/* one value: every quantile is that value, even where buckets are coarse */
	hist_init(&h);
	hist_add(&h, 1000003);
	CHECK_EQ(hist_quantile(&h, 0.001), 1000003);
	CHECK_EQ(hist_quantile(&h, 0.5), 1000003);
	CHECK_EQ(hist_quantile(&h, 1), 1000003);
	/* two equal values and one far above: the median is exact */
	hist_init(&h);
	hist_add(&h, 77);
	hist_add(&h, 77);
	hist_add(&h, 5000000);
	CHECK_EQ(hist_quantile(&h, 0.5), 77);
	CHECK_EQ(hist_quantile(&h, 0.99), 5000000);
}

/* Merging the repetitions' histograms is adding all their values to one. */
static void test_merge(void)
{
	static struct hist part[3], all, merged, empty;
	uint64_t seed = 5;
	int i, k;

	hist_init(&all);
	hist_init(&merged);
	hist_init(&empty);
	for (k = 0; k < 3; k++) {
		hist_init(&part[k]);
		/* values below 2^32, so that sums are exact in any order */
		for (i = 0; i < 1000 * (k + 1); i++) {
			uint64_t v = rand_value(&seed, 32) + (uint64_t)k * 1000;

			hist_add(&part[k], v);
			hist_add(&all, v);
		}
	}
	hist_merge(&merged, &empty);
	CHECK_EQ(merged.count, 0);
	CHECK_EQ(merged.min, UINT64_MAX);
	for (k = 0; k < 3; k++) {
		hist_merge(&merged, &part[k]);
		hist_merge(&merged, &empty);
	}
	CHECK_EQ(merged.count, all.count);
	CHECK_EQ(merged.min, all.min);
	CHECK_EQ(merged.max, all.max);
	CHECK(merged.sum == all.sum);
	CHECK(!memcmp(merged.bucket, all.bucket, sizeof(all.bucket)));
	for (i = 1; i <= 1000; i++)
		CHECK_EQ(hist_quantile(&merged, i / 1000.0), hist_quantile(&all, i / 1000.0));
}

static void test_summarize(void)
{
	double odd[] = {5, 1, 9, 3, 7}, even[] = {10, 2, 8, 4}, one[] = {42};
	double same[] = {2.5, 2.5, 2.5, 2.5}, neg[] = {-1, -3};
	double copy[5];
	struct summary s;

	memcpy(copy, odd, sizeof(odd));
	s = summarize(odd, 5);
	CHECK(s.median == 5 && s.min == 1 && s.max == 9 && s.n == 5);
	CHECK(!memcmp(copy, odd, sizeof(odd))); /* the caller's order is kept */
	s = summarize(even, 4);
	CHECK(s.median == 6 && s.min == 2 && s.max == 10 && s.n == 4);
	s = summarize(one, 1);
	CHECK(s.median == 42 && s.min == 42 && s.max == 42 && s.n == 1);
	s = summarize(same, 4);
	CHECK(s.median == 2.5 && s.min == 2.5 && s.max == 2.5);
	s = summarize(neg, 2);
	CHECK(s.median == -2 && s.min == -3 && s.max == -1);
	s = summarize(one, 0);
	CHECK(s.median == 0 && s.min == 0 && s.max == 0 && s.n == 0);
}

/* ------------------------------------------------------------- patterns */

#define BUF (64u * 1024u + 64u)

static uint8_t buf[BUF];

/*
 * Messages: fill then check finds nothing; the bytes before `from` (the
 * Ethernet header) are left alone and never judged; every single flipped
 * byte after it is counted, in the sequence number too.
 */
static void test_pattern_message(void)
{
	static const uint64_t seqs[] = {
		0, 1, 255, 256, 0x123456789abcull, (1ull << 63) | 7, UINT64_MAX - 1};
	static const size_t lens[] = {1, 7, 8, 13, 14, 21, 22, 23, 64, 1500, 9000, 65536};
	static const size_t froms[] = {0, 14};
	uint64_t seed = 3;
	unsigned int a, b, c;

	for (a = 0; a < sizeof(lens) / sizeof(lens[0]); a++)
		for (b = 0; b < sizeof(froms) / sizeof(froms[0]); b++)
			for (c = 0; c < sizeof(seqs) / sizeof(seqs[0]); c++) {
				size_t len = lens[a], from = froms[b], i;
				uint64_t seq = seqs[c];
				int room = len >= from + PATTERN_SEQ_LEN;

				if (len < from)
					continue;
				memset(buf, 0xee, BUF);
				pattern_fill(buf, len, from, seq);
				for (i = 0; i < from; i++)
					CHECK_EQ(buf[i], 0xee);
				CHECK_EQ(buf[len], 0xee);
				CHECK_EQ(pattern_check(buf, len, from, seq), 0);
				CHECK_EQ(pattern_seq(buf, len, from), room ? seq : UINT64_MAX);
				/* the header is not ours to judge */
				for (i = 0; i < from; i++)
					buf[i] ^= 0xff;
				CHECK_EQ(pattern_check(buf, len, from, seq), 0);
				/* any one byte flipped (every byte of short
				 * messages, a sample of long ones) */
				for (i = from; i < len; i++) {
					uint8_t flip = (uint8_t)t_rand_range(&seed, 1, 255);

					if (len > 2000 && i == from + 64)
						i += t_rand_range(&seed, 0, 1000);
					if (len > 2000 && i >= from + 64 && i < len - 64)
						continue;
					buf[i] ^= flip;
					if (room && i < from + PATTERN_SEQ_LEN) {
						CHECK(pattern_check(buf, len, from, seq) > 0);
						/* a receiver that can only go by the
						 * number the message carries (UDP)
						 * must see it too */
						if (len > from + PATTERN_SEQ_LEN)
							CHECK(pattern_check(buf, len, from,
									    pattern_seq(buf, len,
											from)) > 0);
					} else
						CHECK_EQ(pattern_check(buf, len, from, seq), 1);
					buf[i] ^= flip;
				}
				CHECK_EQ(pattern_check(buf, len, from, seq), 0);
				/* another message's bytes: every byte is wrong
				 * when the numbers differ by one */
				CHECK_EQ(pattern_check(buf, len, from, seq + 1), len - from);
				/* ... and at least the sequence number when the
				 * payloads coincide (numbers 256 apart) */
				if (room)
					CHECK(pattern_check(buf, len, from, seq + 256) >=
					      PATTERN_SEQ_LEN);
			}
}

/* pattern_stamp writes the number and nothing else. */
static void test_pattern_stamp(void)
{
	uint8_t m[40];
	unsigned int i;

	memset(m, 0x5a, sizeof(m));
	pattern_stamp(m, sizeof(m), 14, 0x0102030405060708ull);
	for (i = 0; i < sizeof(m); i++)
		if (i < 14 || i >= 22)
			CHECK_EQ(m[i], 0x5a);
	CHECK_EQ(m[14], 0x08); /* little-endian, as documented */
	CHECK_EQ(m[21], 0x01);
	CHECK_EQ(pattern_seq(m, sizeof(m), 14), 0x0102030405060708ull);
	/* no room: nothing written */
	memset(m, 0x5a, sizeof(m));
	pattern_stamp(m, 21, 14, 1);
	for (i = 0; i < sizeof(m); i++)
		CHECK_EQ(m[i], 0x5a);
	CHECK_EQ(pattern_seq(m, 21, 14), UINT64_MAX);
}

/*
 * Byte streams: a stream filled in pieces of one size checks out in pieces
 * of any other (what TCP does to it); a piece checked at the wrong offset
 * (lost, repeated or reordered bytes) fails, and so does one flipped byte.
 */
static void test_pattern_stream(void)
{
	/* nearby shifts, and the large ones where a pattern built from a few
	 * bytes of the offset would repeat (16 MiB, 4 GiB, ...) */
	static const uint64_t shifts[] = {1,	 2,	     3,		 100,	     255,
					  256,	 257,	     4096,	 65535,	     65536,
					  65537, 1ull << 24, 1ull << 32, 1ull << 40, 3ull << 48};
	uint64_t seed = 11, off, base;
	unsigned int i;

	for (base = 0; base < (1ull << 40); base = base * 977 + 12345) {
		size_t len = BUF - 64;

		/* filled in 1500-byte writes ... */
		for (off = 0; off < len; off += 1500)
			pattern_fill_stream(buf + off, off + 1500 > len ? len - off : 1500,
					    base + off);
		/* ... read back in random pieces */
		for (off = 0; off < len;) {
			size_t n = t_rand_range(&seed, 1, 9000);

			if (off + n > len)
				n = len - off;
			CHECK_EQ(pattern_check_stream(buf + off, n, base + off), 0);
			off += n;
		}
		for (i = 0; i < sizeof(shifts) / sizeof(shifts[0]); i++) {
			CHECK(pattern_check_stream(buf + 4096, 1024, base + 4096 + shifts[i]) > 0);
			if (base + 4096 >= shifts[i])
				CHECK(pattern_check_stream(buf + 4096, 1024,
							   base + 4096 - shifts[i]) > 0);
		}
		for (i = 0; i < 2000; i++) {
			size_t at = t_rand_range(&seed, 0, (uint32_t)len - 1), from = at & ~4095ul;
			size_t n = from + 4096 > len ? len - from : 4096;
			uint8_t flip = (uint8_t)t_rand_range(&seed, 1, 255);

			buf[at] ^= flip;
			CHECK_EQ(pattern_check_stream(buf + from, n, base + from), 1);
			buf[at] ^= flip;
		}
		CHECK_EQ(pattern_check_stream(buf, len, base), 0);
	}
}

int main(void)
{
	test_quantiles_random();
	test_quantiles_exact();
	test_merge();
	test_summarize();
	test_pattern_message();
	test_pattern_stamp();
	test_pattern_stream();
	printf("test_perf: ok\n");
	return 0;
}
