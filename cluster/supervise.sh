#!/usr/bin/env bash
# Relaunches a failed job (SPEC §9): OpenMPI 4 ends the whole job when one rank dies, and
# `iumad train` resumes from the newest valid checkpoint (--resume auto is its default).
#   cluster/supervise.sh [--retries N] [--backoff SECONDS] [--log FILE] -- mpirun -np 4 ... iumad train ...
# Each attempt is logged with its start time and exit status; the back-off grows linearly.
set -uo pipefail
retries=3 backoff=5 log="${SUPERVISE_LOG:-supervise.log}"
while [ $# -gt 0 ]; do
  case "$1" in
    --retries) retries="$2"; shift 2 ;;
    --backoff) backoff="$2"; shift 2 ;;
    --log) log="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "supervise: unknown option '$1' (usage: supervise.sh [--retries N] [--backoff S] [--log F] -- COMMAND...)" >&2; exit 64 ;;
  esac
done
[ $# -gt 0 ] || { echo "supervise: no command after --" >&2; exit 64; }
note() { echo "[$(date '+%F %T')] supervise: $*" | tee -a "$log" >&2; }
attempt=1
while :; do
  note "attempt $attempt/$((retries + 1)): $*"
  "$@"
  rc=$?
  if [ $rc -eq 0 ]; then note "attempt $attempt succeeded"; exit 0; fi
  note "attempt $attempt failed with exit status $rc"
  if [ $attempt -gt "$retries" ]; then note "giving up after $attempt attempts"; exit $rc; fi
  sleep $((backoff * attempt))
  attempt=$((attempt + 1))
done
