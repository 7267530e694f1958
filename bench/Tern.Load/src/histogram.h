/* Latency histogram in nanoseconds: exact below 128 ns, then 64 buckets per power of two (error under 1.6 %),
 * so recording is a few instructions and percentiles stay honest from nanoseconds to minutes. */
#ifndef TERN_LOAD_HISTOGRAM_H
#define TERN_LOAD_HISTOGRAM_H

#include <stdint.h>

#define HISTOGRAM_BUCKETS 3776

struct histogram {
    uint64_t count;
    uint64_t max;
    uint64_t buckets[HISTOGRAM_BUCKETS];
};

static inline unsigned histogram_index(uint64_t value)
{
    if (value < 128)
        return (unsigned)value;
    unsigned shift = 63u - (unsigned)__builtin_clzll(value) - 6u;
    return 64u * shift + (unsigned)(value >> shift);
}

static inline void histogram_record(struct histogram *h, uint64_t value)
{
    h->buckets[histogram_index(value)]++;
    h->count++;
    if (value > h->max)
        h->max = value;
}

void histogram_merge(struct histogram *into, const struct histogram *from);

/* The value at quantile q (0..1), as the middle of its bucket; 0 when empty. */
uint64_t histogram_quantile(const struct histogram *h, double q);

#endif
