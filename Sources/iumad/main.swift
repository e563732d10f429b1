import Tensor

// Before anything loads MPI or touches BLAS: give OpenBLAS the right kernels for this CPU.
NativeTuning.selectOpenBLASCoreTypeAndReexecIfNeeded()
IUMAD.main()
