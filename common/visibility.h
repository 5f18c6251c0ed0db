/*
 * visibility.h - marks the symbols liberrseq-client exports (internal).
 * The library is built with -fvisibility=hidden and a linker version script;
 * only functions tagged ERRSEQ_EXPORT leave it.
 */
#ifndef ERRSEQ_COMMON_VISIBILITY_H
#define ERRSEQ_COMMON_VISIBILITY_H
#define ERRSEQ_EXPORT __attribute__((visibility("default")))
#endif
