/*
 * sdnotify.h - a small sd_notify(3) of errseqd's own, so the daemon needs no
 * libsystemd: one datagram to $NOTIFY_SOCKET (a path, or an abstract name
 * written with a leading '@').
 */
#ifndef ERRSEQD_SDNOTIFY_H
#define ERRSEQD_SDNOTIFY_H

/*
 * esd_sd_notify - send @state (e.g. "READY=1\nSTATUS=...") to the service
 * manager.  Returns 1 if it was sent, 0 if $NOTIFY_SOCKET is unset or
 * empty (not run by systemd: nothing to do), or a negative errno
 * (-EINVAL for a malformed $NOTIFY_SOCKET, or the socket call's error).
 */
int esd_sd_notify(const char *state);

/* esd_sd_notify_fd - as esd_sd_notify, passing @fd (if >= 0) with the
 * message, as FDSTORE=1 needs. */
int esd_sd_notify_fd(const char *state, int fd);

#endif /* ERRSEQD_SDNOTIFY_H */
