# Sourced by the scripts: fit the native code to this machine's CPU flags.
# - OPENBLAS_CORETYPE: OpenBLAS's kernels when it cannot tell the CPU model (virtual machines).
#   Same rule as NativeTuning.swift; see docs/decisions.md.
# - IUMAD_TARGET_CPU: Package.swift compiles our kernels for AVX2 + FMA on x86-64; on an x86-64
#   CPU without them, build for plain x86-64 instead of a binary that would stop on an illegal
#   instruction (docs/decisions.md, "Kernels compiled for AVX2 + FMA").
if [ -r /proc/cpuinfo ] && { [ -z "${OPENBLAS_CORETYPE:-}" ] || [ -z "${IUMAD_TARGET_CPU:-}" ]; }; then
  _flags=$(grep -m1 '^flags' /proc/cpuinfo)
  _has() { case " $_flags " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
  if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
    if _has avx512f && _has avx512bw && _has avx512dq && _has avx512vl && _has avx512cd; then
      export OPENBLAS_CORETYPE=SkylakeX
    elif _has avx2 && _has fma; then
      export OPENBLAS_CORETYPE=Haswell
    fi
  fi
  if [ -z "${IUMAD_TARGET_CPU:-}" ] && [ "$(uname -m)" = x86_64 ] && ! { _has avx2 && _has fma; }; then
    export IUMAD_TARGET_CPU=x86-64
  fi
  unset _flags
  unset -f _has
fi
