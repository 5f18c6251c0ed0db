# fuzz/local.mk - filled in by the fuzz work.
