/* fuzz_trace.c: libFuzzer target: mt_trace_parse on the input as trace JSON (then mt_trace_save
 * and mt_trace_load).
 * What is checked is fz_trace_one in fuzz_entry.h. */
#include "fuzz_entry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_trace_one(data, size);
    return 0;
}
