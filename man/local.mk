# man/: each page is listed by the part of the tree it documents
# (daemon: systemd/local.mk, library: client/local.mk, CLI: ctl/local.mk).
