# bench/local.mk - filled in by the bench work.
