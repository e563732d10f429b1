# Sourced by the scripts: pick OpenBLAS kernels from the CPU flags when OpenBLAS cannot tell the
# CPU model (virtual machines). Same rule as NativeTuning.swift; see docs/decisions.md.
if [ -z "${OPENBLAS_CORETYPE:-}" ] && [ -r /proc/cpuinfo ]; then
  _flags=$(grep -m1 '^flags' /proc/cpuinfo)
  _has() { case " $_flags " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
  if _has avx512f && _has avx512bw && _has avx512dq && _has avx512vl && _has avx512cd; then
    export OPENBLAS_CORETYPE=SkylakeX
  elif _has avx2 && _has fma; then
    export OPENBLAS_CORETYPE=Haswell
  fi
  unset _flags
  unset -f _has
fi
