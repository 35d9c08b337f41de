#!/bin/bash
# manpage.sh - man/man1/socketserver.1 renders without a warning (groff, and man
# when installed) and documents every service, mode and option the program's
# --help lists, so the two cannot drift apart.
. "$(dirname "$0")/lib.sh"

PAGE=${SS_SOURCE_DIR:?SS_SOURCE_DIR must name the source tree}/man/man1/socketserver.1
[ -f "$PAGE" ] || fail "no man page at $PAGE"
need groff groff-base

out=$(groff -man -Tutf8 -ww -z "$PAGE" 2>&1) || fail "groff failed: $out"
[ -z "$out" ] || fail "groff warns: $out"
if command -v man >/dev/null 2>&1; then
    out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings=w -l "$PAGE" 2>&1 >/dev/null)
    [ -z "$out" ] || fail "man warns: $out"
fi

# The page as text, hyphens plain, for the cross-check below.
groff -man -Tascii "$PAGE" 2>/dev/null | sed 's/.\x08//g' >"$T/page.txt"
for cmd in serve send; do
    for opt in $("$SS" "$cmd" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
        grep -q -- "$opt" "$T/page.txt" || fail "the man page lacks $cmd's $opt"
    done
done
for word in echo discard chargen daytime time upper timestamp sync thread fork pool prefork event \
    SIGINT SIGTERM 64 67 68 69 71 77; do
    grep -qw -- "$word" "$T/page.txt" || fail "the man page does not mention $word"
done
echo "ok: the man page renders cleanly and covers --help"
