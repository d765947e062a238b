#!/usr/bin/env bash
# Run commands inside a Linux kernel that has sched_ext (CONFIG_SCHED_CLASS_EXT=y), in qemu.
#
# The host kernel of the build machines has sched_ext off, so this script fetches Debian unstable's
# newest kernel (or another suite's: --suite trixie has 6.12, older than sched_ext's 6.13 renames), boots it under qemu (software emulation: TCG) with a busybox initramfs that holds
# the host-built binaries you name, runs your commands as root, prints their output and exits with
# their status. See docs/vm.md.
#
#   bash tests/vm/run.sh --cmd 'cat /sys/kernel/sched_ext/state'
#   bash tests/vm/run.sh --suite trixie-backports --kernel 6.18 --cmd 'uname -r'
#   bash tests/vm/run.sh --with build/release/tests/chan_test --cmd 'chan_test --gtest_brief=1'
#   bash tests/vm/run.sh --dump-btf /tmp/guest.btf
#
# Exit status: the guest's (the first failing --cmd's, else 0); 2 bad arguments; 124 the guest
# timed out; the --skip-code (77) when it cannot run here (no qemu, no busybox, no network and no
# cached kernel); 1 anything else that went wrong (the console log's path is printed).
set -euo pipefail

PROG=tests/vm/run.sh

usage() {
  cat <<EOF
usage: bash $PROG [options]

Boots Debian unstable's newest amd64 kernel (it has sched_ext; or --suite's) in qemu with a busybox
initramfs and runs the commands as root. The commands' output (stdout and stderr) goes to stdout; the script's own
messages go to stderr; the exit status is the guest's.

  --cmd 'COMMAND'     a shell command (busybox sh) to run in the guest, in /tmp; repeatable: each
                      runs in turn (all of them); the exit status is that of the first that failed.
                      Without --cmd (and without --dump-btf), the guest prints its kernel and sched_ext state.
  --with FILE         put this host file in the guest at the same absolute path (repeatable);
                      an executable also gets the shared libraries ldd lists, and its directory
                      goes on the guest's PATH
  --env NAME=VALUE    export this in the guest (repeatable). The caller's MN_* variables are
                      exported too (except MN_VM_*, which configure this script); --env wins.
  --expect-state S    fail (exit 1) unless /sys/kernel/sched_ext/state reads S (e.g. disabled)
                      after the commands
  --timeout SECONDS   kill the guest after this long (default 600); exit 124
  --suite NAME        the Debian suite to take the kernel from (default sid), e.g. trixie or
                      trixie-backports; each has its own cache
  --kernel VERSION    the suite's newest kernel of this version (6.18 takes 6.18.x), not its
                      newest; each VERSION has its own cache too
  --offline           use only the cache: no network
  --refresh           look for a newer kernel now (by default the package index is refreshed
                      when it is older than \${MN_VM_MAX_AGE_HOURS:-24} hours)
  --skip-code N       exit status when the VM cannot run here (default 77: ctest's "skipped")
  --no-install        never install missing host packages (qemu-system-x86, busybox-static, cpio);
                      by default they are installed with apt-get when running as root
  --kernel-only       only fetch and cache the kernel; print its version and paths
  --dump-btf OUT      write the guest kernel's /sys/kernel/btf/vmlinux to OUT (cached as
                      \$cache/btf/<version>.btf; a cached copy is used without booting)
  --cpus N            guest CPUs (default 2)
  --mem MB            guest memory (default 2048)
  --append ARGS       extra kernel command-line arguments
  --nice N            run qemu at this niceness (-20..19; below 0 needs root), so that the host's
                      other work delays the emulation less (for measurements)
  --host-wait FILE    while qemu runs, write a line every 0.25 s to FILE: the host's time (s), the
                      nanoseconds qemu's threads have waited for a host CPU so far (schedstat), and
                      the bytes of guest output so far; a measurement inside the guest can then be
                      checked for host contention over its own span
  --keep              keep the work directory (initramfs, console log) even on success
  -h, --help          this text

Cache: \${MN_VM_CACHE:-\$HOME/.cache/mnsched/vm} (apt state, the .debs, the unpacked kernel, the file
'current' naming the kernel version, btf/; a --suite other than sid, or a --kernel, has these
under suites/NAME/ or suites/NAME@VERSION/). Once it holds a kernel, runs need no network.
EOF
}

say() { printf 'vm: %s\n' "$*" >&2; }
die() { local rc=$1; shift; printf 'vm: error: %s\n' "$*" >&2; exit "$rc"; }
bad_args() {
  printf 'vm: %s\n' "$*" >&2
  printf 'vm: see: bash %s --help\n' "$PROG" >&2
  exit 2
}

# ---- arguments ---------------------------------------------------------------------------------
CMDS=()
WITH=()
ENVS=()
TIMEOUT=600
OFFLINE=0
REFRESH=0
SKIP_CODE=77
NO_INSTALL=0
KERNEL_ONLY=0
DUMP_BTF=
EXPECT_STATE=
CPUS=2
MEM=2048
APPEND=
KEEP=0
NICE=
HOST_WAIT=
SUITE=sid
KERNEL=

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

while [[ $# -gt 0 ]]; do
  opt=$1
  val=
  has_val=0
  if [[ $opt == --*=* ]]; then
    val=${opt#*=}
    opt=${opt%%=*}
    has_val=1
  fi
  case $opt in
    --cmd | --with | --env | --expect-state | --timeout | --skip-code | --dump-btf | --cpus | --mem | --append | --nice | --host-wait | --suite | --kernel)
      if [[ $has_val -eq 0 ]]; then
        [[ $# -ge 2 ]] || bad_args "$opt needs a value"
        val=$2
        shift
      fi
      ;;
    --offline | --refresh | --no-install | --kernel-only | --keep | -h | --help)
      [[ $has_val -eq 0 ]] || bad_args "$opt takes no value (got '$opt=$val')"
      ;;
    *) bad_args "unknown argument '$1'" ;;
  esac
  shift
  case $opt in
    --cmd)
      [[ -n $val ]] || bad_args "--cmd needs a non-empty command"
      CMDS+=("$val")
      ;;
    --with)
      [[ -n $val ]] || bad_args "--with needs a file name"
      [[ -e $val ]] || bad_args "--with $val: no such file"
      [[ -f $val ]] || bad_args "--with $val: not a regular file (directories are not supported)"
      [[ -r $val ]] || bad_args "--with $val: not readable"
      WITH+=("$(realpath -s -- "$val")")
      ;;
    --env)
      [[ $val =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || bad_args "--env '$val': expected NAME=VALUE"
      ENVS+=("$val")
      ;;
    --expect-state)
      [[ $val =~ ^[a-z_]+$ ]] || bad_args "--expect-state '$val': expected a state word such as disabled or enabled"
      EXPECT_STATE=$val
      ;;
    --timeout)
      { is_uint "$val" && [[ $val -gt 0 ]]; } || bad_args "--timeout '$val': expected a positive number of seconds"
      TIMEOUT=$val
      ;;
    --skip-code)
      { is_uint "$val" && [[ $val -le 255 ]]; } || bad_args "--skip-code '$val': expected 0..255"
      SKIP_CODE=$val
      ;;
    --dump-btf)
      [[ -n $val ]] || bad_args "--dump-btf needs an output file name"
      [[ -d $(dirname -- "$val") ]] || bad_args "--dump-btf $val: directory $(dirname -- "$val") does not exist"
      [[ ! -d $val ]] || bad_args "--dump-btf $val: is a directory"
      DUMP_BTF=$val
      ;;
    --cpus)
      { is_uint "$val" && [[ $val -ge 1 && $val -le 64 ]]; } || bad_args "--cpus '$val': expected 1..64"
      CPUS=$val
      ;;
    --mem)
      { is_uint "$val" && [[ $val -ge 256 ]]; } || bad_args "--mem '$val': expected megabytes, at least 256"
      MEM=$val
      ;;
    --append) APPEND=$val ;;
    --nice)
      [[ $val =~ ^-?[0-9]+$ && $val -ge -20 && $val -le 19 ]] || bad_args "--nice '$val': expected -20..19"
      [[ $val -ge 0 || $EUID -eq 0 ]] || bad_args "--nice $val: a negative niceness needs root"
      NICE=$val
      ;;
    --host-wait)
      [[ -n $val ]] || bad_args "--host-wait needs a file name"
      [[ -d $(dirname -- "$val") ]] || bad_args "--host-wait $val: directory $(dirname -- "$val") does not exist"
      [[ ! -d $val ]] || bad_args "--host-wait $val: is a directory"
      HOST_WAIT=$val
      ;;
    --suite)
      [[ $val =~ ^[a-z][a-z0-9]*(-[a-z0-9]+)*$ ]] || bad_args "--suite '$val': expected a Debian suite name such as sid, trixie or trixie-backports"
      SUITE=$val
      ;;
    --kernel)
      [[ $val =~ ^[0-9]+(\.[0-9]+)*([+~-][0-9a-z.+~-]*)?$ ]] || bad_args "--kernel '$val': expected a kernel version such as 6.18 or 6.18.15+deb13-amd64"
      KERNEL=$val
      ;;
    --offline) OFFLINE=1 ;;
    --refresh) REFRESH=1 ;;
    --no-install) NO_INSTALL=1 ;;
    --kernel-only) KERNEL_ONLY=1 ;;
    --keep) KEEP=1 ;;
    -h | --help)
      usage
      exit 0
      ;;
  esac
done
[[ $OFFLINE -eq 0 || $REFRESH -eq 0 ]] || bad_args "--offline and --refresh contradict each other"
if [[ $KERNEL_ONLY -eq 1 && (${#CMDS[@]} -gt 0 || -n $DUMP_BTF) ]]; then
  bad_args "--kernel-only boots nothing: it cannot be combined with --cmd or --dump-btf"
fi

skip() {
  printf 'vm: SKIPPED: %s\n' "$*" >&2
  exit "$SKIP_CODE"
}

[[ -n ${MN_VM_CACHE:-} || -n ${HOME:-} ]] || bad_args "neither MN_VM_CACHE nor HOME is set: set MN_VM_CACHE to a cache directory"
CACHE=${MN_VM_CACHE:-$HOME/.cache/mnsched/vm}
MAX_AGE_HOURS=${MN_VM_MAX_AGE_HOURS:-24}
is_uint "$MAX_AGE_HOURS" || bad_args "MN_VM_MAX_AGE_HOURS='$MAX_AGE_HOURS': expected a number of hours"
mkdir -p "$CACHE" || die 1 "cannot create the cache directory $CACHE (set MN_VM_CACHE)"
CACHE=$(cd "$CACHE" && pwd)
# sid's apt state, packages, kernels and 'current' are at the top of the cache (where they were
# before --suite); another suite's are in suites/<suite>/, and those of a --kernel version in
# suites/<suite>@<version>/. btf/ and the lock are shared.
if [[ $SUITE == sid && -z $KERNEL ]]; then
  SUITE_CACHE=$CACHE
else
  SUITE_CACHE=$CACHE/suites/$SUITE${KERNEL:+@$KERNEL}
fi
ARCHIVE="Debian $SUITE"
[[ $SUITE != sid ]] || ARCHIVE="Debian unstable"

# ---- host tools ----------------------------------------------------------------------------------
BUSYBOX=
find_busybox() {
  BUSYBOX=$(command -v busybox 2>/dev/null || true)
  [[ -n $BUSYBOX ]] || { [[ -x /bin/busybox ]] && BUSYBOX=/bin/busybox; } || true
}

check_boot_tools() {
  local missing=() pkgs=()
  command -v qemu-system-x86_64 >/dev/null 2>&1 || { missing+=(qemu-system-x86_64); pkgs+=(qemu-system-x86); }
  find_busybox
  [[ -n $BUSYBOX ]] || { missing+=(busybox); pkgs+=(busybox-static); }
  command -v cpio >/dev/null 2>&1 || { missing+=(cpio); pkgs+=(cpio); }
  command -v gzip >/dev/null 2>&1 || { missing+=(gzip); pkgs+=(gzip); }
  [[ ${#missing[@]} -gt 0 ]] || return 0
  if [[ $NO_INSTALL -eq 0 && $(id -u) -eq 0 && $OFFLINE -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    say "missing ${missing[*]}: installing the Debian packages ${pkgs[*]}"
    apt-get update -qq >&2 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >&2 ||
      skip "missing ${missing[*]} and installing ${pkgs[*]} failed"
    command -v qemu-system-x86_64 >/dev/null 2>&1 && command -v cpio >/dev/null 2>&1 || skip "still missing ${missing[*]}"
    find_busybox
    [[ -n $BUSYBOX ]] || skip "still missing busybox"
    return 0
  fi
  skip "missing ${missing[*]} on the host: install the Debian packages ${pkgs[*]}" \
    "(bash tools/dev.sh installs them; as root: apt-get install ${pkgs[*]})"
}

# ---- the kernel --------------------------------------------------------------------------------
# Layout of $SUITE_CACHE ($CACHE for sid, $CACHE/suites/<suite> for the others):
#   apt/        private apt configuration and state for the suite (sources, lists, status)
#   debs/       the downloaded linux-binary-<ver> and linux-base-<ver> packages
#   kernels/<ver>/  the packages unpacked (dpkg -x); vmlinuz is kernels/<ver>/usr/lib/modules/<ver>/vmlinuz,
#               or kernels/<ver>/boot/vmlinuz-<ver> from a linux-image-<ver> package (6.12's naming)
#   current     the version in use
# and in $CACHE:
#   btf/<ver>.btf   the guest kernel's BTF (--dump-btf)
APT_DIR=$SUITE_CACHE/apt
APT_OPTS=(
  -o "Dir::Etc::SourceList=/dev/null"
  -o "Dir::Etc::SourceParts=$APT_DIR/sources.list.d"
  -o "Dir::Etc::Preferences=/dev/null"
  -o "Dir::Etc::PreferencesParts=$APT_DIR/preferences.d"
  -o "Dir::State=$APT_DIR/state"
  -o "Dir::State::Lists=$APT_DIR/lists"
  -o "Dir::State::status=$APT_DIR/status"
  -o "Dir::Cache=$APT_DIR/cache"
  -o "APT::Architecture=amd64"
  -o "APT::Architectures=amd64"
  -o "Acquire::Languages=none"
  -o "Debug::NoLocking=true"
)
if [[ $(id -u) -eq 0 ]]; then
  # The private directories are not writable by apt's sandbox user _apt.
  APT_OPTS+=(-o "APT::Sandbox::User=root")
fi

# Writes the private sources: every URI of the host's own Debian sources whose entry names a suite
# of the same archive as $SUITE, with the suite set to $SUITE. A security suite (trixie-security)
# is in the security archive, whose URIs the host has for its own bookworm-security; every other
# suite (sid, trixie, and trixie-backports or -updates, which the main archive holds too) takes
# the URIs the host has for a plain release suite (bookworm, not bookworm-updates or
# bookworm-security). No mirror is named here: they come from the machine's configuration.
write_sources() {
  local out=$APT_DIR/sources.list.d/$SUITE.sources want=plain tmp entries=() e uri key kind seen=" "
  [[ $SUITE != *-security ]] || want=security
  tmp=$(mktemp)
  {
    # deb822 files: stanzas separated by blank lines. Prints "URI<tab>key<tab>kind" per kind of
    # suite the stanza names.
    for f in /etc/apt/sources.list.d/*.sources; do
      [[ -r $f ]] || continue
      awk '
        function flush() {
          if (types ~ /(^|[ \t])deb([ \t]|$)/ && enabled !~ /^[ \t]*no/)
            for (i = 1; i <= nu; i++) {
              if (plain) print uris[i] "\t" key "\tplain"
              if (sec) print uris[i] "\t" key "\tsecurity"
            }
          types = ""; enabled = ""; plain = 0; sec = 0; nu = 0; key = ""
        }
        /^[ \t]*#/ { next }
        /^[ \t]*$/ { flush(); next }
        /^[ \t]/ { next }  # continuation lines (e.g. an inline key)
        {
          name = tolower($1); sub(/:$/, "", name); sub(/^[^:]*:[ \t]*/, "")
          if (name == "types") types = $0
          else if (name == "enabled") enabled = tolower($0)
          else if (name == "uris") { nu = split($0, uris, /[ \t]+/) }
          else if (name == "suites") {
            n = split($0, s, /[ \t]+/)
            for (i = 1; i <= n; i++) {
              if (s[i] != "" && s[i] !~ /[-\/]/) plain = 1
              if (s[i] ~ /^[a-z]+-security$/) sec = 1
            }
          }
          else if (name == "signed-by" && $0 ~ /^\//) key = $0
        }
        END { flush() }
      ' "$f"
    done
    # One-line style: deb [options] URI suite components...
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [[ -r $f ]] || continue
      awk '
        $1 != "deb" { next }
        {
          key = ""; i = 2
          if ($2 ~ /^\[/) {
            for (; i <= NF; i++) {
              if ($i ~ /^\[?signed-by=/) { k = $i; sub(/^\[?signed-by=/, "", k); sub(/\]$/, "", k); key = k }
              if ($i ~ /\]$/) { i++; break }
            }
          }
          uri = $i; suite = $(i + 1)
          if (suite != "" && suite !~ /[-\/]/) print uri "\t" key "\tplain"
          else if (suite ~ /^[a-z]+-security$/) print uri "\t" key "\tsecurity"
        }
      ' "$f"
    done
  } >"$tmp"
  mapfile -t entries <"$tmp"
  rm -f "$tmp"
  mkdir -p "$APT_DIR/sources.list.d"
  : >"$out.new"
  for e in "${entries[@]}"; do
    IFS=$'\t' read -r uri key kind <<<"$e"
    [[ $kind == "$want" && $seen != *" $uri "* ]] || continue
    seen+="$uri "
    {
      printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\n' "$uri" "$SUITE"
      [[ -z $key ]] || printf 'Signed-By: %s\n' "$key"
      printf '\n'
    } >>"$out.new"
  done
  if [[ ! -s $out.new ]]; then
    rm -f "$out.new"
    return 1
  fi
  mv "$out.new" "$out"
}

# Prints "<package> <kernel version>" for the newest amd64 kernel in the lists (not the cloud or
# rt flavour), of version $KERNEL if that is set. The packaging differs by suite: sid (and backports built from it) ships the kernel
# as linux-binary-<ver> (usr/lib/modules/<ver>/vmlinuz) with its configuration in
# linux-base-<ver>; trixie's 6.12 as linux-image-<ver>-unsigned, and the same image signed for
# Secure Boot as linux-image-<ver>, with /boot/vmlinuz-<ver> and /boot/config-<ver> in the one
# package. At equal versions linux-binary wins (sid lists a linux-image-<ver> too), then the
# unsigned image, then the signed one.
newest_kernel_package() {
  local pkg v rank ver best='' bestv='' bestrank=0 bestver=''
  while read -r pkg v; do
    case $pkg in
      linux-binary-*) rank=3 ver=${pkg#linux-binary-} ;;
      *-unsigned) rank=2 ver=${pkg#linux-image-} ver=${ver%-unsigned} ;;
      *) rank=1 ver=${pkg#linux-image-} ;;
    esac
    [[ -z $KERNEL || $ver == "$KERNEL" || $ver == "$KERNEL"[.+~-]* ]] || continue
    if [[ -z $best ]] || dpkg --compare-versions "$v" gt "$bestv" ||
      { dpkg --compare-versions "$v" eq "$bestv" && [[ $rank -gt $bestrank ]]; }; then
      best=$pkg bestv=$v bestrank=$rank bestver=$ver
    fi
  done < <(apt-cache "${APT_OPTS[@]}" pkgnames linux- 2>/dev/null |
    grep -E '^linux-(binary-[0-9][^ ]*-amd64|image-[0-9][^ ]*-amd64(-unsigned)?)$' |
    grep -Ev -- '-(cloud|rt)-amd64(-unsigned)?$' | sort -u |
    xargs -r apt-cache "${APT_OPTS[@]}" show --no-all-versions 2>/dev/null |
    awk '/^Package:/ { p = $2 } /^Version:/ { print p, $2 }')
  [[ -n $best ]] || return 1
  printf '%s %s\n' "$best" "$bestver"
}

kernel_dir() { printf '%s/kernels/%s' "$SUITE_CACHE" "$1"; }
# kernel_file DIR VER vmlinuz|config: the file as linux-image-<ver> has it (boot/), else as
# linux-binary-<ver> and linux-base-<ver> have it (usr/lib/modules/<ver>/).
kernel_file() {
  if [[ -e $1/boot/$3-$2 ]]; then
    printf '%s/boot/%s-%s' "$1" "$3" "$2"
  else
    printf '%s/usr/lib/modules/%s/%s' "$1" "$2" "$3"
  fi
}
vmlinuz_of() { kernel_file "$(kernel_dir "$1")" "$1" vmlinuz; }
config_of() { kernel_file "$(kernel_dir "$1")" "$1" config; }

cached_version() {
  local v
  [[ -r $SUITE_CACHE/current ]] || return 1
  v=$(<"$SUITE_CACHE/current")
  [[ -n $v && -r $(vmlinuz_of "$v") ]] || return 1
  printf '%s\n' "$v"
}

# Checks the kernel's configuration, when its package (linux-base for a linux-binary) was there
# to give it.
check_config() {
  local ver=$1 cfg
  cfg=$(config_of "$ver")
  if [[ ! -r $cfg ]]; then
    say "no configuration file for $ver (package linux-base-$ver missing): sched_ext is checked in the guest"
    return 0
  fi
  grep -qx 'CONFIG_SCHED_CLASS_EXT=y' "$cfg" ||
    die 1 "kernel $ver ($ARCHIVE) has no sched_ext: $cfg does not set CONFIG_SCHED_CLASS_EXT=y"
}

# Fetches the suite's newest kernel into the cache, or does nothing when the cache is recent
# enough. Sets VERSION. Skips when there is neither network nor a cached kernel.
fetch_kernel() {
  local cached='' stamp=$APT_DIR/updated age_ok=0 pkg ver kdir tmpd deb
  cached=$(cached_version || true)
  if [[ $OFFLINE -eq 1 ]]; then
    [[ -n $cached ]] || skip "--offline, and no kernel of $ARCHIVE is cached in $SUITE_CACHE (run once without --offline)"
    VERSION=$cached
    return 0
  fi
  if [[ -n $cached && $REFRESH -eq 0 && -e $stamp ]] &&
    [[ -z $(find "$stamp" -mmin +$((MAX_AGE_HOURS * 60)) 2>/dev/null) ]]; then
    age_ok=1
  fi
  if [[ $age_ok -eq 1 ]]; then
    VERSION=$cached
    return 0
  fi
  for t in apt-get apt-cache dpkg dpkg-deb; do
    if ! command -v "$t" >/dev/null 2>&1; then
      [[ -z $cached ]] || { say "no $t on this host: using the cached kernel $cached"; VERSION=$cached; return 0; }
      skip "no $t on this host (the kernel comes from Debian's archive) and no kernel is cached in $SUITE_CACHE"
    fi
  done
  mkdir -p "$APT_DIR"/{sources.list.d,preferences.d,state,lists/partial,cache/archives/partial} "$SUITE_CACHE/debs"
  [[ -e $APT_DIR/status ]] || : >"$APT_DIR/status"
  if ! write_sources; then
    [[ -z $cached ]] || { say "no Debian source in /etc/apt to derive $ARCHIVE's from: using the cached kernel $cached"; VERSION=$cached; return 0; }
    skip "found no Debian archive URI in /etc/apt/sources.list{,.d} to fetch $ARCHIVE's kernel from"
  fi
  say "updating the package index of $ARCHIVE (cache: $SUITE_CACHE)"
  if ! apt-get "${APT_OPTS[@]}" -q --error-on=any update >"$APT_DIR/update.log" 2>&1; then
    if [[ -n $cached ]]; then
      say "apt-get update failed (no network?); using the cached kernel $cached. Its log: $APT_DIR/update.log"
      VERSION=$cached
      return 0
    fi
    sed 's/^/  /' "$APT_DIR/update.log" | tail -n 5 >&2
    skip "cannot reach $ARCHIVE's archive (apt-get update failed: log above, in $APT_DIR/update.log) and no kernel is cached"
  fi
  touch "$stamp"
  if ! read -r pkg ver < <(newest_kernel_package); then
    [[ -n $KERNEL ]] ||
      die 1 "$ARCHIVE's index lists no linux-binary-<version>-amd64 or linux-image-<version>-amd64[-unsigned] package"
    # A backports suite keeps a few versions only: one asked for may be gone.
    [[ -z $cached ]] || { say "$ARCHIVE lists no $KERNEL kernel now: using the cached $cached"; VERSION=$cached; return 0; }
    skip "$ARCHIVE's index lists no $KERNEL kernel (any longer?) and none is cached in $SUITE_CACHE"
  fi
  if [[ $ver == "$cached" ]]; then
    VERSION=$cached
    return 0
  fi
  local base=()
  [[ $pkg != linux-binary-* ]] || base=("linux-base-$ver")
  say "downloading $pkg${base:+ (and ${base[0]} for its configuration)}"
  (cd "$SUITE_CACHE/debs" && apt-get "${APT_OPTS[@]}" -q download "$pkg" >"$APT_DIR/download.log" 2>&1) || {
    sed 's/^/  /' "$APT_DIR/download.log" | tail -n 5 >&2
    if [[ -n $cached ]]; then
      say "downloading $pkg failed; using the cached kernel $cached"
      VERSION=$cached
      return 0
    fi
    skip "downloading $pkg failed (log above) and no kernel is cached"
  }
  if [[ ${#base[@]} -gt 0 ]]; then
    (cd "$SUITE_CACHE/debs" && apt-get "${APT_OPTS[@]}" -q download "${base[0]}" >>"$APT_DIR/download.log" 2>&1) ||
      say "could not download ${base[0]}: its configuration will not be checked"
  fi
  kdir=$(kernel_dir "$ver")
  tmpd=$kdir.tmp
  rm -rf "$tmpd"
  mkdir -p "$tmpd"
  for deb in "$SUITE_CACHE/debs/${pkg}_"*.deb "$SUITE_CACHE/debs/linux-base-${ver}_"*.deb; do
    [[ -e $deb ]] || continue
    if [[ $pkg == linux-binary-* ]]; then
      dpkg -x "$deb" "$tmpd"
    else
      # A linux-image package is ~100 MB, nearly all modules, which the guest never loads (it
      # has no disk, and the initramfs holds none): only boot/ is kept, and not the package.
      dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmpd" ./boot ||
        die 1 "could not unpack boot/ from $deb"
      rm -f -- "$deb"
    fi
  done
  [[ -r $(kernel_file "$tmpd" "$ver" vmlinuz) ]] ||
    die 1 "$pkg holds neither boot/vmlinuz-$ver nor usr/lib/modules/$ver/vmlinuz (unpacked in $tmpd)"
  rm -rf "$kdir"
  mv "$tmpd" "$kdir"
  printf '%s\n' "$ver" >"$SUITE_CACHE/current"
  say "kernel $ver ($ARCHIVE, package $pkg) cached"
  # Drop older kernels and their packages.
  local old
  for old in "$SUITE_CACHE/kernels/"*; do
    [[ -d $old && $(basename "$old") != "$ver" ]] || continue
    rm -rf "$old"
    old=$(basename "$old")
    rm -f "$SUITE_CACHE/debs/linux-binary-${old}_"*.deb "$SUITE_CACHE/debs/linux-base-${old}_"*.deb \
      "$SUITE_CACHE/debs/linux-image-${old}_"*.deb "$SUITE_CACHE/debs/linux-image-${old}-unsigned_"*.deb
  done
  VERSION=$ver
}

VERSION=
exec 9>"$CACHE/lock"
flock 9 || die 1 "cannot lock $CACHE/lock"
fetch_kernel
check_config "$VERSION"
VMLINUZ=$(vmlinuz_of "$VERSION")
flock -u 9

if [[ $KERNEL_ONLY -eq 1 ]]; then
  printf 'version=%s\nvmlinuz=%s\n' "$VERSION" "$VMLINUZ"
  [[ ! -r $(config_of "$VERSION") ]] || printf 'config=%s\n' "$(config_of "$VERSION")"
  exit 0
fi

BTF_CACHE=$CACHE/btf/$VERSION.btf
if [[ -n $DUMP_BTF && ${#CMDS[@]} -eq 0 && $REFRESH -eq 0 && -s $BTF_CACHE ]]; then
  cp -- "$BTF_CACHE" "$DUMP_BTF"
  say "wrote $DUMP_BTF: the BTF of kernel $VERSION (cached in $BTF_CACHE)"
  exit 0
fi

check_boot_tools

# ---- the initramfs -----------------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mnsched-vm.XXXXXX")
CONSOLE=$WORK/console.log
keep_work=$KEEP
# shellcheck disable=SC2317  # called by the trap
cleanup() {
  # qemu runs in the background (see host_wait): stopped here, it does not outlive us.
  [[ -z ${tpid:-} ]] || kill "$tpid" 2>/dev/null || true
  if [[ $keep_work -eq 0 ]]; then
    rm -rf "$WORK"
  else
    say "work directory kept: $WORK"
  fi
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

ROOTFS=$WORK/root
mkdir -p "$ROOTFS"/{usr/bin,usr/sbin,usr/lib,proc,sys,dev,tmp,run,etc,root,mn}
# The same merged-/usr layout as the host (bin -> usr/bin, ...), as relative links, so files go to
# the paths ldd prints and writing through these links stays inside $ROOTFS.
for d in bin sbin lib lib32 lib64 libx32; do
  if [[ -L /$d ]]; then
    target=$(readlink -f "/$d")
    mkdir -p "$ROOTFS$target"
    ln -s "${target#/}" "$ROOTFS/$d"
  fi
done

# put SRC GUEST_PATH: copies a host file (following links) to GUEST_PATH in the guest.
put() {
  local src=$1 dst=$ROOTFS$2
  mkdir -p "$(dirname -- "$dst")"
  [[ ! -L $dst ]] || rm -f -- "$dst"
  cp -L --preserve=mode -- "$src" "$dst"
}

is_elf() { [[ $(head -c 4 -- "$1" 2>/dev/null | od -An -c | tr -d ' \n') == '177ELF' ]]; }

declare -A STAGED_LIBS=()
# put_with_libs FILE: the file at its own path, and for a dynamic ELF the libraries ldd lists
# (and the dynamic loader) at theirs.
put_with_libs() {
  local f=$1 lib out
  put "$f" "$f"
  [[ -x $f ]] && is_elf "$f" || return 0
  out=$(ldd -- "$f" 2>&1) || {
    [[ $out == *"not a dynamic executable"* || $out == *"statically linked"* ]] && return 0
    die 1 "ldd $f failed: $out"
  }
  if grep -q 'not found' <<<"$out"; then
    die 1 "$f: shared libraries not found on the host: $(grep 'not found' <<<"$out" | tr -s ' \t' ' ')"
  fi
  while read -r lib; do
    [[ -n $lib && -z ${STAGED_LIBS[$lib]:-} ]] || continue
    STAGED_LIBS[$lib]=1
    put "$lib" "$lib"
  done < <(grep -oE '(^|[[:space:]])/[^[:space:]]+' <<<"$out" | tr -d ' \t')
}

GUEST_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
declare -A PATH_DIRS=()
for f in "${WITH[@]}"; do
  put_with_libs "$f"
  if [[ -x $f ]]; then
    d=$(dirname -- "$f")
    if [[ -z ${PATH_DIRS[$d]:-} ]]; then
      PATH_DIRS[$d]=1
      GUEST_PATH=$d:$GUEST_PATH
    fi
  fi
done

# busybox and its applets (links made last, and never over a file already staged).
put_with_libs "$BUSYBOX"
[[ $BUSYBOX == /bin/busybox ]] || put "$BUSYBOX" /bin/busybox
while read -r applet; do
  [[ -n $applet ]] || continue
  dst=$ROOTFS/$applet
  [[ -e $dst || -L $dst ]] && continue
  mkdir -p "$(dirname -- "$dst")"
  ln -s /bin/busybox "$dst"
done < <("$BUSYBOX" --list-full)

printf 'root:x:0:0:root:/root:/bin/sh\n' >"$ROOTFS/etc/passwd"
printf 'root:x:0:\n' >"$ROOTFS/etc/group"
printf '127.0.0.1 localhost mnsched-vm\n::1 localhost ip6-localhost\n' >"$ROOTFS/etc/hosts"
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$ROOTFS/etc/nsswitch.conf"

# Single-quotes a string for sh.
sq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

{
  printf 'export PATH=%s\n' "$(sq "$GUEST_PATH")"
  while IFS='=' read -r name _; do
    [[ $name == MN_* && $name != MN_VM_* ]] || continue
    printf 'export %s=%s\n' "$name" "$(sq "${!name}")"
  done < <(env | grep -E '^MN_[A-Za-z0-9_]*=' || true)
  for e in "${ENVS[@]}"; do
    printf 'export %s=%s\n' "${e%%=*}" "$(sq "${e#*=}")"
  done
} >"$ROOTFS/mn/env"

NCMDS=${#CMDS[@]}
if [[ $NCMDS -eq 0 && -z $DUMP_BTF ]]; then
  CMDS=('echo "kernel $(uname -r), sched_ext $(cat /sys/kernel/sched_ext/state 2>/dev/null || echo absent)"')
  NCMDS=1
fi
for i in "${!CMDS[@]}"; do
  printf '%s\n' "${CMDS[$i]}" >"$ROOTFS/mn/cmd.$((i + 1))"
done
printf '%s\n' "$NCMDS" >"$ROOTFS/mn/ncmds"
[[ -z $DUMP_BTF ]] || : >"$ROOTFS/mn/dump-btf"

cat >"$ROOTFS/init" <<'EOF'
#!/bin/sh
# mnsched VM init (written by tests/vm/run.sh).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TMPDIR=/tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
# A tmpfs on /tmp, unless files were staged there (--with /tmp/...): the initramfs is writable too.
[ -n "$(ls -A /tmp)" ] || mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t bpf bpf /sys/fs/bpf
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
echo 1 >/proc/sys/kernel/sysrq
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up
hostname mnsched-vm

# The virtio-serial ports, by name (the device numbering is not fixed).
port() {
  for n in /sys/class/virtio-ports/*/name; do
    [ -r "$n" ] || continue
    if [ "$(cat "$n")" = "$1" ]; then
      d=${n%/name}
      echo "/dev/${d##*/}"
      return 0
    fi
  done
  return 1
}
tries=0
while ! OUT=$(port out) || ! STATUS=$(port status) || ! BLOB=$(port blob) ||
  [ ! -c "$OUT" ] || [ ! -c "$STATUS" ] || [ ! -c "$BLOB" ]; do
  tries=$((tries + 1))
  if [ $tries -gt 50 ]; then
    echo "mn-init: virtio-serial ports not found:" $(ls /sys/class/virtio-ports) >/dev/console
    poweroff -f
  fi
  sleep 0.1
done

exec 3>"$STATUS" 4>"$OUT"
echo "booted $(cut -d' ' -f1 /proc/uptime)" >&3
echo "kernel $(uname -r)" >&3
echo "sched_ext $(cat /sys/kernel/sched_ext/state 2>/dev/null || echo absent)" >&3

if [ -e /mn/dump-btf ]; then
  if [ -r /sys/kernel/btf/vmlinux ]; then
    cat /sys/kernel/btf/vmlinux >"$BLOB"
    echo "btf $(wc -c </sys/kernel/btf/vmlinux)" >&3
  else
    echo "btf absent" >&3
  fi
fi

. /mn/env
cd /tmp
n=$(cat /mn/ncmds)
i=1
while [ $i -le $n ]; do
  echo "start $i $(cut -d' ' -f1 /proc/uptime)" >&3
  /bin/sh /mn/cmd.$i >&4 2>&4 </dev/null
  echo "exit $i $? $(cut -d' ' -f1 /proc/uptime)" >&3
  i=$((i + 1))
done
echo "sched_ext_end $(cat /sys/kernel/sched_ext/state 2>/dev/null || echo absent)" >&3
echo "done" >&3
exec 3>&- 4>&-
# The whole kernel log, after the (quiet) console output, for diagnosis.
{ echo "---- dmesg ----"; dmesg; } >/dev/console 2>&1
sync
poweroff -f
echo o >/proc/sysrq-trigger
EOF
chmod 755 "$ROOTFS/init"

INITRD=$WORK/initrd.gz
(cd "$ROOTFS" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) | gzip -1 >"$INITRD"

# ---- qemu --------------------------------------------------------------------------------------
# Single-threaded TCG: with thread=multi the guest was seen to oops when the kernel patches its
# own text (loading BPF programs, attaching struct_ops). KVM fails on the build machines.
: >"$WORK/out"
: >"$WORK/status"
: >"$WORK/blob"
# shellcheck disable=SC2054 # the commas are qemu's
QEMU=(
  qemu-system-x86_64
  -accel tcg,thread=single -cpu max -smp "$CPUS" -m "$MEM"
  -nodefaults -display none -no-reboot
  -serial "file:$CONSOLE"
  -kernel "$VMLINUZ" -initrd "$INITRD"
  -append "console=ttyS0 quiet panic=-1 $APPEND"
  -device virtio-serial
  -chardev "file,id=out,path=$WORK/out" -device virtserialport,chardev=out,name=out
  -chardev "file,id=status,path=$WORK/status" -device virtserialport,chardev=status,name=status
  -chardev "file,id=blob,path=$WORK/blob" -device virtserialport,chardev=blob,name=blob
)
# With autogroup scheduling (kernel.sched_autogroup_enabled) a niceness only ranks tasks of
# one session: a build in another session's group gets as much CPU as qemu whatever their
# nice values (seen: qemu's TCG thread waited 40% of the time at nice -10). So qemu gets a
# session of its own, and its group the niceness too (below).
[[ -z $NICE ]] || QEMU=(setsid nice -n "$NICE" "${QEMU[@]}")

# host_wait QEMU_PID: the --host-wait lines until qemu ends. run_delay (schedstat's second
# field) is summed over qemu's threads; a thread that ended takes its share with it, which
# only the I/O helpers do, and they hardly wait.
host_wait() {
  local pid=$1 t sum f d
  : >"$HOST_WAIT"
  while kill -0 "$pid" 2>/dev/null; do
    t=$(date +%s.%N)
    sum=0
    for f in /proc/"$pid"/task/*/schedstat; do
      read -r _ d _ <"$f" 2>/dev/null && sum=$((sum + d))
    done
    printf '%s %s %s\n' "$t" "$sum" "$(stat -c %s "$WORK/out")" >>"$HOST_WAIT"
    sleep 0.25
  done
}

say "booting kernel $VERSION (timeout ${TIMEOUT}s${NICE:+, nice $NICE})"
t0=$(date +%s.%N)
set +e
timeout --kill-after=10 "$TIMEOUT" "${QEMU[@]}" </dev/null >"$WORK/qemu.log" 2>&1 &
tpid=$!
hpid=
qpid=
if [[ -n $HOST_WAIT || -n $NICE ]]; then
  # qemu is timeout's child (setsid and nice exec it); wait for it to exist.
  for _ in $(seq 100); do
    qpid=$(pgrep -P "$tpid" | head -n 1)
    [[ -z $qpid ]] || break
    sleep 0.05
  done
fi
if [[ -n $qpid && -n $NICE && -w /proc/$qpid/autogroup ]]; then
  echo "$NICE" >"/proc/$qpid/autogroup" 2>/dev/null || say "warning: could not set the niceness of qemu's autogroup to $NICE"
fi
if [[ -n $qpid && -n $HOST_WAIT ]]; then
  host_wait "$qpid" &
  hpid=$!
fi
wait "$tpid"
qrc=$?
tpid=
[[ -z $hpid ]] || wait "$hpid"
set -e
t1=$(date +%s.%N)
elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')

cat -- "$WORK/out"

failed() {
  keep_work=1
  say "$*"
  if [[ -s $WORK/qemu.log ]]; then
    say "qemu said:"
    sed 's/^/  /' "$WORK/qemu.log" | tail -n 20 >&2
  fi
  if [[ -s $CONSOLE ]]; then
    say "the console log's last lines:"
    sed 's/^/  /' "$CONSOLE" | tail -n 30 >&2
  else
    say "the console log is empty (the kernel runs with 'quiet': --append loglevel=7 shows all its messages)"
  fi
  say "console log: $CONSOLE"
}

if [[ $qrc -eq 124 || $qrc -eq 137 ]]; then
  last=$(grep '^start ' "$WORK/status" | tail -n 1 | cut -d' ' -f2)
  if [[ -n $last ]] && ! grep -q "^exit $last " "$WORK/status"; then
    failed "TIMEOUT after ${TIMEOUT}s, in command $last: ${CMDS[$((last - 1))]}"
  else
    failed "TIMEOUT after ${TIMEOUT}s (the guest never finished booting or powering off)"
  fi
  exit 124
fi
if [[ $qrc -ne 0 ]]; then
  failed "qemu failed (exit status $qrc)"
  exit 1
fi
if ! grep -qx 'done' "$WORK/status"; then
  failed "the guest stopped before reporting that its commands were done (a kernel panic? see the console log)"
  exit 1
fi

boot=$(awk '$1 == "booted" { print $2 }' "$WORK/status")
sx=$(awk '$1 == "sched_ext" { print $2 }' "$WORK/status")
sx_end=$(awk '$1 == "sched_ext_end" { print $2 }' "$WORK/status")
say "kernel $VERSION: booted in ${boot}s, sched_ext $sx at start, $sx_end at the end; ${elapsed}s in all"
[[ $sx != absent ]] || say "warning: this kernel has no /sys/kernel/sched_ext"

if [[ -n $DUMP_BTF ]]; then
  want=$(awk '$1 == "btf" { print $2 }' "$WORK/status")
  if [[ $want == absent || -z $want ]]; then
    failed "the guest kernel has no /sys/kernel/btf/vmlinux"
    exit 1
  fi
  got=$(stat -c %s "$WORK/blob")
  if [[ $got != "$want" ]]; then
    failed "the BTF came out truncated: $got bytes of $want"
    exit 1
  fi
  mkdir -p "$CACHE/btf"
  cp -- "$WORK/blob" "$BTF_CACHE.tmp" && mv -- "$BTF_CACHE.tmp" "$BTF_CACHE"
  cp -- "$WORK/blob" "$DUMP_BTF"
  say "wrote $DUMP_BTF: the BTF of kernel $VERSION ($got bytes; cached in $BTF_CACHE)"
fi

rc=0
while read -r _ i status end; do
  start=$(awk -v i="$i" '$1 == "start" && $2 == i { print $3 }' "$WORK/status")
  secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
  if [[ $status -ne 0 ]]; then
    say "command $i exited $status (${secs}s): ${CMDS[$((i - 1))]}"
    [[ $rc -ne 0 ]] || rc=$status
  elif [[ $NCMDS -gt 1 ]]; then
    say "command $i passed (${secs}s): ${CMDS[$((i - 1))]}"
  fi
done < <(grep '^exit ' "$WORK/status")
if [[ -n $EXPECT_STATE && $sx_end != "$EXPECT_STATE" ]]; then
  say "FAILED: /sys/kernel/sched_ext/state reads '$sx_end' after the commands, expected '$EXPECT_STATE'"
  [[ $rc -ne 0 ]] || rc=1
fi
if [[ $rc -ne 0 ]]; then
  keep_work=1
  say "console log: $CONSOLE"
fi
exit "$rc"
