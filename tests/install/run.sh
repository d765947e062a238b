#!/usr/bin/env bash
# End-to-end check of `cmake --install` (cmake/Packaging.cmake):
#   1. configure + build + install the mnsched source tree SRC into SCRATCH/prefix
#      (tests, benchmarks and examples off);
#   2. build tests/install/consumer against it with find_package (CMAKE_PREFIX_PATH=prefix);
#   3. build the same main.cpp with  $CXX -std=c++20 main.cpp $(pkg-config --cflags --libs mnsched);
#   4. run both and check they print "consumer ok n=100 rc=0".
#
# usage: run.sh SRC SCRATCH [extra cmake args for the mnsched build, e.g. -DBUILD_SHARED_LIBS=ON]
# Compilers come from CC/CXX (default: CMake's choice, and g++ for the pkg-config build).
# Registered as the ctest `install_consumer` by tests/install/CMakeLists.txt.
set -euo pipefail

if [[ $# -lt 2 ]]; then
  echo "usage: $0 SRC SCRATCH [cmake args...]" >&2
  exit 2
fi
src=$(cd "$1" && pwd)
mkdir -p "$2"
scratch=$(cd "$2" && pwd)
shift 2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

step() { printf '\n==== install_consumer: %s\n' "$*"; }
fail() { printf 'install_consumer: FAIL: %s\n' "$*" >&2; exit 1; }

# Only ever delete these four, never SCRATCH itself.
build=$scratch/mnsched-build
prefix=$scratch/prefix
cbuild=$scratch/consumer-build
pcbin=$scratch/consumer-pkgconfig
rm -rf -- "$build" "$prefix" "$cbuild" "$pcbin"

gen=()
if command -v ninja >/dev/null 2>&1; then gen=(-G Ninja); fi
jobs=$(nproc 2>/dev/null || echo 2)
expected="consumer ok n=100 rc=0"

step "configure + build + install $src -> $prefix"
# The configure-time prefix is deliberately bogus: `cmake --install --prefix` must be enough
# (mnsched.pc gets its prefix= at install time).
cmake -S "$src" -B "$build" "${gen[@]}" \
  -DCMAKE_BUILD_TYPE=Release \
  -DMN_BUILD_TESTS=OFF -DMN_BUILD_BENCH=OFF -DMN_BUILD_EXAMPLES=OFF \
  -DCMAKE_INSTALL_PREFIX=/nonexistent-overridden-by-install-prefix \
  "$@"
cmake --build "$build" -j "$jobs"
cmake --install "$build" --prefix "$prefix"

step "installed layout"
[[ -f $prefix/include/mn/mn.hpp ]] || fail "include/mn/mn.hpp not installed"
cfg=$(find "$prefix" -path '*/cmake/mnsched/mnschedConfig.cmake' -print -quit)
[[ -n $cfg ]] || fail "mnschedConfig.cmake not installed"
cfgdir=$(dirname "$cfg")
for f in mnschedConfigVersion.cmake mnschedTargets.cmake; do
  [[ -f $cfgdir/$f ]] || fail "$f missing next to $cfg"
done
pc=$(find "$prefix" -path '*/pkgconfig/mnsched.pc' -print -quit)
[[ -n $pc ]] || fail "mnsched.pc not installed"
libdir=$(dirname "$(dirname "$pc")")
ls "$libdir"/libmnsched.* >/dev/null 2>&1 || fail "no libmnsched.* in $libdir"
find "$prefix" -type f -o -type l | sed "s|^$prefix/|  |" | sort

step "consumer via find_package (CMAKE_PREFIX_PATH=$prefix)"
cmake -S "$here/consumer" -B "$cbuild" "${gen[@]}" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix"
found_dir=$(sed -n 's/^mnsched_DIR:[A-Z]*=//p' "$cbuild/CMakeCache.txt")
[[ $found_dir == "$cfgdir" ]] || fail "find_package picked up mnsched from '$found_dir', not '$cfgdir'"
cmake --build "$cbuild" -j "$jobs"
out=$("$cbuild/app") || fail "find_package consumer exited $? (output: $out)"
echo "$out"
[[ $out == "$expected" ]] || fail "find_package consumer printed '$out', expected '$expected'"

step "consumer via pkg-config ($pc)"
PKG_CONFIG_PATH="$(dirname "$pc")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export PKG_CONFIG_PATH
pkg-config --exists --print-errors mnsched || fail "pkg-config cannot resolve mnsched"
[[ $(pkg-config --variable=prefix mnsched) == "$prefix" ]] || fail "mnsched.pc prefix is not $prefix"
pcflags=$(pkg-config --cflags --libs mnsched)
echo "pkg-config --cflags --libs mnsched: $pcflags"
for want in -lmnsched -pthread -labsl_status -labsl_statusor; do
  [[ " $pcflags " == *" $want "* ]] || fail "'$want' missing from pkg-config output"
done
cxx=${CXX:-g++}
# shellcheck disable=SC2086  # pkg-config output is meant to be word-split
"$cxx" -std=c++20 -O2 "$here/consumer/main.cpp" -o "$pcbin" $pcflags -Wl,-rpath,"$libdir"
out=$("$pcbin") || fail "pkg-config consumer exited $? (output: $out)"
echo "$out"
[[ $out == "$expected" ]] || fail "pkg-config consumer printed '$out', expected '$expected'"

step "PASS"
