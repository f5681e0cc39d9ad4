/*
 * tnswift.h — C interface to the tnswift contraction engine, tensor decompositions and
 * factorized layers (libtnswift.so).
 *
 * Conventions
 *   - Every function except tn_abi_version() and tn_last_error() returns a tn_status.
 *     TN_OK is 0; on any other value tn_last_error() returns a message (thread-local,
 *     valid until the next tnswift call on the same thread).
 *   - Tensors are described by tn_tensor: a data pointer, a shape and element strides
 *     (not bytes). Strides may be negative or zero, as NumPy produces them. A NULL
 *     strides pointer means C-contiguous. Inputs are read in place; outputs are written
 *     in place into the caller's buffer.
 *   - All operands of one call share one dtype (TN_FLOAT32 or TN_FLOAT64).
 *   - Handles are opaque. Using a destroyed handle returns TN_ERR_HANDLE, never a crash.
 *     One plan may be used from several threads: calls on the same plan are serialised
 *     (use one plan per thread to run in parallel). A backward call reuses the
 *     intermediates of the last forward run on the same operand buffers and strides, so
 *     do not modify the operands in place between the two (as with autograd).
 */
#ifndef TNSWIFT_H
#define TNSWIFT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Bumped on every incompatible change of this header. */
#define TN_ABI_VERSION 8

typedef enum tn_status {
    TN_OK = 0,
    TN_ERR_SUBSCRIPT = 1, /* malformed einsum subscripts or ncon network */
    TN_ERR_SHAPE = 2,     /* shapes, ranks or operand counts that do not fit */
    TN_ERR_DTYPE = 3,     /* unsupported or mismatched dtype */
    TN_ERR_VALUE = 4,     /* any other invalid argument (NULL pointer, bad option) */
    TN_ERR_MEMORY = 5,    /* allocation failed or a size overflows */
    TN_ERR_HANDLE = 6,    /* NULL, destroyed or foreign handle */
    TN_ERR_INTERNAL = 7,  /* a bug in tnswift: please report it */
    TN_ERR_INTERRUPTED = 8 /* a progress callback or an interrupt check stopped a long call */
} tn_status;

typedef enum tn_dtype {
    TN_FLOAT32 = 0,
    TN_FLOAT64 = 1
} tn_dtype;

/** A strided view of caller memory. */
typedef struct tn_tensor {
    void *data;
    int64_t ndim;
    const int64_t *shape;   /* ndim sizes (>= 0) */
    const int64_t *strides; /* ndim element strides, or NULL for C-contiguous */
} tn_tensor;

/** Path search strategies. AUTO picks OPTIMAL for few operands, GREEDY beyond. */
typedef enum tn_optimize {
    TN_OPTIMIZE_AUTO = 0,
    TN_OPTIMIZE_OPTIMAL = 1,
    TN_OPTIMIZE_GREEDY = 2,
    TN_OPTIMIZE_NONE = 3    /* contract left to right, as written */
} tn_optimize;

typedef struct tn_plan_options {
    tn_optimize optimize;
    /* Largest intermediate allowed, in elements; <= 0 means no limit. When no pairwise
       path fits, the plan contracts everything in one direct loop (slow, no intermediates). */
    int64_t memory_limit;
} tn_plan_options;

/** Numbers from a plan's cost report. FLOPs count as opt_einsum counts them. */
typedef struct tn_plan_info {
    double naive_flops;
    double opt_flops;
    int64_t largest_intermediate; /* elements */
    int64_t n_steps;              /* pairwise steps in the path */
    int64_t n_operands;
    int64_t out_ndim;
} tn_plan_info;

typedef struct tn_plan tn_plan;

/** Version of the ABI this library implements (compare with TN_ABI_VERSION). */
uint32_t tn_abi_version(void);

/** Message of the last failed call on this thread ("" when none). Never NULL. */
const char *tn_last_error(void);

/** Library version string, e.g. "0.1.0", and the BLAS configuration in use (static strings).
    Either pointer may be NULL when that answer is not wanted. */
tn_status tn_version(const char **version, const char **blas_config);

/**
 * Compiles an einsum expression for fixed operand shapes and one dtype.
 * shapes[i] points at ndims[i] sizes. options may be NULL (AUTO, no memory limit).
 * On success *plan receives a handle to release with tn_plan_destroy.
 */
tn_status tn_plan_create(const char *subscripts, int64_t n_operands, const int64_t *ndims,
                         const int64_t *const *shapes, tn_dtype dtype,
                         const tn_plan_options *options, tn_plan **plan);

/** Compiles an ncon network: labels[i] holds ndims[i] labels of tensor i (positive:
    contracted, each exactly twice; negative: output axes, -1 first). */
tn_status tn_plan_create_ncon(int64_t n_operands, const int64_t *ndims,
                              const int64_t *const *shapes, const int64_t *const *labels,
                              tn_dtype dtype, const tn_plan_options *options, tn_plan **plan);

tn_status tn_plan_destroy(tn_plan *plan);

tn_status tn_plan_info_get(const tn_plan *plan, tn_plan_info *info);

/** Output shape: writes info.out_ndim sizes into shape (capacity cap). */
tn_status tn_plan_output_shape(const tn_plan *plan, int64_t *shape, int64_t cap);

/** The contraction path in opt_einsum's form: step s contracts positions
    pairs[2s] < pairs[2s+1] of the current operand list; the result is appended. */
tn_status tn_plan_path(const tn_plan *plan, int64_t *pairs, int64_t cap);

/** The printable cost report. Writes at most cap bytes (NUL-terminated when cap > 0);
    *needed receives the full length + 1 (needed may be NULL; buffer may be NULL when cap is 0,
    to ask for the size only). */
tn_status tn_plan_report(const tn_plan *plan, char *buffer, size_t cap, size_t *needed);

/** Runs the plan: operands[n_operands] in, result written into *out (shape must equal
    tn_plan_output_shape). out may alias an input. Intermediates are kept for backward. */
tn_status tn_plan_execute(tn_plan *plan, const tn_tensor *operands, const tn_tensor *out);

/** Gradients of sum(out * dy) with respect to each operand. grads[i].data == NULL means
    "not requested"; otherwise grads[i] must have operand i's shape and is overwritten.
    Reuses the intermediates of the last tn_plan_execute on the same operand buffers,
    recomputing them otherwise. */
tn_status tn_plan_backward(tn_plan *plan, const tn_tensor *dy, const tn_tensor *operands,
                           const tn_tensor *grads);

/** One-shot einsum: plans, runs into *out (which must have the result's shape), frees. */
tn_status tn_einsum(const char *subscripts, int64_t n_operands, const tn_tensor *operands,
                    tn_dtype dtype, const tn_plan_options *options, const tn_tensor *out);

/** Data pointer of operand i as the last tn_plan_execute on this plan received it (0 before
    any run). Lets tests prove that inputs are read in place. */
tn_status tn_plan_last_operand_address(const tn_plan *plan, int64_t i, uintptr_t *address);

/** Number of threads the engine spreads GEMMs over (OpenBLAS itself is kept single-threaded;
    the default is OpenBLAS's default, which honours OPENBLAS_NUM_THREADS). 0 or less leaves it
    unchanged; *previous receives the old value (previous may be NULL). */
tn_status tn_set_num_threads(int64_t n, int64_t *previous);

/** A check that long calls made on this thread poll between their steps (each GEMM or copy
    of tn_plan_execute, tn_plan_backward, tn_layer_forward/backward, tn_model_forward): when
    it returns nonzero the call stops with TN_ERR_INTERRUPTED. The output is then unspecified;
    plans and layers stay usable (kept intermediates are dropped and recomputed). One GEMM is
    not split to poll, so a call stops once the step under way ends. */
typedef int (*tn_interrupt_check)(void *context);

/** Installs check (called with context) for the calling thread, replacing any other; NULL
    removes it. The check runs on the calling thread, never on the engine's worker threads. */
tn_status tn_interrupt_check_set(tn_interrupt_check check, void *context);

/* ------------------------------------------------------------------------------------------
 * Decompositions
 *
 *   Inputs are tn_tensor views of the call's dtype. A C-contiguous input is read in place
 *   (never copied by this layer); any other layout is packed into a contiguous copy first.
 *   Each call returns its result as a tn_decomposition handle holding a list of arrays
 *   (C-contiguous, the call's dtype) and an error history; copy the arrays out with
 *   tn_decomposition_array_copy and release the handle with tn_decomposition_destroy.
 *
 *   Arrays per result:
 *     tn_tt_svd, tn_tt_round, tn_tt_add   d cores, core k of shape (r_k, n_k, r_{k+1}), r_0 = r_d = 1
 *     tn_tt_matrix                        d cores, core k of shape (r_k, m_k, n_k, r_{k+1})
 *     tn_cp_als                           [weights (rank,), factor_0 (I_0, rank), ...]
 *     tn_tucker                           [core (R_0, ..., R_{d-1}), factor_0 (I_0, R_0), ...]
 *   Errors: relative reconstruction errors ||X - X_hat|| / ||X||, one per iteration for
 *   CP-ALS and HOOI, one for HOSVD, none for the TT calls.
 *
 *   eps is a relative Frobenius tolerance: ||X - X_hat||_F <= eps ||X||_F for TT-SVD,
 *   TT-matrix and TT rounding as long as no rank cap binds. A negative eps means "none";
 *   NaN or an infinity is TN_ERR_VALUE. max_ranks is NULL (no caps) or one cap >= 1 per
 *   bond (d - 1 entries).
 * ------------------------------------------------------------------------------------------ */

/** Called after each step of a long decomposition (each TT-SVD bond, each ALS/HOOI
    iteration) on the calling thread. rel_error is NaN when the method does not track it.
    Return nonzero to continue, 0 to stop: the call then returns TN_ERR_INTERRUPTED. */
typedef int (*tn_progress_fn)(void *context, int64_t step, int64_t total, double rel_error);

typedef struct tn_decomposition tn_decomposition;

/** TT-SVD of x (ndim >= 1, every size >= 1). progress may be NULL. */
tn_status tn_tt_svd(tn_dtype dtype, const tn_tensor *x, const int64_t *max_ranks, double eps,
                    tn_progress_fn progress, void *context, tn_decomposition **out);

/** TT-matrix (MPO) decomposition of the 2-D w of shape (prod row_modes, prod col_modes);
    row_modes and col_modes have d entries each. w[(i_1..i_d), (j_1..j_d)] with C-order
    mixed-radix row and column indices. */
tn_status tn_tt_matrix(tn_dtype dtype, const tn_tensor *w, int64_t d, const int64_t *row_modes,
                       const int64_t *col_modes, const int64_t *max_ranks, double eps,
                       tn_progress_fn progress, void *context, tn_decomposition **out);

/** TT rounding of the TT tensor given by n_cores 3-D cores (never forms the dense tensor). */
tn_status tn_tt_round(tn_dtype dtype, int64_t n_cores, const tn_tensor *cores,
                      const int64_t *max_ranks, double eps, tn_decomposition **out);

/** Inner product <A, B> of two TT tensors of the same shape, each of n_cores 3-D cores. */
tn_status tn_tt_inner(tn_dtype dtype, int64_t n_cores, const tn_tensor *a_cores,
                      const tn_tensor *b_cores, double *out);

/** A + B in TT format (ranks add; round the result to compress it). */
tn_status tn_tt_add(tn_dtype dtype, int64_t n_cores, const tn_tensor *a_cores,
                    const tn_tensor *b_cores, tn_decomposition **out);

/** Factors n (>= 1) into `order` (>= 1) near-equal integers, largest first, whose product
    is n; modes receives `order` entries. */
tn_status tn_balanced_modes(int64_t n, int64_t order, int64_t *modes);

/** CP initialisations for tn_cp_als. */
typedef enum tn_cp_init {
    TN_CP_INIT_SVD = 0,     /* leading left singular vectors of each unfolding */
    TN_CP_INIT_RANDOM = 1,  /* uniform random factors from `seed` */
    TN_CP_INIT_GIVEN = 2    /* init_arrays: weights (rank,), then factor k (I_k, rank) */
} tn_cp_init;

/** CP decomposition by alternating least squares. init_arrays is NULL unless init is
    TN_CP_INIT_GIVEN, then it points at 1 + ndim tensors. Stops after n_iter_max iterations
    or when the error decrease falls below tol. Factor columns come back with unit norm, the
    scale in the weights. */
tn_status tn_cp_als(tn_dtype dtype, const tn_tensor *x, int64_t rank, int init, uint64_t seed,
                    const tn_tensor *init_arrays, int64_t n_iter_max, double tol,
                    tn_progress_fn progress, void *context, tn_decomposition **out);

typedef enum tn_tucker_method {
    TN_TUCKER_HOSVD = 0,
    TN_TUCKER_HOOI = 1
} tn_tucker_method;

/** Tucker decomposition with orthonormal factors. ranks is NULL (then eps decides) or one
    rank per mode; eps < 0 means none. n_iter_max and tol apply to HOOI. */
tn_status tn_tucker(tn_dtype dtype, const tn_tensor *x, const int64_t *ranks, double eps,
                    int method, int64_t n_iter_max, double tol, tn_progress_fn progress,
                    void *context, tn_decomposition **out);

/** Number of arrays in the result. */
tn_status tn_decomposition_count(const tn_decomposition *h, int64_t *count);

/** Shape of array i: *ndim receives its dimension count, shape (capacity cap) its sizes. */
tn_status tn_decomposition_array_shape(const tn_decomposition *h, int64_t i, int64_t *ndim,
                                       int64_t *shape, int64_t cap);

/** Copies array i into *dst, which must have exactly its shape and the dtype of the call that
    made h; dst may be strided. */
tn_status tn_decomposition_array_copy(const tn_decomposition *h, int64_t i, const tn_tensor *dst);

/** The error history: writes min(cap, n) values into errors (NULL allowed when cap is 0) and n
    into *count (count may be NULL). */
tn_status tn_decomposition_errors(const tn_decomposition *h, double *errors, int64_t cap,
                                  int64_t *count);

tn_status tn_decomposition_destroy(tn_decomposition *h);

/* ------------------------------------------------------------------------------------------
 * Layers
 *
 *   A tn_layer is a linear layer y = x @ W + b whose weight W (in_features x out_features)
 *   is a tensor network: dense (LINEAR), a TT-matrix (TT), CP (CP), Tucker (TUCKER), any
 *   einsum with parameters (EINSUM), a tensor contraction layer (TCL: y = x x_1 U_1 ... x_N
 *   U_N, W the Kronecker product of the factors) or a tensor train over the input modes
 *   followed by the output modes (TT_TENSOR). in_features is the product of the input
 *   modes, out_features that of the output modes; W's rows are the input modes in C order,
 *   its columns the output modes. The tensor regression layer (TRL) of tltorch is CP, TUCKER
 *   or TT_TENSOR with the input shape as in_modes and the output shape as out_modes.
 *
 *   Parameters, in order (tn_layer_param_get index, name, shape):
 *     LINEAR   "weight" (in_features, out_features)
 *     TT       "core_k" (r_{k-1}, in_k, out_k, r_k), r_0 = r_d = 1
 *     CP       "weights" (rank,), then "factor_k" (mode_k, rank): input modes, then output modes
 *     TUCKER   "core" (ranks...), then "factor_k" (mode_k, r_k): input modes, then output modes
 *     EINSUM   "p0", "p1", ... in the equation's order
 *     TCL      "factor_k" (rank_k, in_k), one per input mode (the output modes are the ranks)
 *     TT_TENSOR "core_k" (r_{k-1}, mode_k, r_k) over the input modes then the output modes,
 *              r_0 = r_{d+e} = 1
 *   and, when the layer has one, "bias" (out_features,) last.
 *
 *   x, y, dy and dx are (batch, features) or (batch, mode_1, ..., mode_d) with any element
 *   strides; calls that take arrays also take their dtype, which must be the layer's
 *   (TN_ERR_DTYPE otherwise). Calls on one layer are serialised by the layer (they share
 *   the gradient buffers); different layers run in parallel.
 * ------------------------------------------------------------------------------------------ */

typedef struct tn_layer tn_layer;

typedef enum tn_layer_kind {
    TN_LAYER_LINEAR = 0,
    TN_LAYER_TT = 1,
    TN_LAYER_CP = 2,
    TN_LAYER_TUCKER = 3,
    TN_LAYER_EINSUM = 4,
    TN_LAYER_TCL = 5,
    TN_LAYER_TT_TENSOR = 6
} tn_layer_kind;

/** What tn_layer_create builds. Unused pointers may be NULL when their count is 0. */
typedef struct tn_layer_config {
    int32_t kind;               /* tn_layer_kind */
    int32_t dtype;              /* tn_dtype */
    /* Modes (all kinds but EINSUM). LINEAR: exactly one each, {in_features}, {out_features}. */
    int64_t n_in_modes;
    const int64_t *in_modes;
    int64_t n_out_modes;
    const int64_t *out_modes;
    /* Ranks. LINEAR and EINSUM: none. TT: one (every bond) or d - 1. CP: one.
       TUCKER: one (clipped to each mode's size) or one per mode, input modes first.
       TCL: the output modes, one (every mode) or one per input mode; out_modes may be
       empty (n_out_modes = 0) or equal to them, and ranks may be empty when out_modes are
       given. TT_TENSOR: one (every bond) or d + e - 1 for d input and e output modes. */
    int64_t n_ranks;
    const int64_t *ranks;
    /* EINSUM only: the equation ("nij,aik,bjk->nab": input first, its first label or "..."
       the batch; then the parameters; the output leads with the batch) and the parameter
       shapes (param_shapes[i] points at param_ndims[i] sizes). */
    const char *equation;
    int64_t n_params;
    const int64_t *param_ndims;
    const int64_t *const *param_shapes;
    int32_t bias;               /* nonzero: add a bias (initialised to zero) */
    int32_t reserved;           /* set to 0 */
    uint64_t seed;              /* the random initialisation (weight variance of a dense init) */
} tn_layer_config;

typedef struct tn_layer_info {
    int32_t kind;               /* tn_layer_kind */
    int32_t dtype;              /* tn_dtype */
    int64_t in_features;
    int64_t out_features;
    int64_t n_in_modes;         /* see tn_layer_modes */
    int64_t n_out_modes;
    int64_t n_params;           /* parameter arrays, the bias included */
    int64_t parameter_count;    /* scalars, the bias included */
    double compression;         /* dense parameter count (with bias) / parameter_count */
    int32_t has_bias;
    int32_t reserved;
} tn_layer_info;

/** One parameter. name, shape, data and grad point into the layer: valid until
    tn_layer_destroy. data is the parameter itself, C-contiguous and writable in place (an
    optimizer step there changes the layer); grad receives its gradient at each backward. */
typedef struct tn_layer_param {
    const char *name;
    int64_t ndim;
    const int64_t *shape;
    int64_t size;               /* elements */
    void *data;                 /* NULL when size is 0 */
    void *grad;
} tn_layer_param;

/** The forward plan of a layer for one batch size. */
typedef struct tn_layer_report {
    int64_t batch;
    double flops;                 /* forward FLOPs of the chosen path */
    double dense_flops;           /* 2 * batch * in_features * out_features */
    int64_t largest_intermediate; /* elements */
    int64_t parameter_bytes;      /* the layer's parameters, bias included */
    int64_t dense_bytes;          /* a dense layer's, bias included */
    int32_t reconstructs_weight;  /* 1: contracts the parameters into W first, then one GEMM */
    int32_t reserved;
} tn_layer_report;

/** A layer with fresh parameters (seeded). On success *layer receives a handle to release
    with tn_layer_destroy. */
tn_status tn_layer_create(const tn_layer_config *config, tn_layer **layer);

/** A layer fitted to a dense weight (in_features, out_features) of the given dtype (copied;
    any strides), with bias (out_features,) or NULL for none. n_in_modes = 0 (or n_out_modes
    = 0) means one mode, the weight's rows (columns). Give exactly one target, the others
    negative (a negative value means "not given"):
      rank    TT, TT_TENSOR: a cap on every bond; CP: the rank; TUCKER: one rank clipped to
              each mode;
      eps     ||W - W_hat||_F <= eps ||W||_F (TT, TT_TENSOR, TUCKER; CP: the smallest rank
              reaching it);
      budget  the largest uniform rank whose parameters (bias excluded) fit.
    LINEAR copies the weight and takes no target (all three negative). EINSUM and TCL are
    not supported (TN_ERR_VALUE). n_iter_max caps each CP-ALS run (default 500) or HOOI (default
    50), <= 0 for the default; tol is CP-ALS's stopping tolerance on the change of the
    relative error (default 1e-12; 0 runs all iterations), < 0 for the default. TT and
    TT_TENSOR ignore both. */
tn_status tn_layer_from_dense(tn_layer_kind kind, tn_dtype dtype, const tn_tensor *weight,
                              const tn_tensor *bias, int64_t n_in_modes, const int64_t *in_modes,
                              int64_t n_out_modes, const int64_t *out_modes, int64_t rank,
                              double eps, int64_t budget, int64_t n_iter_max, double tol,
                              tn_layer **layer);

tn_status tn_layer_destroy(tn_layer *layer);

tn_status tn_layer_info_get(const tn_layer *layer, tn_layer_info *info);

/** The input and output modes (info.n_in_modes and info.n_out_modes entries). */
tn_status tn_layer_modes(const tn_layer *layer, int64_t *in_modes, int64_t in_cap,
                         int64_t *out_modes, int64_t out_cap);

/** Parameter i, 0 <= i < info.n_params (the bias last). */
tn_status tn_layer_param_get(const tn_layer *layer, int64_t i, tn_layer_param *param);

/** y = x @ W + b. y must not overlap x. */
tn_status tn_layer_forward(tn_layer *layer, tn_dtype dtype, const tn_tensor *x,
                           const tn_tensor *y);

/** Gradients of sum(y * dy) at input x: every parameter's gradient (and the bias's) is
    overwritten, and dx (shaped like x; NULL to skip) receives dL/dx. dy with a NaN or an
    infinity is TN_ERR_VALUE. Reuses the last forward's intermediates when x and the
    parameters are unchanged since. */
tn_status tn_layer_backward(tn_layer *layer, tn_dtype dtype, const tn_tensor *dy,
                            const tn_tensor *x, const tn_tensor *dx);

/** Writes W into *out, of shape (in_features, out_features) or (in modes..., out modes...),
    any strides. */
tn_status tn_layer_dense_weight(const tn_layer *layer, tn_dtype dtype, const tn_tensor *out);

/** The forward plan for batch (>= 0): numbers into *report (may be NULL) and the printable
    report into buffer with tn_plan_report's protocol (at most cap bytes, NUL-terminated when
    cap > 0; *needed receives the full length + 1; buffer may be NULL when cap is 0). */
tn_status tn_layer_plan_report(const tn_layer *layer, int64_t batch, tn_layer_report *report,
                               char *buffer, size_t cap, size_t *needed);

/** The layer's configuration as JSON (type, modes, ranks or equation and parameter shapes,
    bias), as a model file stores it; buffer protocol as tn_plan_report. */
tn_status tn_layer_describe(const tn_layer *layer, char *buffer, size_t cap, size_t *needed);

/* ------------------------------------------------------------------------------------------
 * Models: a sequence of layers and activations, built from layer handles or loaded from the
 * safetensors file that Python, C and Swift all write (parameters as "stages.<i>.<name>", the
 * structure as JSON under the metadata key "tnswift.model"). A loaded file is validated in
 * full: a truncated, corrupt or foreign file gives TN_ERR_VALUE (a wrong tensor shape
 * TN_ERR_SHAPE), never a crash.
 * ---------------------------------------------------------------------------------------- */

typedef struct tn_model tn_model;

typedef struct tn_model_info {
    int32_t dtype;          /* tn_dtype of the model's parameters and of forward's buffers */
    int32_t reserved;
    int64_t in_features;
    int64_t out_features;
    int64_t n_stages;       /* layers and activations */
} tn_model_info;

/** Loads the model file at path into *model (NULL on failure). */
tn_status tn_model_load(const char *path, tn_model **model);

/** Releases the model. */
tn_status tn_model_destroy(tn_model *model);

tn_status tn_model_info_get(const tn_model *model, tn_model_info *info);

/** y = model(x) for a batch: x holds batch * in_features values and y batch * out_features,
    both C-contiguous, of the model's dtype (dtype must say which). */
tn_status tn_model_forward(tn_model *model, tn_dtype dtype, int64_t batch, const void *x, void *y);

typedef enum tn_stage_kind {
    TN_STAGE_LAYER = 0,
    TN_STAGE_ACTIVATION = 1,
    TN_STAGE_FLATTEN = 2,   /* (batch, ...) -> (batch, features): identity on the flat rows here */
    TN_STAGE_DROPOUT = 3    /* kept for training; identity at inference */
} tn_stage_kind;

typedef struct tn_model_stage {
    int32_t kind;           /* tn_stage_kind */
    int32_t activation;     /* tn_activation, for TN_STAGE_ACTIVATION */
    double dropout;         /* drop probability in [0, 1), for TN_STAGE_DROPOUT */
    tn_layer *layer;        /* for TN_STAGE_LAYER */
} tn_model_stage;

/** A model of n stages run in order. Layers are shared, not copied: the model sees later
    changes to their parameters, and a layer may be destroyed while the model uses it (the
    model keeps it alive). All layers must have one dtype, and each layer's input width must
    be the previous layer's output width. */
tn_status tn_model_create(int64_t n, const tn_model_stage *stages, tn_model **model);

/** Writes the model (its layers' current parameters) to path as safetensors, atomically: a
    temporary file renamed over path, so an interrupted save leaves any previous file intact. */
tn_status tn_model_save(const tn_model *model, const char *path);

/** Describes stage i (0 <= i < n_stages). For a layer, stage->layer receives a new handle on
    the model's layer (shared: writes to its parameters change the model); release it with
    tn_layer_destroy. */
tn_status tn_model_stage_get(const tn_model *model, int64_t i, tn_model_stage *stage);

/* ------------------------------------------------------------------------------------------
 * Training kernels: activations, losses (mean over the batch, with the gradient), optimizers
 * that update parameter buffers in place (PyTorch's SGD, Adam and AdamW rules). Buffers are
 * C-contiguous arrays of the given dtype.
 * ---------------------------------------------------------------------------------------- */

typedef enum tn_activation {
    TN_ACT_IDENTITY = 0,
    TN_ACT_RELU = 1,
    TN_ACT_GELU = 2,     /* the exact, erf-based GELU */
    TN_ACT_TANH = 3,
    TN_ACT_SIGMOID = 4
} tn_activation;

/** y = f(x) for count elements (y may be x). */
tn_status tn_activation_forward(int32_t activation, tn_dtype dtype, int64_t count, const void *x, void *y);

/** dx = f'(x) * dy for count elements (dx may be dy). */
tn_status tn_activation_backward(int32_t activation, tn_dtype dtype, int64_t count, const void *x,
                                 const void *dy, void *dx);

/** Mean softmax cross-entropy of batch x classes logits against labels in [0, classes);
    grad (NULL to skip) receives d(loss)/d(logits). */
tn_status tn_loss_cross_entropy(tn_dtype dtype, int64_t batch, int64_t classes, const void *logits,
                                const int32_t *labels, void *grad, double *loss);

/** Mean squared error over count elements; grad (NULL to skip) receives d(loss)/d(pred). */
tn_status tn_loss_mse(tn_dtype dtype, int64_t count, const void *pred, const void *target, void *grad,
                      double *loss);

typedef enum tn_optimizer_kind {
    TN_OPT_SGD = 0,
    TN_OPT_ADAM = 1,
    TN_OPT_ADAMW = 2
} tn_optimizer_kind;

typedef struct tn_optimizer_config {
    int32_t kind;           /* tn_optimizer_kind */
    int32_t dtype;          /* tn_dtype of the parameters */
    double learning_rate;
    double momentum;        /* SGD */
    int32_t nesterov;       /* SGD, needs momentum > 0 */
    int32_t reserved;
    double beta1, beta2, epsilon;   /* Adam, AdamW */
    double weight_decay;    /* SGD and Adam: L2 added to the gradient; AdamW: decoupled */
} tn_optimizer_config;

typedef struct tn_optimizer tn_optimizer;

/** An optimizer for n parameters of sizes[i] elements each. */
tn_status tn_optimizer_create(const tn_optimizer_config *config, int64_t n, const int64_t *sizes,
                              tn_optimizer **optimizer);
tn_status tn_optimizer_destroy(tn_optimizer *optimizer);

/** One update: params[i] (sizes[i] elements, updated in place) from grads[i]. A gradient with
    a NaN or an infinity is TN_ERR_VALUE and nothing is updated. */
tn_status tn_optimizer_step(tn_optimizer *optimizer, int64_t n, void *const *params, const void *const *grads);

tn_status tn_optimizer_set_learning_rate(tn_optimizer *optimizer, double learning_rate);

/* ------------------------------------------------------------------------------------------
 * Convolutions
 *
 *   A tn_conv is a 2-D convolution on NCHW arrays with PyTorch's conv2d semantics
 *   (cross-correlation, stride, zero padding, dilation): y = conv2d(x, K) + b, x (N, C, H, W),
 *   y (N, O, H', W'). The kernel K (O, C, kh, kw) is dense (DENSE) or a tensor network over
 *   the parameters: CP (channels optionally split into modes, O = prod out_modes and
 *   C = prod in_modes), TUCKER (Tucker-2 on the channels) or TT (Garipov et al. 2016: a
 *   spatial core and TT-matrix cores over the channel modes).
 *
 *   Parameters, in order (tn_conv_param_get index, name, shape):
 *     DENSE   "weight" (O, C, kh, kw)
 *     CP      "weights" (rank,), then "factor_k" (mode, rank) for the output-channel modes,
 *             the input-channel modes, kh and kw:
 *             K[o, c, i, j] = sum_r weights[r] prod U_out_k[o_k, r] prod U_in_k[c_k, r] U_h[i, r] U_w[j, r]
 *     TUCKER  "core" (r_out, r_in, kh, kw), "factor_0" (O, r_out), "factor_1" (C, r_in):
 *             K[o, c, i, j] = sum_ab factor_0[o, a] core[a, b, i, j] factor_1[c, b]
 *     TT      "core_0" (kh, kw, r_0), then "core_k" (r_{k-1}, in_k, out_k, r_k), r_d = 1:
 *             K[o, c, i, j] = sum core_0[i, j, r_0] core_1[r_0, c_1, o_1, r_1] ... core_d[.., c_d, o_d, 1]
 *   and, when the layer has one, "bias" (O,) last. Parameters and gradients are described by
 *   tn_layer_param (same meaning as for layers).
 *
 *   Each call takes its arrays' dtype, which must be the layer's (TN_ERR_DTYPE otherwise).
 *   Arrays may have any element strides. A CP, TUCKER or TT layer runs either its own
 *   structure (1x1 and depthwise or small convolutions on the factors) or the dense kernel
 *   contracted from the parameters, whichever an estimate rates cheaper for the input shape.
 *   Calls on one tn_conv are serialised; different ones run in parallel.
 * ---------------------------------------------------------------------------------------- */

typedef struct tn_conv tn_conv;

typedef enum tn_conv_kind {
    TN_CONV_DENSE = 0,
    TN_CONV_CP = 1,
    TN_CONV_TUCKER = 2,
    TN_CONV_TT = 3
} tn_conv_kind;

typedef enum tn_conv_padding {
    TN_CONV_PAD_EXPLICIT = 0,   /* padding[0] rows above and below, padding[1] columns each side */
    TN_CONV_PAD_SAME = 1,       /* output size = input size (stride 1); an odd total pads one more
                                   row / column at the bottom / right, as PyTorch */
    TN_CONV_PAD_VALID = 2       /* no padding */
} tn_conv_padding;

/** What tn_conv_create builds (and, for tn_conv_from_dense, the window, modes and ranks). */
typedef struct tn_conv_config {
    int32_t kind;               /* tn_conv_kind */
    int32_t dtype;              /* tn_dtype */
    int64_t in_channels;        /* C; from_dense: 0 or the kernel's */
    int64_t out_channels;       /* O; from_dense: 0 or the kernel's */
    int64_t kernel_size[2];     /* (kh, kw); from_dense: 0 or the kernel's */
    int64_t stride[2];          /* >= 1 */
    int64_t dilation[2];        /* >= 1 */
    int64_t padding[2];         /* >= 0, with TN_CONV_PAD_EXPLICIT */
    int32_t padding_mode;       /* tn_conv_padding */
    int32_t bias;               /* create: nonzero adds a bias (zero); from_dense: unused */
    /* CP and TT: the channel modes (0 entries: one mode, the channel count). TT needs as
       many input as output modes. */
    int64_t n_in_modes;
    const int64_t *in_modes;
    int64_t n_out_modes;
    const int64_t *out_modes;
    /* CP: one rank. TUCKER: one (clipped to each side) or two (r_out, r_in). TT: one for
       every rank, or d (r_0 spatial, then r_1 .. r_{d-1}); from_dense: one cap. DENSE: none. */
    int64_t n_ranks;
    const int64_t *ranks;
    uint64_t seed;              /* the random initialisation (kernel variance of a dense init) */
} tn_conv_config;

typedef struct tn_conv_info {
    int32_t kind;               /* tn_conv_kind */
    int32_t dtype;              /* tn_dtype */
    int64_t in_channels;
    int64_t out_channels;
    int64_t kernel_size[2];
    int64_t stride[2];
    int64_t dilation[2];
    int64_t padding[4];         /* as applied: top, bottom, left, right */
    int32_t padding_mode;       /* tn_conv_padding as configured */
    int32_t has_bias;
    int64_t n_params;           /* parameter arrays, the bias included */
    int64_t parameter_count;    /* scalars, the bias included */
    double compression;         /* dense parameter count (with bias) / parameter_count */
} tn_conv_info;

/** A convolution with fresh parameters (seeded). On success *conv receives a handle to
    release with tn_conv_destroy. */
tn_status tn_conv_create(const tn_conv_config *config, tn_conv **conv);

/** A convolution fitted to a dense kernel (O, C, kh, kw) of config->dtype (copied; any
    strides), with bias (O,) or NULL. The window (stride, padding, dilation) and the modes
    come from config; the target is config's ranks (CP: the rank; TUCKER: one or two ranks;
    TT: one cap on every rank) or eps >= 0 (||K - K_hat||_F <= eps ||K||_F; CP: the smallest
    rank reaching it) -- exactly one of them (DENSE: neither; eps < 0 means "not given").
    n_iter_max caps CP-ALS (default 500) or HOOI (default 50); <= 0 for the default. */
tn_status tn_conv_from_dense(const tn_conv_config *config, const tn_tensor *kernel,
                             const tn_tensor *bias, double eps, int64_t n_iter_max,
                             tn_conv **conv);

tn_status tn_conv_destroy(tn_conv *conv);

tn_status tn_conv_info_get(const tn_conv *conv, tn_conv_info *info);

/** Parameter i, 0 <= i < info.n_params (the bias last). */
tn_status tn_conv_param_get(const tn_conv *conv, int64_t i, tn_layer_param *param);

/** output_shape (4 values) = (N, O, H', W') for input_shape (N, C, H, W); TN_ERR_SHAPE when
    the channels differ or the dilated kernel is larger than the padded input. */
tn_status tn_conv_output_shape(const tn_conv *conv, const int64_t *input_shape,
                               int64_t *output_shape);

/** y = conv2d(x, K) + b; y (shaped by tn_conv_output_shape) must not overlap x. */
tn_status tn_conv_forward(tn_conv *conv, tn_dtype dtype, const tn_tensor *x, const tn_tensor *y);

/** Gradients of sum(y * dy) at input x: every parameter's gradient (and the bias's) is
    overwritten, and dx (shaped like x; NULL to skip) receives dL/dx. dy with a NaN or an
    infinity is TN_ERR_VALUE. */
tn_status tn_conv_backward(tn_conv *conv, tn_dtype dtype, const tn_tensor *dy, const tn_tensor *x,
                           const tn_tensor *dx);

/** Writes K into *out, of shape (O, C, kh, kw), any strides. */
tn_status tn_conv_dense_kernel(const tn_conv *conv, tn_dtype dtype, const tn_tensor *out);

/* ------------------------------------------------------------------------------------------
 * Embeddings
 *
 *   A tn_embedding is a lookup table E (num_embeddings x embedding_dim) stored as a TT-matrix
 *   (Khrulkov et al. 2019): row modes v_1..v_d with prod v_k >= num_embeddings (rows past
 *   num_embeddings cannot be looked up), column modes d_1..d_d with prod d_k = embedding_dim,
 *   core k "core_k" of shape (r_{k-1}, v_k, d_k, r_k), r_0 = r_d = 1. A lookup gathers rows
 *   through the cores only; the table is never built (memory grows with the lookups, not the
 *   vocabulary). Rows are numbered over the row modes in C order.
 *
 *   Indices are int64 in [0, num_embeddings) (TN_ERR_VALUE otherwise, naming the first bad
 *   one); lookups of padding_idx give zeros and no gradient. Mode ROWS gives one row per
 *   index; SUM and MEAN reduce bags, as torch.nn.EmbeddingBag with offsets: bag b holds the
 *   indices offsets[b] .. offsets[b+1]-1 (the last bag ends at n_indices), offsets[0] = 0 and
 *   non-decreasing; MEAN divides by the bag's non-padding lookups; an empty bag gives zeros.
 *   Calls on one tn_embedding are serialised; different ones run in parallel.
 * ------------------------------------------------------------------------------------------ */

typedef struct tn_embedding tn_embedding;

typedef enum tn_embedding_mode {
    TN_EMBEDDING_ROWS = 0,
    TN_EMBEDDING_SUM = 1,
    TN_EMBEDDING_MEAN = 2
} tn_embedding_mode;

/** What tn_embedding_create builds (and, for tn_embedding_from_dense, the modes). */
typedef struct tn_embedding_config {
    int32_t dtype;              /* tn_dtype */
    int32_t reserved;           /* set to 0 */
    int64_t num_embeddings;     /* from_dense: ignored (the table's rows) */
    int64_t embedding_dim;      /* from_dense: ignored (the table's columns) */
    int64_t n_modes;            /* d, 1 to 12; 0 means 3 */
    const int64_t *row_modes;   /* d values, or NULL: a balanced split (padded when needed) */
    const int64_t *col_modes;   /* d values, or NULL: a balanced split of embedding_dim */
    int64_t n_ranks;            /* 1 (every bond) or d - 1; from_dense: ignored */
    const int64_t *ranks;
    int64_t padding_idx;        /* a row whose lookups give zeros and no gradient, or -1 */
    double std;                 /* each entry's standard deviation at init; NAN: 1 */
    uint64_t seed;
} tn_embedding_config;

typedef struct tn_embedding_info {
    int32_t dtype;
    int32_t n_modes;
    int64_t num_embeddings;
    int64_t embedding_dim;
    int64_t padding_idx;        /* -1 for none */
    int64_t n_params;           /* cores */
    int64_t parameter_count;    /* scalars */
    double compression;         /* num_embeddings * embedding_dim / parameter_count */
} tn_embedding_info;

/** A TT embedding with fresh cores (seeded; entries of variance std^2). */
tn_status tn_embedding_create(const tn_embedding_config *config, tn_embedding **embedding);

/** A TT embedding fitted to a dense table (num_embeddings, embedding_dim) of config->dtype
    (copied; any strides) by TT-SVD: rank >= 1 caps every bond, or eps >= 0 bounds
    ||E - E_hat||_F <= eps ||E||_F; give exactly one, the other negative. */
tn_status tn_embedding_from_dense(const tn_embedding_config *config, const tn_tensor *table,
                                  int64_t rank, double eps, tn_embedding **embedding);

tn_status tn_embedding_destroy(tn_embedding *embedding);

tn_status tn_embedding_info_get(const tn_embedding *embedding, tn_embedding_info *info);

/** The row modes, column modes (n_modes each) and the n_modes + 1 ranks; cap is the length of
    each array (at least n_modes + 1). */
tn_status tn_embedding_modes(const tn_embedding *embedding, int64_t *row_modes, int64_t *col_modes,
                             int64_t *ranks, int64_t cap);

/** Core i, 0 <= i < info.n_params (same meaning as tn_layer_param_get). */
tn_status tn_embedding_param_get(const tn_embedding *embedding, int64_t i, tn_layer_param *param);

/** The looked-up rows into out: (n_indices, embedding_dim) for ROWS, (n_offsets,
    embedding_dim) for SUM and MEAN; any strides. offsets may be NULL for ROWS. */
tn_status tn_embedding_forward(tn_embedding *embedding, tn_dtype dtype, const int64_t *indices,
                               int64_t n_indices, const int64_t *offsets, int64_t n_offsets,
                               tn_embedding_mode mode, const tn_tensor *out);

/** Gradients of sum(out * dout) for the same lookups: every core gradient is overwritten;
    repeated indices add up. dout with a NaN or an infinity is TN_ERR_VALUE. Reuses the last
    forward's partial products when the indices and cores are unchanged since. */
tn_status tn_embedding_backward(tn_embedding *embedding, tn_dtype dtype, const int64_t *indices,
                                int64_t n_indices, const int64_t *offsets, int64_t n_offsets,
                                tn_embedding_mode mode, const tn_tensor *dout);

/** The whole table (num_embeddings, embedding_dim) into out, any strides (for checks and
    export: it is as large as a dense embedding). */
tn_status tn_embedding_dense_table(const tn_embedding *embedding, tn_dtype dtype,
                                   const tn_tensor *out);

/* ------------------------------------------------------------------------------------------
 * Recurrent layers
 *
 *   A tn_rnn is a single-layer, batch-first TT-LSTM or TT-GRU (Yang et al. 2017): PyTorch's
 *   nn.LSTM / nn.GRU equations whose input-to-hidden weight W_ih (input_size x G*hidden, G = 4
 *   for LSTM, 3 for GRU) is a TT-matrix; the hidden-to-hidden weight W_hh is dense. With x_t
 *   (batch, input_size) and h (batch, hidden) as rows, the gates' pre-activations are
 *   x_t W_ih + b_ih and h W_hh + b_hh, columns gate-major in PyTorch's order (LSTM i, f, g, o;
 *   GRU r, z, n), then the hidden unit:
 *     LSTM  i, f, o = sigmoid(..), g = tanh(..); c' = f * c + i * g; h' = o * tanh(c')
 *     GRU   r, z = sigmoid(x W_i. + b_i. + h W_h. + b_h.);
 *           n = tanh(x W_in + b_in + r * (h W_hn + b_hn)); h' = (1 - z) * n + z * h
 *
 *   Parameters, in order (tn_rnn_param_get index, name, shape), for d modes:
 *     "core_k" (r_{k-1}, m_k, n_k, r_k), k = 0 .. d-1, r_0 = r_d = 1: the TT-matrix W_ih,
 *              W_ih[(i_1..i_d), (j_1..j_d)] = core_0[0, i_1, j_1, :] ... core_{d-1}[:, i_d, j_d, 0]
 *              (row and column indices over the modes in C order);
 *     "bias_ih" (G*hidden), "weight_hh" (hidden, G*hidden), "bias_hh" (G*hidden).
 *   weight_hh is stored in x out: the transpose of PyTorch's weight_hh_l0 (W_ih likewise is
 *   the transpose of weight_ih_l0). Parameters and gradients are described by tn_layer_param
 *   (same meaning as for layers). Initialisation follows PyTorch: W_hh, b_ih and b_hh uniform
 *   in +-1/sqrt(hidden), the cores Gaussian with each W_ih entry of variance 1 / (3 hidden).
 *
 *   Sequences are (batch, seq, input_size) and (batch, seq, hidden), batch and seq >= 1; states
 *   (h0, c0, h_n, c_n and their gradients) are (batch, hidden) or PyTorch's (1, batch, hidden).
 *   Every array may have any element strides. Each call takes its arrays' dtype, which must be
 *   the layer's (TN_ERR_DTYPE otherwise). The cell state arguments (c0, c_n, d_c_n, dc0) are
 *   for LSTM only and must be NULL for a GRU (TN_ERR_VALUE). Outputs must not overlap inputs.
 *   Calls on one tn_rnn are serialised; different ones run in parallel.
 * ------------------------------------------------------------------------------------------ */

typedef struct tn_rnn tn_rnn;

typedef enum tn_rnn_kind {
    TN_RNN_LSTM = 0,
    TN_RNN_GRU = 1
} tn_rnn_kind;

/** What tn_rnn_create builds. input_size = prod input_modes. */
typedef struct tn_rnn_config {
    int32_t kind;                  /* tn_rnn_kind */
    int32_t dtype;                 /* tn_dtype */
    int64_t hidden_size;           /* >= 1 */
    int64_t n_modes;               /* d, 1 to 16 */
    const int64_t *input_modes;    /* d values m_k >= 1 */
    const int64_t *output_modes;   /* d values n_k, prod = G * hidden_size; NULL: a balanced
                                      split of G * hidden_size into d modes, largest first */
    int64_t n_ranks;               /* 1 (every bond) or d - 1 (0 is accepted when d = 1) */
    const int64_t *ranks;          /* n_ranks values >= 1 */
    uint64_t seed;                 /* the random initialisation */
} tn_rnn_config;

typedef struct tn_rnn_info {
    int32_t kind;                  /* tn_rnn_kind */
    int32_t dtype;                 /* tn_dtype */
    int64_t input_size;
    int64_t hidden_size;
    int64_t n_modes;               /* d; the modes and ranks are the cores' shapes */
    int64_t n_params;              /* parameter arrays: d cores and three dense ones */
    int64_t parameter_count;       /* scalars */
    double compression;            /* a dense nn.LSTM / nn.GRU's parameter count,
                                      G*hidden*(input_size + hidden + 2), / parameter_count */
} tn_rnn_info;

/** A TT-LSTM or TT-GRU with fresh parameters (seeded). On success *rnn receives a handle to
    release with tn_rnn_destroy; on failure it is set to NULL. Modes, sizes and ranks that do
    not fit are TN_ERR_SHAPE; a kind, hidden size or rank out of range TN_ERR_VALUE. */
tn_status tn_rnn_create(const tn_rnn_config *config, tn_rnn **rnn);

tn_status tn_rnn_destroy(tn_rnn *rnn);

tn_status tn_rnn_info_get(const tn_rnn *rnn, tn_rnn_info *info);

/** Parameter i, 0 <= i < info.n_params (same meaning as tn_layer_param_get). */
tn_status tn_rnn_param_get(const tn_rnn *rnn, int64_t i, tn_layer_param *param);

/** Runs the sequence x (batch, seq, input_size) from the initial states h0 and c0 (NULL:
    zeros; c0 LSTM only): out (batch, seq, hidden) receives h_1 .. h_seq, and h_n and c_n (NULL
    to skip; c_n LSTM only) the final states. Records what tn_rnn_backward needs (the input is
    copied: x may change afterwards). */
tn_status tn_rnn_forward(tn_rnn *rnn, tn_dtype dtype, const tn_tensor *x, const tn_tensor *h0,
                         const tn_tensor *c0, const tn_tensor *out, const tn_tensor *h_n,
                         const tn_tensor *c_n);

/** Backpropagation through time of the last forward: the gradients of
    L = sum(out * d_out) + sum(h_n * d_h_n) + sum(c_n * d_c_n) (a NULL gradient counts as
    zeros; d_c_n LSTM only). Every parameter's gradient is overwritten; dx (batch, seq,
    input_size), dh0 and dc0 (LSTM only) receive dL/dx, dL/dh0 and dL/dc0 (NULL to skip). The
    gradients are taken at the last forward's input, states and parameters: change no
    parameter in between. Without a forward before, or with a NaN or an infinity in a given
    gradient: TN_ERR_VALUE; arrays whose shapes do not fit the last forward: TN_ERR_SHAPE. */
tn_status tn_rnn_backward(tn_rnn *rnn, tn_dtype dtype, const tn_tensor *d_out,
                          const tn_tensor *d_h_n, const tn_tensor *d_c_n, const tn_tensor *dx,
                          const tn_tensor *dh0, const tn_tensor *dc0);

/* ------------------------------------------------------------------------------------------
 * Feed-forward and attention
 *
 *   A tn_ff is a transformer's position-wise feed-forward block whose two linear maps are
 *   TT-matrices:
 *     y = act(x W1 + b1) W2 + b2,  W1 (d_model x d_ff), W2 (d_ff x d_model),
 *   with d_model = prod model_modes, d_ff = prod hidden_modes (as many modes as model_modes) and
 *   act a tn_activation applied element-wise (TN_ACT_RELU as in Vaswani et al., or the exact
 *   TN_ACT_GELU; the others are accepted too). x is any array whose last axis is d_model
 *   ((batch, d_model), (batch, seq, d_model), ...); every row is mapped alike.
 *   Parameters, in order (tn_ff_param_get index, name, shape), d modes m_k / h_k, both maps
 *   with the same bond ranks r_1 .. r_{d-1} (r_0 = r_d = 1):
 *     "ff1.core_k" (r_{k-1}, m_k, h_k, r_k), k = 0 .. d-1, then "ff1.bias" (d_ff): W1, b1;
 *     "ff2.core_k" (r_{k-1}, h_k, m_k, r_k), k = 0 .. d-1, then "ff2.bias" (d_model): W2, b2;
 *   (no bias entries when bias is 0). Each TT-matrix is, as for tn_rnn's W_ih,
 *     W[(i_1..i_d), (j_1..j_d)] = core_0[0, i_1, j_1, :] ... core_{d-1}[:, i_d, j_d, 0]
 *   (row and column indices over the modes in C order). Initialisation: each map's
 *   reconstructed weight has PyTorch's dense variance 1 / (3 fan_in); the biases are zero.
 *
 *   A tn_attention is multi-linear attention (Ma et al. 2019, "A Tensorized Transformer"):
 *   attention as a block-term decomposition whose factors are shared by every block. For one
 *   sequence, with Q (n x d_model) and K, V (N x d_model), N = key_length fixed:
 *     Qh = Q Wq + bq, Kh = K Wk + bk, Vh = V Wv + bv   (shared projections, each R wide);
 *     T_h[i,j,k] = sum_r g_h[r] Qh[i,r] Kh[j,r] Vh[k,r]   (block h: a diagonal core g_h);
 *     Tbar = (T_1 + ... + T_H) / H                        (n x N x N; no softmax, no scaling);
 *     Y[i,o] = sum_{j,k} Tbar[i,j,k] Wo[j*N + k, o] + bo[o]
 *   (split-concat: row i of the n x N^2 matrix is the slice Tbar[i] in C order). With
 *   softmax_cores, the stored cores are logits and g_h = softmax(cores[h]). The query length n
 *   is free; keys and values must have length N. The n x N x N tensor is never formed.
 *   Parameters, in order: "query.weight" (d_model, R), "query.bias" (R), "key.weight",
 *   "key.bias", "value.weight", "value.bias", "cores" (H, R), "output.weight"
 *   (N*N, d_model), "output.bias" (d_model); the biases only when bias is non-zero. Weights are
 *   stored in x out (y = x W). Initialisation: weights like a PyTorch-default dense layer of
 *   their fan-in, zero biases, cores uniform in (0, 1).
 *
 *   Parameters and gradients are described by tn_layer_param (same meaning as for layers).
 *   Every array may have any element strides. Each call takes its arrays' dtype, which must be
 *   the layer's (TN_ERR_DTYPE otherwise). Outputs must not overlap inputs or each other.
 *   Nothing is recorded between calls: backward takes the input(s) again and recomputes the
 *   forward at the current parameters. Calls on one handle are serialised; different ones run
 *   in parallel.
 * ------------------------------------------------------------------------------------------ */

typedef struct tn_ff tn_ff;

/** What tn_ff_create builds. */
typedef struct tn_ff_config {
    int32_t dtype;                 /* tn_dtype */
    int32_t activation;            /* tn_activation: TN_ACT_RELU or TN_ACT_GELU */
    int64_t n_modes;               /* d, 1 to 16 */
    const int64_t *model_modes;    /* d values m_k >= 1, prod = d_model */
    const int64_t *hidden_modes;   /* d values h_k >= 1, prod = d_ff */
    int64_t n_ranks;               /* 1 (every bond) or d - 1 (0 is accepted when d = 1) */
    const int64_t *ranks;          /* n_ranks values >= 1, used by both maps */
    int32_t bias;                  /* non-zero: both maps add a bias */
    uint64_t seed;                 /* the random initialisation */
} tn_ff_config;

typedef struct tn_ff_info {
    int32_t dtype;                 /* tn_dtype */
    int32_t activation;            /* tn_activation */
    int64_t model_dim;             /* d_model */
    int64_t hidden_dim;            /* d_ff */
    int64_t n_modes;               /* d; the modes and ranks are the cores' shapes */
    int64_t n_params;              /* parameter arrays: 2 d cores (+ 2 biases) */
    int64_t parameter_count;       /* scalars */
    double compression;            /* two dense linear layers' parameter count,
                                      2 d_model d_ff (+ d_ff + d_model with bias), / parameter_count */
    int32_t bias;                  /* 1 with biases, 0 without */
} tn_ff_info;

/** A TT feed-forward block with fresh parameters (seeded). On success *ff receives a handle to
    release with tn_ff_destroy; on failure it is set to NULL. Modes or rank lists that do not
    fit are TN_ERR_SHAPE; an activation, n_modes or rank out of range TN_ERR_VALUE. */
tn_status tn_ff_create(const tn_ff_config *config, tn_ff **ff);

/** Releases the block; its parameter pointers become invalid. */
tn_status tn_ff_destroy(tn_ff *ff);

/** dtype, activation, sizes, parameter counts and compression. */
tn_status tn_ff_info_get(const tn_ff *ff, tn_ff_info *info);

/** Parameter i, 0 <= i < info.n_params (same meaning as tn_layer_param_get). */
tn_status tn_ff_param_get(const tn_ff *ff, int64_t i, tn_layer_param *param);

/** y = act(x W1 + b1) W2 + b2 for every row of x (..., d_model), ndim >= 1; y has x's shape.
    Shapes that do not fit: TN_ERR_SHAPE. */
tn_status tn_ff_forward(tn_ff *ff, tn_dtype dtype, const tn_tensor *x, const tn_tensor *y);

/** The gradients of L = sum(y * dy) for y = forward(x): every parameter's gradient is
    overwritten, and dx (x's shape; NULL to skip) receives dL/dx. The forward is recomputed at
    x and the current parameters. dy has x's shape (TN_ERR_SHAPE otherwise); a NaN or an
    infinity in dy is TN_ERR_VALUE. */
tn_status tn_ff_backward(tn_ff *ff, tn_dtype dtype, const tn_tensor *dy, const tn_tensor *x,
                         const tn_tensor *dx);

typedef struct tn_attention tn_attention;

/** What tn_attention_create builds. */
typedef struct tn_attention_config {
    int32_t dtype;                 /* tn_dtype */
    int32_t bias;                  /* non-zero: the projections and the output map add biases */
    int32_t softmax_cores;         /* non-zero: the cores are logits, g_h = softmax(cores[h]) */
    int64_t model_dim;             /* d_model >= 1 */
    int64_t key_length;            /* N >= 1: the length of k and v (Wo has N^2 rows) */
    int64_t blocks;                /* H >= 1 */
    int64_t rank;                  /* R >= 1: the core length and the projections' width */
    uint64_t seed;                 /* the random initialisation */
} tn_attention_config;

typedef struct tn_attention_info {
    int32_t dtype;                 /* tn_dtype */
    int32_t bias;                  /* 1 with biases, 0 without */
    int32_t softmax_cores;         /* 1 when the cores are logits */
    int64_t model_dim;
    int64_t key_length;
    int64_t blocks;
    int64_t rank;
    int64_t n_params;              /* parameter arrays: 5, or 9 with biases */
    int64_t parameter_count;       /* scalars */
} tn_attention_info;

/** A multi-linear attention layer with fresh parameters (seeded). On success *attention
    receives a handle to release with tn_attention_destroy; on failure it is set to NULL. A size
    below 1 is TN_ERR_VALUE; an output weight N^2 x d_model too large to allocate TN_ERR_MEMORY. */
tn_status tn_attention_create(const tn_attention_config *config, tn_attention **attention);

/** Releases the layer; its parameter pointers become invalid. */
tn_status tn_attention_destroy(tn_attention *attention);

/** dtype, flags, sizes and parameter counts. */
tn_status tn_attention_info_get(const tn_attention *attention, tn_attention_info *info);

/** Parameter i, 0 <= i < info.n_params (same meaning as tn_layer_param_get). */
tn_status tn_attention_param_get(const tn_attention *attention, int64_t i, tn_layer_param *param);

/** y (batch, n, d_model) = MultiLinear(G; q, k, v) for q (batch, n, d_model) and k, v
    (batch, N, d_model) with N = key_length; n is free. For self-attention pass the same array
    as q, k and v (then n must be N). Shapes that do not fit: TN_ERR_SHAPE. */
tn_status tn_attention_forward(tn_attention *attention, tn_dtype dtype, const tn_tensor *q,
                               const tn_tensor *k, const tn_tensor *v, const tn_tensor *y);

/** The gradients of L = sum(y * dy) for y = forward(q, k, v): every parameter's gradient is
    overwritten, and dq, dk, dv (shaped like q, k, v; distinct buffers; each NULL to skip)
    receive dL/dq, dL/dk, dL/dv. For self-attention, dL/dx = dq + dk + dv. The forward is
    recomputed at these inputs and the current parameters. dy is (batch, n, d_model)
    (TN_ERR_SHAPE otherwise); a NaN or an infinity in dy is TN_ERR_VALUE. */
tn_status tn_attention_backward(tn_attention *attention, tn_dtype dtype, const tn_tensor *dy,
                                const tn_tensor *q, const tn_tensor *k, const tn_tensor *v,
                                const tn_tensor *dq, const tn_tensor *dk, const tn_tensor *dv);

#ifdef __cplusplus
}
#endif

#endif /* TNSWIFT_H */
