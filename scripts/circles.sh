#!/usr/bin/env bash
# circles.sh - checks that no two files of the library depend on each other
# in a loop: every call (and every reference to another file's data, such as
# a mode's ops table) must point one way, from the higher layer to the lower
# (docs/design.md). Read from the object files themselves with nm(1), so
# calls through headers, macros and tables are all seen.
#   scripts/circles.sh [BUILD_DIR]    (default build-asan, else build)
# Prints each circle and exits 1 if there is one; 0 when there is none.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-}
if [ -z "$dir" ]; then
    for d in build-asan build; do [ -d "$d/src/CMakeFiles/ss_objects.dir" ] && { dir=$d; break; }; done
fi
objs=$(find "${dir:-build}/src/CMakeFiles/ss_objects.dir" -name '*.o' 2>/dev/null | sort)
[ -n "$objs" ] || { echo "circles: no object files under ${dir:-build} (build first)" >&2; exit 2; }
command -v nm >/dev/null || { echo "skipped: circles (nm not installed)"; exit 0; }

# One line per (file, kind, symbol): D for a definition, U for a use.
for o in $objs; do
    f=${o#*ss_objects.dir/}
    f=${f%.o}
    [ -f "src/$f" ] || continue # a stale object of a file since removed
    nm --defined-only -g "$o" | awk -v f="$f" 'NF == 3 { print f, "D", $3 }'
    nm -u "$o" | awk -v f="$f" '{ print f, "U", $NF }'
done | awk '
    $2 == "D" { def[$3] = $1; next }
    { use[++n] = $1 " " $3 }
    END {
        for (i = 1; i <= n; i++) {
            split(use[i], p, " ")
            if ((p[2] in def) && def[p[2]] != p[1]) {
                e = p[1] " " def[p[2]]
                if (!(e in seen)) { seen[e] = p[2]; from[++m] = p[1]; to[m] = def[p[2]] }
            }
        }
        # Transitive closure by repeated relaxation (a few dozen files).
        for (i = 1; i <= m; i++) reach[from[i] SUBSEP to[i]] = 1
        do {
            changed = 0
            for (k in reach) {
                split(k, a, SUBSEP)
                for (i = 1; i <= m; i++)
                    if (from[i] == a[2] && !((a[1] SUBSEP to[i]) in reach)) {
                        reach[a[1] SUBSEP to[i]] = 1; changed = 1
                    }
            }
        } while (changed)
        bad = 0
        for (i = 1; i <= m; i++)
            if ((to[i] SUBSEP from[i]) in reach) {
                printf "circle: %s -> %s (%s) and back\n", from[i], to[i], seen[from[i] " " to[i]]
                bad = 1
            }
        if (!bad) printf "circles: none among the library'"'"'s files (%d arrows)\n", m
        exit bad
    }'
