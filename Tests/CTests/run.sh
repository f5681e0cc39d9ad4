#!/usr/bin/env bash
# Builds and runs the C ABI tests against libtnswift.so.
#   Tests/CTests/run.sh [LIBDIR]    (default: .build-static/release)
# TN_CFLAGS adds compiler flags (make sanitize: AddressSanitizer + UBSan); TN_RUNNER runs each
# binary under a tool (make valgrind: memcheck), whose failure fails the test.
# A relative LIBDIR is taken from the current directory if it exists there, else
# from the repository root. Binaries go to Tests/CTests/bin/ (git-ignored).
set -u

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
libdir="${1:-.build-static/release}"
case "$libdir" in
  /*) ;;
  *) if [ -d "$libdir" ]; then libdir="$(cd "$libdir" && pwd)"; else libdir="$root/$libdir"; fi ;;
esac
if [ ! -e "$libdir/libtnswift.so" ]; then
  echo "run.sh: no libtnswift.so in $libdir" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

CC="${CC:-cc}"
bindir="$here/bin"
mkdir -p "$bindir"

status=0
total_pass=0
total_fail=0
for src in "$here"/test_*.c; do
  name="$(basename "$src" .c)"
  # shellcheck disable=SC2086
  if ! "$CC" -std=c11 -Wall -Wextra -Werror -O1 ${TN_CFLAGS:-} -I "$root/Sources/TNSwiftC/include" \
      "$src" -o "$bindir/$name" -L "$libdir" -ltnswift -Wl,-rpath,"$libdir" -lm; then
    echo "$name: build failed"
    status=1
    total_fail=$((total_fail + 1))
    continue
  fi
  # shellcheck disable=SC2086
  out="$(${TN_RUNNER:-} "$bindir/$name")"
  rc=$?
  printf '%s\n' "$out"
  line="$(printf '%s\n' "$out" | tail -n 1)"
  if [[ "$line" =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
    total_pass=$((total_pass + BASH_REMATCH[1]))
    total_fail=$((total_fail + BASH_REMATCH[2]))
  else
    total_fail=$((total_fail + 1))
  fi
  if [ "$rc" -ne 0 ]; then
    echo "$name: exit status $rc"
    status=1
    if [[ ! "$line" =~ [1-9][0-9]*\ failed ]]; then total_fail=$((total_fail + 1)); fi
  fi
done

# The README's C example (examples/c/quickstart.c) must build and succeed too.
example="$root/examples/c/quickstart.c"
if "$CC" -std=c11 -Wall -Wextra -Werror -I "$root/Sources/TNSwiftC/include" "$example" \
    -o "$bindir/quickstart" -L "$libdir" -ltnswift -Wl,-rpath,"$libdir" && "$bindir/quickstart"; then
  total_pass=$((total_pass + 1))
else
  echo "examples/c/quickstart.c failed"
  status=1
  total_fail=$((total_fail + 1))
fi
echo "$total_pass passed, $total_fail failed"
exit "$status"
