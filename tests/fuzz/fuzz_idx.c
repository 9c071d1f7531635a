/* fuzz_idx.c: libFuzzer target: mt_idx_load on the input as a file: raw IDX, or gzip when it
 * starts with 1f 8b.
 * What is checked is fz_idx_one in fuzz_entry.h. */
#include "fuzz_entry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_idx_one(data, size);
    return 0;
}
