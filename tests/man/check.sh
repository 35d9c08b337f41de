#!/usr/bin/env bash
# check.sh SOURCE_DIR - the manual is whole and clean:
#  (a) every SS_API function of include/socketserver.h has a page in
#      man/man3 (a full page, or a ".so man3/PAGE.3" stub);
#  (b) every page of man/man1, man3 and man7 renders with groff -ww without
#      one warning, and, where man(1) is installed, with man --warnings;
#  (c) every stub points at a full page that exists;
#  (d) every prototype in a page's SYNOPSIS is declared in the header exactly
#      so (spacing aside), and every function it names is an SS_API one.
# Exit status: 0 pass, 1 fail, 77 skipped (groff missing: SKIP_RETURN_CODE).
set -u
src=${1:?usage: check.sh SOURCE_DIR}
header=$src/include/socketserver.h
man=$src/man
fails=0
fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}

command -v perl >/dev/null 2>&1 || { echo "skipped: perl not installed"; exit 77; }
[ -f "$header" ] || { echo "FAIL: no header at $header" >&2; exit 1; }

# The header's declarations, one a line, comments gone, spacing normalized,
# SS_API and SS_PRINTF(...) dropped: "ssize_t ss_read(ss_conn_t *c, ...);".
# shellcheck disable=SC2016 # perl code: its $ are perl's
normalize='s/\bSS_API\b//g; s/\bSS_PRINTF\([^)]*\)//g; s/\s+/ /g; s/\(\s+/(/g;
    s/\s+([),;])/$1/g; s/^\s+|\s+$//g;'
# shellcheck disable=SC2016
statements='s{/\*.*?\*/}{}gs; s{^\s*#.*$}{}mg;
    for my $st (split /;/) { next unless $st =~ /\(/; $_ = "$st;"; '"$normalize"' print "$_\n"; }'
decls=$(perl -0777 -ne "$statements" "$header")
api=$(perl -ne 'print "$1\n" if /^SS_API\b.*?\b(ss_[a-z0-9_]+)\(/' "$header" | sort -u)
[ -n "$api" ] || { echo "FAIL: no SS_API name found in $header" >&2; exit 1; }

# A stub is a page whose one line is ".so man3/NAME.3".
is_stub() { [ "$(grep -cv '^\.\\"' "$1")" = 1 ] && grep -q '^\.so ' "$1"; }

# (a) a page for every exported function.
for name in $api; do
    [ -f "$man/man3/$name.3" ] || fail "$name (SS_API) has no page man/man3/$name.3"
done

# (c) stubs point at full pages that exist.
for page in "$man"/man3/*.3; do
    is_stub "$page" || continue
    target=$(sed -n 's/^\.so //p' "$page")
    case $target in
    man3/*.3) ;;
    *) fail "${page##*/}: .so $target: not of the form man3/PAGE.3" && continue ;;
    esac
    if [ ! -f "$man/$target" ]; then
        fail "${page##*/}: .so $target: no such page"
    elif is_stub "$man/$target"; then
        fail "${page##*/}: .so $target: a stub pointing at a stub"
    else
        # The stub's name must be one the target documents.
        n=${page##*/}
        n=${n%.3}
        grep -q "^$n\b\|[ ,]$n\b" <(sed -n '/^\.SH NAME/,/^\.SH/p' "$man/$target") ||
            fail "${page##*/}: $target does not list $n in its NAME section"
    fi
done

# (d) SYNOPSIS prototypes as in the header.
for page in "$man"/man3/*.3; do
    is_stub "$page" && continue
    syn=$(sed -n '/^\.SH SYNOPSIS/,/^\.SH /p' "$page" | grep -v '^\.')
    [ -n "$syn" ] || { fail "${page##*/}: no SYNOPSIS"; continue; }
    while IFS= read -r st; do
        [ -n "$st" ] || continue
        grep -qxF -- "$st" <<<"$decls" || fail "${page##*/}: SYNOPSIS has '$st', not as declared in the header"
        name=$(perl -ne 'print "$1\n" if /^(?!typedef)[^(]*?\b(ss_[a-z0-9_]+)\(/' <<<"$st")
        if [ -n "$name" ] && ! grep -qxF "$name" <<<"$api"; then
            fail "${page##*/}: SYNOPSIS names $name, which the header does not export (SS_API)"
        fi
    done < <(printf '%s\n' "$syn" | sed 's/\\-/-/g; s/\\e/\\/g' |
        perl -0777 -ne "$statements")
done

# (b) every page renders without a warning.
if ! command -v groff >/dev/null 2>&1; then
    [ "$fails" = 0 ] || exit 1
    echo "skipped: groff not installed (package groff-base; the other checks passed)"
    exit 77
fi
cd "$man" || exit 1 # a stub's .so is relative to the manual's root
for page in man1/*.1 man3/*.3 man7/*.7; do
    [ -f "$page" ] || { fail "no page $page" && continue; }
    out=$(groff -man -Tutf8 -ww -z "$page" 2>&1) || fail "$page: groff failed: $out"
    [ -z "$out" ] || fail "$page: groff warns: $out"
    if command -v man >/dev/null 2>&1 && ! is_stub "$page"; then
        out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings=w -l "$page" 2>&1 >/dev/null)
        [ -z "$out" ] || fail "$page: man warns: $out"
    fi
done

[ "$fails" = 0 ] || exit 1
echo "ok: $(echo "$api" | wc -l) functions, $(find man3 -name '*.3' | wc -l) section 3 pages, all render cleanly"
