/* OpenBLAS as Debian ships it: CBLAS plus the Fortran LAPACK symbols (no LAPACKE). */
#ifndef TNSWIFT_CBLAS_SHIM_H
#define TNSWIFT_CBLAS_SHIM_H
#include <cblas.h>
#endif
