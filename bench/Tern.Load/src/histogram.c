#include "histogram.h"

#include <math.h>

void histogram_merge(struct histogram *into, const struct histogram *from)
{
    for (unsigned i = 0; i < HISTOGRAM_BUCKETS; i++)
        into->buckets[i] += from->buckets[i];
    into->count += from->count;
    if (from->max > into->max)
        into->max = from->max;
}

static uint64_t bucket_low(unsigned index) { return index < 128 ? index : (uint64_t)(index - 64u * (index / 64u - 1u)) << (index / 64u - 1u); }

uint64_t histogram_quantile(const struct histogram *h, double q)
{
    if (h->count == 0)
        return 0;
    uint64_t rank = (uint64_t)ceil(q * (double)h->count);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HISTOGRAM_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t low = bucket_low(i);
            uint64_t width = i < 128 ? 1 : (uint64_t)1 << (i / 64u - 1u);
            uint64_t mid = low + width / 2;
            return mid > h->max ? h->max : mid;
        }
    }
    return h->max;
}
