/* OpenBLAS as Debian ships it: CBLAS plus the Fortran LAPACK symbols (no LAPACKE). */
#ifndef TNSWIFT_CBLAS_SHIM_H
#define TNSWIFT_CBLAS_SHIM_H
#include <stddef.h>
#include <cblas.h>

/*
 * Fortran LAPACK entry points exported by OpenBLAS (column-major). Every argument is passed by
 * pointer; each CHARACTER argument adds a hidden string length (size_t) at the end of the list,
 * in the order of the character arguments. Integers are `blasint`, OpenBLAS's integer type, so
 * that a 64-bit-integer build fails to compile instead of passing wrong-sized integers.
 */

/* Divide-and-conquer SVD: A = U * diag(S) * VT. */
void sgesdd_(const char *jobz, const blasint *m, const blasint *n, float *a, const blasint *lda,
             float *s, float *u, const blasint *ldu, float *vt, const blasint *ldvt,
             float *work, const blasint *lwork, blasint *iwork, blasint *info, size_t jobz_len);
void dgesdd_(const char *jobz, const blasint *m, const blasint *n, double *a, const blasint *lda,
             double *s, double *u, const blasint *ldu, double *vt, const blasint *ldvt,
             double *work, const blasint *lwork, blasint *iwork, blasint *info, size_t jobz_len);

/* QR-iteration SVD (slower, the fallback when gesdd does not converge). */
void sgesvd_(const char *jobu, const char *jobvt, const blasint *m, const blasint *n, float *a,
             const blasint *lda, float *s, float *u, const blasint *ldu, float *vt, const blasint *ldvt,
             float *work, const blasint *lwork, blasint *info, size_t jobu_len, size_t jobvt_len);
void dgesvd_(const char *jobu, const char *jobvt, const blasint *m, const blasint *n, double *a,
             const blasint *lda, double *s, double *u, const blasint *ldu, double *vt, const blasint *ldvt,
             double *work, const blasint *lwork, blasint *info, size_t jobu_len, size_t jobvt_len);

/* Householder LQ factorisation A = L * Q (the QR of a row-major matrix seen column-major). */
void sgelqf_(const blasint *m, const blasint *n, float *a, const blasint *lda, float *tau,
             float *work, const blasint *lwork, blasint *info);
void dgelqf_(const blasint *m, const blasint *n, double *a, const blasint *lda, double *tau,
             double *work, const blasint *lwork, blasint *info);

/* Forms the m x n matrix Q with orthonormal rows from gelqf's reflectors. */
void sorglq_(const blasint *m, const blasint *n, const blasint *k, float *a, const blasint *lda,
             const float *tau, float *work, const blasint *lwork, blasint *info);
void dorglq_(const blasint *m, const blasint *n, const blasint *k, double *a, const blasint *lda,
             const double *tau, double *work, const blasint *lwork, blasint *info);

/* Symmetric eigenvalues and (some) eigenvectors by relatively robust representations (MRRR). */
void ssyevr_(const char *jobz, const char *range, const char *uplo, const blasint *n, float *a,
             const blasint *lda, const float *vl, const float *vu, const blasint *il, const blasint *iu,
             const float *abstol, blasint *m, float *w, float *z, const blasint *ldz, blasint *isuppz,
             float *work, const blasint *lwork, blasint *iwork, const blasint *liwork, blasint *info,
             size_t jobz_len, size_t range_len, size_t uplo_len);
void dsyevr_(const char *jobz, const char *range, const char *uplo, const blasint *n, double *a,
             const blasint *lda, const double *vl, const double *vu, const blasint *il, const blasint *iu,
             const double *abstol, blasint *m, double *w, double *z, const blasint *ldz, blasint *isuppz,
             double *work, const blasint *lwork, blasint *iwork, const blasint *liwork, blasint *info,
             size_t jobz_len, size_t range_len, size_t uplo_len);

#endif
