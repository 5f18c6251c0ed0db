# systemd/local.mk - filled in by the systemd work.
