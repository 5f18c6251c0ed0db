# examples/local.mk - filled in by the examples work.
