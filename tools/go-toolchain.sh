#!/usr/bin/env bash
# Print (on stdout, one line) the absolute path of a `go` binary for Go 1.24,
# fetching it first if needed. Progress and warnings go to stderr.
#
# How: Debian 12 ships Go 1.19 only, so the toolchain comes from Debian 13
# ("trixie"): golang-1.24-go + golang-1.24-src are downloaded through the
# machine's own apt mirror with a private apt configuration (own sources, lists
# and cache; the system's apt state is not touched), unpacked with `dpkg -x`
# into the cache dir, and checked with `go version`. Later runs reuse the cache.
#
# Cache dir: ${MN_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mnsched}/go-1.24
#
# Fallback, when Debian 13's Go cannot be had: Debian 12's golang-go (installed
# with apt-get if missing, which needs root), with a warning naming its version.
#
# No mirror host is written anywhere: the URIs are read from the machine's apt
# sources at run time.
set -euo pipefail

readonly GO_SERIES=1.24
readonly SUITE=trixie
readonly PKGS=("golang-${GO_SERIES}-go" "golang-${GO_SERIES}-src")
readonly DEFAULT_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

log() { printf 'go-toolchain: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

home_dir() {
    if [[ -n "${HOME:-}" ]]; then
        printf '%s\n' "$HOME"
    else
        getent passwd "$(id -u)" | cut -d: -f6
    fi
}

base_dir="${MN_CACHE_DIR:-${XDG_CACHE_HOME:-$(home_dir)/.cache}/mnsched}"
cache_dir="$base_dir/go-$GO_SERIES"
go_rel="usr/lib/go-$GO_SERIES/bin/go"
stamp_name=".mnsched-complete"

# go_ok BIN: BIN runs and reports a go$GO_SERIES version.
go_ok() {
    local bin="$1" out
    [[ -x "$bin" ]] || return 1
    out="$(cd / && env -u GOROOT -u GOFLAGS GOTOOLCHAIN=local GOENV=off "$bin" version 2>/dev/null)" || return 1
    [[ "$out" == "go version go${GO_SERIES}"* ]]
}

# 1. The cache, when complete. This is the fast path of every later run.
if [[ -f "$cache_dir/$stamp_name" ]] && go_ok "$cache_dir/$go_rel"; then
    printf '%s\n' "$cache_dir/$go_rel"
    exit 0
fi

# 2. A system-wide golang-1.24-go, if someone installed one.
if go_ok "/$go_rel"; then
    printf '%s\n' "/$go_rel"
    exit 0
fi

# ---------------------------------------------------------------------------
# Reading the machine's apt sources.

# Print "URI<TAB>KEYRING" for each Debian archive (not security) source of the
# machine, deb822 (*.sources) and one-line (sources.list, *.list) formats alike.
machine_sources() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -r "$f" ]] || continue
        awk '
            function flush() {
                if (uris != "" && types ~ /(^| )deb( |$)/ && enabled != "no" && main_suite) {
                    n = split(uris, u, /[ \t]+/)
                    for (i = 1; i <= n; i++) if (u[i] != "") print u[i] "\t" signed
                }
                uris = ""; types = ""; signed = ""; enabled = ""; main_suite = 0
            }
            /^[ \t]*#/ { next }
            /^[ \t]*$/ { flush(); next }
            {
                line = $0
                key = line; sub(/:.*/, "", key); key = tolower(key)
                val = line; sub(/^[^:]*:[ \t]*/, "", val); sub(/[ \t]+$/, "", val)
                if (key == "types") types = val
                else if (key == "uris") uris = val
                else if (key == "signed-by") signed = val
                else if (key == "enabled") enabled = tolower(val)
                else if (key == "suites") {
                    n = split(val, s, /[ \t]+/)
                    for (i = 1; i <= n; i++)
                        if (s[i] != "" && s[i] !~ /-security$/ && s[i] !~ /\//) main_suite = 1
                }
            }
            END { flush() }
        ' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -r "$f" ]] || continue
        awk '
            /^[ \t]*deb[ \t]/ {
                line = $0
                sub(/#.*/, "", line)
                signed = ""
                if (match(line, /\[[^]]*\]/)) {
                    opts = substr(line, RSTART + 1, RLENGTH - 2)
                    line = substr(line, 1, RSTART - 1) " " substr(line, RSTART + RLENGTH)
                    n = split(opts, o, /[ \t]+/)
                    for (i = 1; i <= n; i++)
                        if (tolower(o[i]) ~ /^signed-by=/) { signed = o[i]; sub(/^[^=]*=/, "", signed) }
                }
                n = split(line, w, /[ \t]+/)
                j = 0
                for (i = 1; i <= n; i++) if (w[i] != "") f[++j] = w[i]
                # f[1] = deb, f[2] = URI, f[3] = suite
                if (j >= 3 && f[3] !~ /-security$/ && f[3] !~ /\//) print f[2] "\t" signed
            }
        ' "$f"
    done
}

# candidate_uris URI: the URI itself, then, for a dated snapshot archive URL
# (.../archive/<name>/<YYYYMMDDThhmmssZ>), the same archive as of now (the
# snapshot may be older than the packages wanted).
candidate_uris() {
    local uri="${1%/}"
    printf '%s\n' "$uri"
    if [[ "$uri" =~ ^(.*/archive/[^/]+)/[0-9]{8}T[0-9]{6}Z$ ]]; then
        printf '%s/%s\n' "${BASH_REMATCH[1]}" "$(date -u +%Y%m%dT%H%M%SZ)"
    fi
}

# ---------------------------------------------------------------------------
# Fetching Debian 13's toolchain with a private apt configuration.

# fetch_from URI KEYRING WORK: try to download and unpack into WORK/root.
fetch_from() {
    local uri="$1" keyring="$2" work="$3"
    # (Called in an if, where set -e does not apply: every step checks.)
    rm -rf "$work" || return 1
    mkdir -p "$work/sources" "$work/prefs" "$work/lists/partial" \
             "$work/cache/archives/partial" "$work/debs" "$work/root" || return 1

    cat >"$work/sources/mnsched-go.sources" <<EOF
Types: deb
URIs: $uri
Suites: $SUITE
Components: main
Signed-By: $keyring
EOF
    [[ -s "$work/sources/mnsched-go.sources" ]] || return 1
    # Everything private; and no hooks of the system's apt configuration
    # (they would refresh system caches after our update).
    cat >"$work/apt.conf" <<EOF
Dir::Etc::SourceList "/dev/null";
Dir::Etc::SourceParts "$work/sources";
Dir::Etc::Preferences "/dev/null";
Dir::Etc::PreferencesParts "$work/prefs";
Dir::State::Lists "$work/lists";
Dir::Cache "$work/cache";
Dir::Cache::archives "$work/cache/archives";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
// Download as ourselves: _apt may not be able to write into the cache dir.
APT::Sandbox::User "root";
#clear APT::Update::Pre-Invoke;
#clear APT::Update::Post-Invoke;
#clear APT::Update::Post-Invoke-Success;
#clear DPkg::Pre-Invoke;
#clear DPkg::Post-Invoke;
#clear DPkg::Pre-Install-Pkgs;
EOF
    [[ -s "$work/apt.conf" ]] || return 1
    local -a apt_opts=(
        -c "$work/apt.conf"
        -o "Dir::Etc::SourceList=/dev/null"
        -o "Dir::Etc::SourceParts=$work/sources"
        -o "Dir::State::Lists=$work/lists"
        -o "Dir::Cache=$work/cache"
        -q
    )

    log "apt-get update ($SUITE) from the machine's mirror ..."
    # apt-get update exits 0 even when a source failed; -o APT::Update::Error-Mode
    # is not in Debian 12's apt, so check the lists instead.
    apt-get "${apt_opts[@]}" update </dev/null >"$work/update.log" 2>&1 || {
        sed 's/^/  /' "$work/update.log" >&2
        return 1
    }
    if grep -qE '^(W|E): ' "$work/update.log"; then
        grep -E '^(W|E): ' "$work/update.log" | sed 's/^/  /' >&2
    fi
    if ! ls "$work/lists/"*_dists_"${SUITE}"_*Packages* >/dev/null 2>&1; then
        log "no $SUITE package lists from this source"
        return 1
    fi

    log "apt-get download ${PKGS[*]} ..."
    (cd "$work/debs" && apt-get "${apt_opts[@]}" download "${PKGS[@]}" </dev/null >"$work/download.log" 2>&1) || {
        sed 's/^/  /' "$work/download.log" >&2
        return 1
    }
    local deb
    for deb in "$work/debs/"*.deb; do
        [[ -f "$deb" ]] || { log "nothing downloaded"; return 1; }
        log "unpacking $(basename "$deb")"
        dpkg -x "$deb" "$work/root" || return 1
    done
    if [[ ! -d "$work/root/usr/lib/go-$GO_SERIES/src/runtime/" ]]; then
        log "the unpacked toolchain has no src/runtime"
        return 1
    fi
    if ! go_ok "$work/root/$go_rel"; then
        log "the unpacked toolchain does not run here:"
        (cd / && GOTOOLCHAIN=local GOENV=off "$work/root/$go_rel" version 2>&1 | sed 's/^/  /' >&2) || true
        return 1
    fi
    return 0
}

fetch_trixie_go() {
    if ! command -v apt-get >/dev/null || ! command -v dpkg >/dev/null; then
        log "apt-get/dpkg not found"
        return 1
    fi
    local -a sources=()
    mapfile -t sources < <(machine_sources | awk -F '\t' '!seen[$1]++')
    if [[ ${#sources[@]} -eq 0 ]]; then
        log "no Debian archive found in the machine's apt sources"
        return 1
    fi
    local work="$base_dir/.go-$GO_SERIES-fetch.$$"
    local entry uri keyring cand
    for entry in "${sources[@]}"; do
        uri="${entry%%$'\t'*}"
        keyring="${entry#*$'\t'}"
        [[ "$uri" == cdrom:* ]] && continue
        [[ -n "$keyring" && -r "$keyring" ]] || keyring="$DEFAULT_KEYRING"
        [[ -r "$keyring" ]] || { log "keyring $keyring not readable"; continue; }
        while IFS= read -r cand; do
            if fetch_from "$cand" "$keyring" "$work"; then
                # Publish atomically-ish: replace the cache with the checked tree.
                rm -rf "$cache_dir" && mv "$work/root" "$cache_dir" || return 1
                (cd / && GOTOOLCHAIN=local GOENV=off "$cache_dir/$go_rel" version) \
                    >"$cache_dir/$stamp_name" || return 1
                rm -rf "$work"
                return 0
            fi
            log "could not get Go $GO_SERIES from $SUITE via this source"
        done < <(candidate_uris "$uri")
    done
    rm -rf "$work"
    return 1
}

fallback_go() {
    local go_bin
    go_bin="$(command -v go || true)"
    if [[ -z "$go_bin" ]]; then
        if [[ "$(id -u)" -ne 0 ]]; then
            die "no Go $GO_SERIES and no go on PATH; install golang-go (as root: apt-get install -y golang-go)"
        fi
        log "installing Debian 12's golang-go ..."
        export DEBIAN_FRONTEND=noninteractive
        if ! apt-get install -y -q golang-go </dev/null >&2; then
            apt-get update -q </dev/null >&2 || true
            apt-get install -y -q golang-go </dev/null >&2 || die "apt-get install golang-go failed"
        fi
        go_bin="$(command -v go || true)"
        [[ -n "$go_bin" ]] || die "golang-go installed but no go on PATH"
    fi
    go_bin="$(readlink -f "$go_bin")"
    local ver
    ver="$(cd / && GOTOOLCHAIN=local "$go_bin" version 2>/dev/null)" || die "$go_bin does not run"
    log "WARNING: Go $GO_SERIES could not be had; using $go_bin ($ver) instead"
    printf '%s\n' "$go_bin"
}

mkdir -p "$base_dir"
# One fetch at a time; a second caller waits and then finds the cache.
exec 9>"$base_dir/.go-$GO_SERIES.lock"
if command -v flock >/dev/null; then
    flock 9
fi
if [[ -f "$cache_dir/$stamp_name" ]] && go_ok "$cache_dir/$go_rel"; then
    printf '%s\n' "$cache_dir/$go_rel"
    exit 0
fi

log "fetching Go $GO_SERIES from Debian $SUITE into $cache_dir (one time) ..."
if fetch_trixie_go; then
    log "$(cat "$cache_dir/$stamp_name")"
    printf '%s\n' "$cache_dir/$go_rel"
    exit 0
fi
fallback_go
