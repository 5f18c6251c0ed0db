/*
 * fuzz_request.h - the libFuzzer entry point of fuzz_request.c, declared for
 * the corpus replayer (replay.c), which calls it outside libFuzzer.
 */
#ifndef ERRSEQ_FUZZ_REQUEST_H
#define ERRSEQ_FUZZ_REQUEST_H

#include <stddef.h>
#include <stdint.h>

/*
 * LLVMFuzzerTestOneInput - run one input (@size bytes at @data) through the
 * decoder and the name checks and compare each answer with the reference
 * model.  Returns 0; abort()s on a disagreement (a finding).
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif /* ERRSEQ_FUZZ_REQUEST_H */
