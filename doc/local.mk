# doc/local.mk - filled in by the doc work.
