#!/usr/bin/env bash
# cron-heartbeat-write.sh JOB INTERVAL [STATUS] [SUMMARY]
# Writes a heartbeat for JOB from any cron/launchd job. ALWAYS exits 0: it must never be the
# thing that breaks the job that calls it, so there is no `set -e` here; it complains on stderr.
set -u
job=${1:-} interval=${2:-} status=${3:-ok} summary=${4:-}
say() { printf 'cron-heartbeat-write: %s\n' "$*" >&2; }
if [ -z "$job" ] || [ -z "$interval" ]; then say "usage: cron-heartbeat-write.sh JOB INTERVAL [STATUS] [SUMMARY]"; exit 0; fi

# bin/alive sits beside this script's real location (followed through symlinks, from any cwd).
src=${BASH_SOURCE[0]}
while [ -L "$src" ]; do
  link=$(readlink "$src") || break
  case $link in /*) src=$link ;; *) src=${src%/*}/$link ;; esac
done
case $src in */*) dir=${src%/*} ;; *) dir=. ;; esac
alive="$dir/../bin/alive"

# launchd gives PATH=/usr/bin:/bin:/usr/sbin:/sbin, so look where Python usually lives too
# (ALIVE_PYTHON_PATHS, colon-separated, replaces that list). bin/alive exits 86 when the
# interpreter is older than 3.11: try the next one then.
known="/opt/homebrew/bin/python3:/usr/local/bin/python3:${HOME:-/nonexistent}/.pyenv/shims/python3:/usr/bin/python3"
IFS=: read -r -a more <<<"${ALIVE_PYTHON_PATHS-$known}"
for py in "${ALIVE_PYTHON:-}" "$(command -v python3 2>/dev/null)" "${more[@]}"; do
  if [ -z "$py" ] || [ ! -x "$py" ]; then continue; fi
  "$py" -S "$alive" write "$job" --interval "$interval" --status "$status" ${summary:+--summary "$summary"} >/dev/null
  [ $? -eq 86 ] || exit 0
done

# No Python 3.11+: write a valid minimal heartbeat in pure bash (temp file in the same folder, then rename).
[[ $job =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ ]] || { say "invalid job id '$job'"; exit 0; }
case $status in ok|partial|skipped|error) ;; *) say "status '$status' is not ok|partial|skipped|error"; exit 0 ;; esac
[[ $interval =~ ^[0-9]+$ ]] || { say "no Python 3.11+ found: give INTERVAL in seconds"; exit 0; }
if [ -n "${ALIVE_HOME:-}" ]; then home=$ALIVE_HOME
elif [ "$(uname)" = Darwin ]; then home="${HOME:-/nonexistent}/Library/Application Support/alive"
else home="${XDG_STATE_HOME:-${HOME:-/nonexistent}/.local/state}/alive"; fi
health="$home/health"
mkdir -p "$health" 2>/dev/null || { say "cannot create $health"; exit 0; }
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
text=$(printf '%s' "${summary:-$job $status}" | tr -d '\000-\037' | cut -c1-200 | sed 's/\\/\\\\/g; s/"/\\"/g')
tmp=$(mktemp "$health/.hb.XXXXXX" 2>/dev/null) || { say "cannot write in $health"; exit 0; }
printf '{"task_id": "%s", "status": "%s", "started_at": "%s", "completed_at": "%s", "summary": "%s", "warnings": ["written by the bash fallback: no Python 3.11+ found"], "errors": [], "metrics": {}, "interval_s": %d, "schema": 1}\n' \
  "$job" "$status" "$now" "$now" "$text" "$((10#$interval))" >"$tmp"
base="$health/${now:0:10}_${job}_${now:11:2}${now:14:2}"
for n in "" -2 -3 -4 -5 -6 -7 -8 -9; do ln "$tmp" "$base$n.json" 2>/dev/null && break; done
mv -f "$tmp" "$health/${job}_latest.json" || say "cannot write $health/${job}_latest.json"
exit 0
