/* table.c - the table of services: the names `socketserver serve`
 * accepts, with the standard each follows and a line for --help. */
#include "services.h"

#include <string.h>

const svc_t svc_table[] = {
    {"echo", "RFC 862", "sends back what it receives", {.handle = svc_echo}},
    {"discard", "RFC 863", "reads and drops everything, never answers", {.handle = svc_discard}},
    {"chargen", "RFC 864", "sends rotating lines of printable ASCII", {.handle = svc_chargen}},
    {"daytime", "RFC 867", "sends the local time as a line, then closes", {.handle = svc_daytime}},
    {"time", "RFC 868", "sends 4 bytes: seconds since 1900, then closes", {.handle = svc_time}},
    {"upper", "", "sends each line back in upper case; an empty line ends", {.handle = svc_upper}},
    {"timestamp", "", "answers each line as \"[ctime] line\"", {.handle = svc_timestamp}},
    {NULL, NULL, NULL, {0}},
};

const svc_t *svc_find(const char *name)
{
    for (const svc_t *s = svc_table; name && s->name; s++)
        if (strcmp(s->name, name) == 0) return s;
    return NULL;
}
