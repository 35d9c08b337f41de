/* privs.h - `serve --user USER --group GROUP`: running as an unprivileged
 * user once the listeners are bound, so that ports below 1024 need root only
 * at start. The order of the calls and why: privs.c. */
#ifndef SS_APP_PRIVS_H
#define SS_APP_PRIVS_H

#include <stddef.h>
#include <sys/types.h>

typedef struct privs {
    int set_user;  /* --user given */
    int set_group; /* --group or --user given: the group changes too */
    uid_t uid;
    gid_t gid;     /* --group's, else the user's primary group */
    gid_t *groups; /* --user: the supplementary groups initgroups(3) would
                      set (gid among them); NULL: none (--group alone) */
    int ngroups;   /* entries of groups */
    char name[96]; /* "user nobody", "group nogroup", for messages */
} privs_t;

/* Looks up --user (a name, or a numeric ID: either must be in the user
 * database) and --group (likewise), and the user's supplementary groups;
 * either may be NULL. Meant to run before anything is bound. Returns 0, or
 * an exit status with one line in err: EXIT_NOUSER for a user or group that
 * does not exist ("--user \"x\": no such user"), EXIT_OSERR when the
 * database cannot be read. Release p with privs_release() either way. */
int privs_resolve(privs_t *p, const char *user, const char *group, char *err, size_t cap);

/* Whether the drop can happen: as root, or when the process already runs as
 * p asks (its own user: nothing to change). Otherwise EXIT_NOPERM with one
 * line in err, rather than a drop that fails later or silently does nothing.
 * Meant to run before anything is bound. */
int privs_check(const privs_t *p, char *err, size_t cap);

/* Whether there is anything to drop. */
int privs_wanted(const privs_t *p);

/* Gives the unix socket file at path to the user and group the server will
 * run as (so that it may remove the file from a sticky directory such as
 * /tmp, and so that --socket-mode's owner and group bits mean them). Only
 * the socket file itself: a path that is not a socket by then (replaced,
 * or a symlink) is left alone. Returns 0 or a negative errno. */
int privs_give_socket(const privs_t *p, const char *path);

/* Whether the user the server will run as may remove path: asked of a
 * child process that drops to that user and tries access(2) on the
 * directory (every directory on the way, ACLs included; a sticky directory
 * also wants the file or the directory to be theirs). 1 when nothing is to
 * be dropped, or when it cannot be told. */
int privs_may_remove(const privs_t *p, const char *path);

/* Drops to the group and user: supplementary groups, then the group, then
 * the user, real, effective and saved IDs alike; then checks that root
 * cannot be had back. Call it before any thread or process that serves
 * exists. Returns 0, or an exit status (EXIT_NOPERM when the system says
 * EPERM, EXIT_OSERR otherwise) with one line in err naming the call and the
 * cause. */
int privs_drop(const privs_t *p, char *err, size_t cap);

/* Frees what privs_resolve() allocated. */
void privs_release(privs_t *p);

#endif
