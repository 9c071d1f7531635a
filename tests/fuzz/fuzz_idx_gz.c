/* fuzz_idx_gz.c: libFuzzer target: mt_idx_load on the input's IDX bytes gzipped (and cut, extended
 * or corrupted) by the harness.
 * What is checked is fz_idx_gz_one in fuzz_entry.h. */
#include "fuzz_entry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_idx_gz_one(data, size);
    return 0;
}
