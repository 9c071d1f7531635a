/* fuzz_npy.c: libFuzzer target: mt_npy_load (then mt_npy_save, mt_npy_load_into) on the input as a
 * .npy file.
 * What is checked is fz_npy_one in fuzz_entry.h. */
#include "fuzz_entry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_npy_one(data, size);
    return 0;
}
