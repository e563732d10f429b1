#!/usr/bin/env bash
# A pretend multi-host cluster on one Linux machine, to test `iumad train` across "hosts" that
# only talk over TCP: each host is a network namespace with its own address and hostname.
#
#   cluster/netns-cluster.sh up N                  create hosts iumad-h1..hN (idempotent)
#   cluster/netns-cluster.sh down                  remove every host, the bridge and the state
#   cluster/netns-cluster.sh status                list the hosts and their addresses
#   cluster/netns-cluster.sh run N [--keep] -- COMMAND...
#       bring N hosts up if needed, run COMMAND as N MPI ranks, one per host, then tear the
#       hosts down again (unless --keep, or unless they were up before `run`)
#
# Host i is namespace iumad-hi with eth0 = NET.i/24, joined by a veth pair (iumad-vi) to the
# bridge iumad-br0 in the root namespace, which holds NET.254 so that mpirun, started here,
# reaches every host. NET is IUMAD_NETNS_NET (default 10.77.0). Needs root (CAP_NET_ADMIN and
# CAP_SYS_ADMIN); when namespaces cannot be made it exits 77 with the reason, for tests to skip.
#
# Example (tiny training on two hosts):
#   cluster/netns-cluster.sh run 2 -- "$PWD/.build/release/iumad" train --config configs/tiny.yaml \
#     --data DATA --out runs/netns --threads 1
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
net="${IUMAD_NETNS_NET:-10.77.0}"
subnet="$net.0/24"
prefix=iumad-h
bridge=iumad-br0
state="${IUMAD_NETNS_STATE:-/run/iumad-netns}"

usage() { sed -n '2,20s/^# \{0,1\}//p' "$0"; }
die() { echo "netns-cluster: $*" >&2; exit 1; }

# Hosts are named iumad-h1, iumad-h2, ...; anything else in `ip netns list` is left alone.
hosts() { ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${prefix}[0-9]+$" | sort -t h -k2 -n || true; }

check_count() {
  if ! [[ "$1" =~ ^[0-9]+$ ]] || [ "$1" -lt 1 ] || [ "$1" -gt 253 ]; then
    die "host count must be 1..253 (NET.254 is the bridge), got '$1'"
  fi
}

# /run/lock is tmpfs on most systems; a missing one just means no locking.
with_lock() {
  if command -v flock >/dev/null && mkdir -p /run/lock 2>/dev/null; then
    exec 9>/run/lock/iumad-netns.lock
    flock 9
  fi
}

# Released before mpirun so that no daemon or rank inherits the lock.
release_lock() { { exec 9>&-; } 2>/dev/null || true; }

teardown() {
  local ns v pids
  for ns in $(hosts); do
    # Orphaned daemons from a killed job would otherwise keep the namespace's network alive.
    mapfile -t pids < <(ip netns pids "$ns" 2>/dev/null || true)
    if [ ${#pids[@]} -gt 0 ]; then
      echo "netns-cluster: stopping processes left in $ns: ${pids[*]}" >&2
      kill "${pids[@]}" 2>/dev/null || true
      sleep 1
      mapfile -t pids < <(ip netns pids "$ns" 2>/dev/null || true)
      [ ${#pids[@]} -eq 0 ] || kill -9 "${pids[@]}" 2>/dev/null || true
    fi
    ip netns del "$ns" 2>/dev/null || true
  done
  # Deleting a namespace deletes its end of the veth, which takes the root end with it; this
  # catches pairs left by an `up` that failed halfway.
  for v in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E '^iumad-[vp][0-9]+$' || true); do
    ip link del "$v" 2>/dev/null || true
  done
  ip link del "$bridge" 2>/dev/null || true
  rm -rf "$state"
}

cannot() {
  echo "netns-cluster: cannot create network namespaces: $*" >&2
  exit 77
}

# After a failed step nothing half-made is left behind.
fail_up() {
  echo "netns-cluster: cannot create network namespaces: $*" >&2
  teardown
  exit 77
}

# Runs one setup command; on failure, removes everything and reports its error.
step() {
  local err
  err=$("$@" 2>&1) || fail_up "\`$*\` failed: ${err:-no message}"
}

up() {
  local n="$1" i ns v p tool existing
  check_count "$n"
  for tool in ip unshare; do
    command -v "$tool" >/dev/null || cannot "'$tool' is not installed (iproute2, util-linux)"
  done
  [ "$(id -u)" -eq 0 ] || cannot "needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN); running as $(id -un)"
  with_lock
  trap 'fail_up "interrupted"' INT TERM

  if [ -f "$state/net" ] && [ "$(cat "$state/net")" != "$net" ]; then
    cannot "the hosts are up on $(cat "$state/net").0/24; run '$0 down' before using $subnet"
  fi
  # Routes covering the subnet or inside it, other than the default and our own bridge.
  existing=$({ ip -4 route show match "$subnet"; ip -4 route show root "$subnet"; } 2>/dev/null |
    grep -v -e '^default' -e "dev $bridge " | sort -u | paste -sd ';' || true)
  [ -z "$existing" ] ||
    cannot "$subnet overlaps a route here ($existing); set IUMAD_NETNS_NET to a free /24, e.g. 10.78.0"

  ip link show "$bridge" >/dev/null 2>&1 || step ip link add "$bridge" type bridge
  step ip addr replace "$net.254/24" dev "$bridge"
  step ip link set "$bridge" up

  for ((i = 1; i <= n; i++)); do
    ns="$prefix$i" v="iumad-v$i" p="iumad-p$i"
    ip netns list | awk '{print $1}' | grep -qxF "$ns" || step ip netns add "$ns"
    # A pair is complete when the root end exists and the namespace has its eth0; otherwise
    # (an interrupted earlier `up`) it is rebuilt.
    if ! { ip link show "$v" >/dev/null 2>&1 && ip -n "$ns" link show eth0 >/dev/null 2>&1; }; then
      ip link del "$v" 2>/dev/null || true
      ip link del "$p" 2>/dev/null || true
      step ip link add "$v" type veth peer name "$p"
      step ip link set "$p" netns "$ns"
      step ip -n "$ns" link set "$p" name eth0
    fi
    step ip link set "$v" master "$bridge"
    step ip link set "$v" up
    step ip -n "$ns" link set lo up
    step ip -n "$ns" addr replace "$net.$i/24" dev eth0
    step ip -n "$ns" link set eth0 up
  done

  # `up N` leaves exactly N hosts.
  for ns in $(hosts); do
    i="${ns#"$prefix"}"
    if [ "$i" -gt "$n" ]; then
      ip netns del "$ns"
      ip link del "iumad-v$i" 2>/dev/null || true
    fi
  done

  step mkdir -p "$state"
  echo "$net" >"$state/net"
  for ((i = 1; i <= n; i++)); do echo "$net.$i slots=1"; done >"$state/hostfile"
  trap - INT TERM
  release_lock
  echo "netns-cluster: $n host(s) up on $subnet (bridge $bridge = $net.254); hostfile $state/hostfile" >&2
}

status() {
  local ns any=""
  for ns in $(hosts); do
    any=1
    printf '%-10s %s\n' "$ns" "$(ip -n "$ns" -4 -o addr show dev eth0 2>/dev/null | awk '{print $4}')"
  done
  [ -n "$any" ] || echo "no hosts (run: $0 up N)"
}

# Bytes through the root end of every host's veth: the ranks' TCP traffic, plus OpenMPI's
# control messages to mpirun.
veth_bytes() {
  local i total=0 rx tx
  for ((i = 1; i <= $1; i++)); do
    rx=$(cat "/sys/class/net/iumad-v$i/statistics/rx_bytes" 2>/dev/null || echo 0)
    tx=$(cat "/sys/class/net/iumad-v$i/statistics/tx_bytes" 2>/dev/null || echo 0)
    total=$((total + rx + tx))
  done
  echo "$total"
}

run() {
  local n="" keep="" was_up="" have i rc before after
  while [ $# -gt 0 ]; do
    case "$1" in
      --keep) keep=1; shift ;;
      --) shift; break ;;
      -h|--help) usage; exit 0 ;;
      -*) die "run: unknown option '$1'" ;;
      *) [ -z "$n" ] || die "run: expected '--' before the command"; n="$1"; shift ;;
    esac
  done
  [ -n "$n" ] || die "run: missing host count (usage: run N [--keep] -- COMMAND...)"
  check_count "$n"
  [ $# -gt 0 ] || die "run: no command after --"
  command -v mpirun >/dev/null || die "mpirun not found (install OpenMPI)"

  # Hosts that existed before `run` are reused (and added to) and left up afterwards.
  have=$(hosts | wc -l)
  [ "$have" -eq 0 ] || was_up=1
  [ "$have" -ge "$n" ] || up "$n"
  [ ! -f "$state/net" ] || net=$(cat "$state/net") subnet="$net.0/24"
  # Global, not local: the EXIT trap runs after this function has returned.
  hostfile=$(mktemp "${TMPDIR:-/tmp}/iumad-netns-hosts.XXXXXX")
  for ((i = 1; i <= n; i++)); do echo "$net.$i slots=1"; done >"$hostfile"
  if [ -n "$keep" ] || [ -n "$was_up" ]; then
    trap 'rm -f "$hostfile"' EXIT
  else
    trap 'rm -f "$hostfile"; with_lock; teardown' EXIT
  fi

  # shellcheck source=Scripts/cpu-env.sh
  source "$here/../Scripts/cpu-env.sh"
  # Only the single copy of the shared-memory path trips containers; harmless with TCP only,
  # and kept so an override of `btl` still works.
  export OMPI_MCA_btl_vader_single_copy_mechanism=none
  # shellcheck disable=SC2054 # tcp,self is one MCA value
  local args=(-np "$n" --hostfile "$hostfile" --map-by node --bind-to none
    --mca plm_rsh_agent "$here/netns-rsh.sh"
    # ob1 is the PML that uses the BTLs; UCX would pick its own transports.
    --mca pml ob1 --mca btl tcp,self
    --mca btl_tcp_if_include "$subnet" --mca oob_tcp_if_include "$subnet"
    -x OMPI_MCA_btl_vader_single_copy_mechanism)
  [ -n "${OPENBLAS_CORETYPE:-}" ] && args+=(-x OPENBLAS_CORETYPE)
  [ "$(id -u)" -eq 0 ] && args+=(--allow-run-as-root)

  before=$(veth_bytes "$n")
  # On INT or TERM, mpirun is asked to end the job and waited for, so that the hosts are
  # removed after its daemons rather than under them.
  mpirun "${args[@]}" "$@" <&0 &
  local mpirun_pid=$!
  trap 'kill -TERM "$mpirun_pid" 2>/dev/null || true' INT TERM
  while :; do
    rc=0
    wait "$mpirun_pid" || rc=$?
    kill -0 "$mpirun_pid" 2>/dev/null || break
  done
  trap - INT TERM
  after=$(veth_bytes "$n")
  echo "netns-cluster: mpirun exited $rc; $((after - before)) bytes crossed the hosts' veths" >&2
  return "$rc"
}

case "${1:-}" in
  up) [ $# -eq 2 ] || die "usage: $0 up N"; up "$2" ;;
  down) with_lock; teardown; echo "netns-cluster: all hosts removed" >&2 ;;
  status) status ;;
  run) shift; run "$@" ;;
  -h|--help|help) usage ;;
  "") usage >&2; exit 64 ;;
  *) echo "netns-cluster: unknown command '$1'" >&2; usage >&2; exit 64 ;;
esac
