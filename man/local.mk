# man/local.mk - filled in by the man work.
