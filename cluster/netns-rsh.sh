#!/usr/bin/env bash
# Stand-in for ssh that OpenMPI's rsh launcher calls to start its daemon on a "host" made by
# cluster/netns-cluster.sh:
#   netns-rsh.sh [ssh-options] HOST COMMAND...
# HOST is a namespace name (iumad-h3) or an address one of them holds (10.77.0.3).
# Like ssh, the words of COMMAND are joined with spaces and run by a shell on the host.
set -euo pipefail

usage() {
  sed -n '2,6s/^# \{0,1\}//p' "$0"
  echo "Used as: mpirun --mca plm_rsh_agent $0 ... (cluster/netns-cluster.sh run does this)"
}

# Skip ssh's options; these letters take a value (ssh(1)), so their value is skipped too.
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    -[bcDEeFIiJLlmOopQRSWw]) shift 2 ;;
    -[bcDEeFIiJLlmOopQRSWw]?*) shift ;;
    -*) shift ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { echo "netns-rsh: no host given" >&2; usage >&2; exit 255; }
host="$1"
shift

ns=""
if ip netns list | awk '{print $1}' | grep -qxF -- "$host"; then
  ns="$host"
else
  for cand in $(ip netns list | awk '{print $1}' | grep -E "^iumad-h[0-9]+$" || true); do
    if ip -n "$cand" -4 -o addr show | awk '{split($4, a, "/"); print a[1]}' | grep -qxF -- "$host"; then
      ns="$cand"
      break
    fi
  done
fi
# 255 is what ssh returns when it cannot reach the host; OpenMPI reports it as a launch failure.
[ -n "$ns" ] || { echo "netns-rsh: no network namespace holds host '$host'" >&2; exit 255; }

# With no command ssh would open a login shell; OpenMPI always sends one.
[ $# -gt 0 ] || { echo "netns-rsh: no command for $host" >&2; exit 255; }

# A remote login starts from a clean environment, so only what mpirun forwards (-x) reaches the
# ranks, as on a real cluster. Each host also gets its own UTS namespace so `hostname` differs
# per host, as OpenMPI names session directories and nodes after it.
# shellcheck disable=SC2016 # $1 and $2 are for the inner sh
exec ip netns exec "$ns" env -i HOME="${HOME:-/}" PATH="$PATH" USER="$(id -un)" LOGNAME="$(id -un)" \
  SHELL=/bin/sh LANG=C.UTF-8 \
  unshare --uts sh -c 'hostname "$1" && cd && exec sh -c "$2"' netns-rsh "$ns" "$*"
