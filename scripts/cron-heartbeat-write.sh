#!/usr/bin/env bash
# cron-heartbeat-write.sh JOB INTERVAL [STATUS] [SUMMARY]
# Writes a heartbeat for JOB from any cron/launchd job. ALWAYS exits 0: it must never be the
# thing that breaks the job that calls it, so there is no `set -e` here; it complains on stderr.
set -u
job=${1:-} interval=${2:-} status=${3:-ok} summary=${4:-}
say() { printf 'cron-heartbeat-write: %s\n' "$*" >&2; }
if [ -z "$job" ] || [ -z "$interval" ]; then say "usage: cron-heartbeat-write.sh JOB INTERVAL [STATUS] [SUMMARY]"; exit 0; fi
# `JOB 1 day ok`: a number and a unit word are one INTERVAL (1d), not 1 s and status 'day'.
unit=
case ${3:-} in s|sec|secs|second|seconds) unit=s ;; m|min|mins|minute|minutes) unit=m ;; h|hour|hours) unit=h ;;
  d|day|days) unit=d ;; w|week|weeks) unit=w ;; esac
if [ -n "$unit" ] && [[ $interval =~ ^[0-9]+$ ]]; then
  say "INTERVAL '$interval $3' read as $interval$unit (write it as one word)"
  interval=$interval$unit status=${4:-ok} summary=${5:-}
fi
# INTERVAL may be plain seconds here (alive itself wants a unit: 900 -> 900s).
case $interval in *[!0-9]*) ;; *) interval=${interval}s ;; esac

# bin/alive sits beside this script's real location (followed through symlinks, from any cwd).
src=${BASH_SOURCE[0]}
while [ -L "$src" ]; do
  link=$(readlink "$src") || break
  case $link in /*) src=$link ;; *) case $src in */*) src=${src%/*}/$link ;; *) src=$link ;; esac ;; esac
done
case $src in */*) dir=${src%/*} ;; *) dir=. ;; esac
alive="$dir/../bin/alive"

# The interpreter `make install` found (bin/.alive-python: a real one, never a pyenv shim
# that costs a bash start per write), then, as launchd gives PATH=/usr/bin:/bin:/usr/sbin:/sbin,
# where Python usually lives (ALIVE_PYTHON_PATHS, colon-separated, replaces that list).
# bin/alive exits 86 when the interpreter is older than 3.11: try the next one then, and say
# what the old ones said only when none will do.
recorded='' too_old=''
[ -r "$dir/../bin/.alive-python" ] && IFS= read -r recorded <"$dir/../bin/.alive-python"
known="/opt/homebrew/bin/python3:/usr/local/bin/python3:${HOME:-/nonexistent}/.pyenv/shims/python3:/usr/bin/python3"
IFS=: read -r -a more <<<"${ALIVE_PYTHON_PATHS-$known}"
for py in "${ALIVE_PYTHON:-}" "$recorded" "$(command -v python3 2>/dev/null)" ${more[@]+"${more[@]}"}; do
  if [ -z "$py" ] || [ ! -x "$py" ] || [ ! -f "$alive" ]; then continue; fi
  err=$("$py" -S "$alive" write "$job" --interval "$interval" --status "$status" ${summary:+--summary "$summary"} 2>&1 >/dev/null)
  rc=$?
  if [ "$rc" -ne 86 ]; then [ -z "$err" ] || printf '%s\n' "$err" >&2; exit 0; fi
  too_old+="$err"$'\n'
done
[ -z "$too_old" ] || printf '%s' "$too_old" >&2

# No Python 3.11+ (or no bin/alive): write a valid minimal heartbeat in pure bash (temp file in the
# same folder, then link/rename). Byte-wise text tools (LC_ALL=C); the summary is cleaned as alive does.
export LC_ALL=C
why="no Python 3.11+ found"; [ -f "$alive" ] || why="bin/alive not found beside the script"
[[ $job =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ ]] || { say "invalid job id '$job'"; exit 0; }
case $status in ok|partial|skipped|error) ;; *) say "status '$status' is not ok|partial|skipped|error"; exit 0 ;; esac
secs=0 rest=$interval
while [[ $rest =~ ^([0-9]{1,9})([smhdw])(.*)$ ]]; do
  case ${BASH_REMATCH[2]} in s) u=1 ;; m) u=60 ;; h) u=3600 ;; d) u=86400 ;; *) u=604800 ;; esac
  secs=$((secs + 10#${BASH_REMATCH[1]} * u)) rest=${BASH_REMATCH[3]}
done
[ -z "$rest" ] || { say "interval '$interval' is not a duration (seconds, or e.g. 15m, 36h, 1h30m)"; exit 0; }
if [ -n "${ALIVE_HOME:-}" ]; then home=$ALIVE_HOME
elif [ "$(uname)" = Darwin ]; then home="${HOME:-/nonexistent}/Library/Application Support/alive"
else home="${XDG_STATE_HOME:-${HOME:-/nonexistent}/.local/state}/alive"; fi
health="$home/health" created=''
[ -d "$home" ] || created="; created ALIVE_HOME $home"
mkdir -p "$health" 2>/dev/null || { say "cannot create $health"; exit 0; }
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
# Control characters become spaces, runs of spaces one, at most 200 bytes without splitting a
# UTF-8 character, then JSON escapes. A summary left empty becomes "JOB STATUS".
cut_utf8=$'s/[\xC0-\xDF]$//; s/[\xE0-\xEF][\x80-\xBF]\\{0,1\\}$//; s/[\xF0-\xF7][\x80-\xBF]\\{0,2\\}$//'
text=$(printf '%s' "$summary" | tr -s '\001-\037 ' ' ' | sed 's/^ //' | cut -c1-200 | sed -e "$cut_utf8" -e 's/ $//')
text=${text:-$job $status}
text=$(printf '%s' "$text" | sed 's/\\/\\\\/g; s/"/\\"/g')
tmp="$health/.hb.$$.$RANDOM.tmp"
set -C  # the temp file is created with O_EXCL
printf '{"task_id": "%s", "status": "%s", "started_at": "%s", "completed_at": "%s", "summary": "%s", "warnings": ["written by the bash fallback: %s"], "errors": [], "metrics": {}, "interval_s": %d, "schema": 1}\n' \
  "$job" "$status" "$now" "$now" "$text" "$why" "$secs" 2>/dev/null >"$tmp" || { say "cannot write in $health"; rm -f "$tmp"; exit 0; }
base="$health/${now:0:10}_${job}_${now:11:2}${now:14:2}"
n=1 name="$base.json"
until ln "$tmp" "$name" 2>/dev/null; do  # link never overwrites: a taken name means try the next
  if [ ! -e "$name" ] || [ $n -ge 9999 ]; then say "cannot create $name; only ${job}_latest.json is written"; break; fi
  n=$((n + 1)) name="$base-$n.json"
done
mv -f "$tmp" "$health/${job}_latest.json" || say "cannot write $health/${job}_latest.json"
say "$why: wrote a minimal heartbeat for $job in bash$created"
exit 0
