/* rng.c: a portable random number generator, so a seed gives the same numbers on every machine:
 * xoshiro256** (Blackman and Vigna) seeded through splitmix64, uniform doubles from the top 53
 * bits, normals by Box-Muller. */
#include "mytorch/tensor.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void mt_rng_seed(mt_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

uint64_t mt_rng_next(mt_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double mt_rng_uniform(mt_rng *r) { return (double)(mt_rng_next(r) >> 11) * 0x1.0p-53; }

double mt_rng_normal(mt_rng *r)
{
    /* One normal per call (the second Box-Muller value is dropped) keeps the stream simple. */
    double u1 = 1.0 - mt_rng_uniform(r);          /* (0, 1]: log is finite */
    double u2 = mt_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * 3.14159265358979323846 * u2);
}

uint64_t mt_rng_below(mt_rng *r, uint64_t n)
{
    if (n == 0) return 0;
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;  /* reject the uneven tail */
    uint64_t x;
    do x = mt_rng_next(r); while (x >= limit);
    return x % n;
}

static _Thread_local mt_rng default_rng;   /* per thread: seeding it never races another */
static _Thread_local int default_seeded;

/* The default generator starts as if mt_manual_seed(0) had been called. */
mt_rng *mt_default_rng(void)
{
    if (!default_seeded) { mt_rng_seed(&default_rng, 0); default_seeded = 1; }
    return &default_rng;
}
void mt_manual_seed(uint64_t seed) { mt_rng_seed(&default_rng, seed); default_seeded = 1; }
