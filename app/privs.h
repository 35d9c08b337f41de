/* privs.h - `serve --user USER --group GROUP`: running as an unprivileged
 * user once the listeners are bound, so that ports below 1024 need root only
 * at start. */
#ifndef SS_APP_PRIVS_H
#define SS_APP_PRIVS_H

#include <stddef.h>
#include <sys/types.h>

typedef struct privs {
    int set_user;  /* --user given */
    int set_group; /* --group or --user given: the group changes too */
    uid_t uid;
    gid_t gid;     /* --group's, else the user's primary group */
    char name[64]; /* the user (or group) named, for messages */
} privs_t;

/* Looks up --user (a name or a numeric id, which must exist in the user
 * database) and --group (likewise); either may be NULL. Returns 0, or -1
 * with one line in err ("--user \"x\": no such user"): a usage error, so
 * nothing runs as root on behalf of a user who does not exist. */
int privs_resolve(privs_t *p, const char *user, const char *group, char *err, size_t cap);

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

/* Drops to the group and user: supplementary groups cleared (setgroups),
 * then the group, then the user (setresgid, setresuid: real, effective and
 * saved alike), in that order since after setuid nothing else may change;
 * then checks that root cannot be had back. Returns 0, or -1 with one line
 * in err naming the call and the cause. */
int privs_drop(const privs_t *p, char *err, size_t cap);

#endif
