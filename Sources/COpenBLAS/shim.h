// CBLAS (which also declares openblas_set_num_threads) plus the LAPACK routines we call,
// declared here because Debian's lapack.h is not always installed.
#include <cblas.h>

// SVD of a general column-major matrix, divide and conquer.
void sgesdd_(const char *jobz, const int *m, const int *n, float *a, const int *lda, float *s,
             float *u, const int *ldu, float *vt, const int *ldvt, float *work, const int *lwork,
             int *iwork, int *info);
// Eigendecomposition of a symmetric column-major matrix, divide and conquer.
void ssyevd_(const char *jobz, const char *uplo, const int *n, float *a, const int *lda, float *w,
             float *work, const int *lwork, int *iwork, const int *liwork, int *info);
