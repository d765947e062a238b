#!/usr/bin/env bash
# trace-screenshot.sh: a PNG of a trace as tools/trace-viewer.html draws it, rendered by
# a headless chromium (Debian's: apt-get install -y chromium), for docs and for machines
# without a display.
#
#   tools/trace-screenshot.sh [--start US] [--end US] [--size WxH] <trace.json> <out.png>
#
# --start/--end pick the window to draw, in microseconds from the start of the trace (as
# ts is in the file; default: all of it); --size is the window (default 1600x900).
#
# The trace is embedded into a copy of the viewer (a file:// page cannot fetch another
# file), with every "</" written "<\/" so that nothing in it can close the script element
# it sits in (JSON allows "\/" in strings, and "</" cannot occur outside them). Chromium
# runs with its background networking off: this must work on a closed network.
#
# Exit codes: 0 written; 1 chromium missing or failed, or the trace missing; 2 bad usage.
set -euo pipefail

usage="usage: tools/trace-screenshot.sh [--start US] [--end US] [--size WxH] <trace.json> <out.png>"
bad_arg() { printf 'trace-screenshot.sh: %s\n%s\n' "$1" "$usage" >&2; exit 2; }
die() { printf 'trace-screenshot.sh: %s\n' "$1" >&2; exit 1; }

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
viewer="$here/trace-viewer.html"
start="" end="" size="1600x900"
args=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --start|--end|--size)
            [[ $# -ge 2 ]] || bad_arg "$1 needs a value"
            case "$1" in
                --start) start="$2" ;;
                --end) end="$2" ;;
                --size) size="$2" ;;
            esac
            shift 2 ;;
        --start=*) start="${1#*=}"; shift ;;
        --end=*) end="${1#*=}"; shift ;;
        --size=*) size="${1#*=}"; shift ;;
        -h|--help) printf '%s\n' "$usage"; exit 0 ;;
        -*) bad_arg "unknown option $1" ;;
        *) args+=("$1"); shift ;;
    esac
done
[[ ${#args[@]} -eq 2 ]] || bad_arg "expected a trace file and an output file, got ${#args[@]} arguments"
trace="${args[0]}" out="${args[1]}"
num='^[0-9]+(\.[0-9]+)?$'
[[ -z "$start" || "$start" =~ $num ]] || bad_arg "--start $start: not a number of microseconds"
[[ -z "$end" || "$end" =~ $num ]] || bad_arg "--end $end: not a number of microseconds"
[[ "$size" =~ ^[1-9][0-9]{2,4}x[1-9][0-9]{2,4}$ ]] || bad_arg "--size $size: expected WIDTHxHEIGHT, such as 1600x900"
[[ -r "$trace" ]] || die "cannot read the trace $trace"
[[ -r "$viewer" ]] || die "the viewer $viewer is missing"

chromium="$(command -v chromium || command -v chromium-browser || true)"
[[ -n "$chromium" ]] || die "chromium is not installed (Debian: apt-get install -y chromium)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
page="$work/trace.html"
marker='<script id="trace-data" type="application/json"></script>'
line="$(grep -nF "$marker" "$viewer" | cut -d: -f1)"
[[ -n "$line" ]] || die "$viewer has no trace-data element to fill"
name="$(basename "$trace" | tr -cd 'A-Za-z0-9._+-')"
{
    head -n "$((line - 1))" "$viewer"
    printf '<script id="trace-data" type="application/json" data-name="%s">\n' "$name"
    sed 's#</#<\\/#g' "$trace"
    printf '</script>\n'
    tail -n "+$((line + 1))" "$viewer"
} >"$page"

hash=""
[[ -n "$start" ]] && hash="start=$start"
[[ -n "$end" ]] && hash="${hash:+$hash&}end=$end"
url="file://$page${hash:+#$hash}"

out_abs="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
rm -f "$out_abs"
flags=(--headless --disable-gpu --disable-quic --no-first-run --disable-background-networking
       --disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$work/profile"
       --window-size="${size/x/,}" --virtual-time-budget=20000 --screenshot="$out_abs")
# Chromium refuses to run as root inside its sandbox.
[[ "$(id -u)" -eq 0 ]] && flags+=(--no-sandbox)
if ! timeout 180 "$chromium" "${flags[@]}" "$url" >"$work/chromium.log" 2>&1 || [[ ! -s "$out_abs" ]]; then
    tail -n 20 "$work/chromium.log" >&2
    die "chromium did not write $out"
fi
printf '%s\n' "$out"
