/*
 * tnswift_ext.c — the CPython extension module tnswift._ext.
 *
 * A thin shim over the C ABI in tnswift.h. It only moves buffers across:
 *
 *     get buffer (PEP 3118) -> check format / ndim / shape -> release the GIL
 *     -> call tn_* -> release every buffer -> map tn_status to an exception
 *
 * No NumPy headers: arrays are read through the buffer protocol. Multi-phase
 * initialisation, all state (exception classes, the Plan, Layer and LayerBuffer
 * types) in module state.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>
#include <time.h>

#include "tnswift.h"

/* ------------------------------------------------------------------------- */
/* Module state                                                              */
/* ------------------------------------------------------------------------- */

typedef struct {
    PyObject *TNError;
    PyObject *SubscriptError;
    PyObject *ShapeError;
    PyObject *DTypeError;
    PyObject *ArgumentError;
    PyObject *MemoryError;
    PyTypeObject *PlanType;
    PyTypeObject *LayerType;
    PyTypeObject *LayerBufferType;
    PyTypeObject *ConvType;
    PyTypeObject *EmbeddingType;
    PyTypeObject *RNNType;
    PyTypeObject *FeedForwardType;
    PyTypeObject *AttentionType;
} tn_module_state;

static inline tn_module_state *
module_state(PyObject *module)
{
    return (tn_module_state *)PyModule_GetState(module);
}

static const char *const dtype_names[2] = {"float32", "float64"};
static const Py_ssize_t dtype_itemsizes[2] = {4, 8};

/* Raises the exception that corresponds to a failed tn_* call. Returns NULL. */
static PyObject *
raise_status(tn_module_state *st, tn_status status)
{
    PyObject *type;
    switch (status) {
    case TN_ERR_SUBSCRIPT: type = st->SubscriptError; break;
    case TN_ERR_SHAPE:     type = st->ShapeError; break;
    case TN_ERR_DTYPE:     type = st->DTypeError; break;
    case TN_ERR_VALUE:     type = st->ArgumentError; break;
    case TN_ERR_MEMORY:    type = st->MemoryError; break;
    default:               type = st->TNError; break;
    }
    const char *message = tn_last_error();
    if (message == NULL || message[0] == '\0') {
        PyErr_Format(type, "tnswift call failed with status %d", (int)status);
    }
    else {
        PyErr_SetString(type, message);
    }
    return NULL;
}

/* Replaces the pending exception by `type(message)`, keeping the original as
   __cause__. */
static void
reraise_as(PyObject *type, PyObject *message)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *cause = PyErr_GetRaisedException();
#else
    PyObject *ptype, *pvalue, *ptb;
    PyErr_Fetch(&ptype, &pvalue, &ptb);
    PyErr_NormalizeException(&ptype, &pvalue, &ptb);
    if (ptb != NULL && pvalue != NULL) {
        PyException_SetTraceback(pvalue, ptb);
    }
    Py_XDECREF(ptype);
    Py_XDECREF(ptb);
    PyObject *cause = pvalue;
#endif
    if (message == NULL) {
        Py_XDECREF(cause);
        return; /* formatting the message failed: that error stays pending */
    }
    PyErr_SetObject(type, message);
    Py_DECREF(message);
    if (cause != NULL) {
#if PY_VERSION_HEX >= 0x030C0000
        PyObject *exc = PyErr_GetRaisedException();
#else
        PyObject *etype, *exc, *etb;
        PyErr_Fetch(&etype, &exc, &etb);
        PyErr_NormalizeException(&etype, &exc, &etb);
        Py_XDECREF(etype);
        Py_XDECREF(etb);
#endif
        Py_INCREF(cause);
        PyException_SetContext(exc, cause);
        PyException_SetCause(exc, cause); /* steals the reference */
#if PY_VERSION_HEX >= 0x030C0000
        PyErr_SetRaisedException(exc);
#else
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
#endif
    }
}

/* ------------------------------------------------------------------------- */
/* The Plan object                                                           */
/* ------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    tn_plan *plan;
    int dtype;                /* TN_FLOAT32 or TN_FLOAT64 */
    Py_ssize_t itemsize;
    Py_ssize_t n_operands;
    Py_ssize_t out_ndim;
    Py_ssize_t sum_ndim;      /* sum of the operands' ndims */
    int64_t *ndims;           /* n_operands entries */
    const int64_t **shapes;   /* n_operands pointers into the same block */
    int64_t *out_shape;       /* out_ndim entries */
    void *block;              /* one allocation holding the arrays above */
    PyObject *output_shape;   /* tuple */
    int64_t n_steps;
    int keep_gil;             /* work so small that releasing the GIL costs more than it */
} PlanObject;

static inline tn_module_state *
plan_state(PlanObject *self)
{
    /* Plan is not subclassable, so Py_TYPE(self) is the type this module made. */
    return (tn_module_state *)PyType_GetModuleState(Py_TYPE(self));
}

/* -- argument naming (error paths only) ----------------------------------- */

typedef enum { ROLE_OPERAND, ROLE_OUT, ROLE_DY, ROLE_GRAD } arg_role;

static void
role_name(char *buffer, size_t cap, arg_role role, Py_ssize_t index)
{
    switch (role) {
    case ROLE_OPERAND: PyOS_snprintf(buffer, cap, "operand %zd", index); break;
    case ROLE_OUT:     PyOS_snprintf(buffer, cap, "out"); break;
    case ROLE_DY:      PyOS_snprintf(buffer, cap, "dy"); break;
    case ROLE_GRAD:    PyOS_snprintf(buffer, cap, "grads[%zd]", index); break;
    }
}

static PyObject *
shape_tuple_i64(const int64_t *shape, Py_ssize_t ndim)
{
    PyObject *t = PyTuple_New(ndim);
    if (t == NULL) {
        return NULL;
    }
    for (Py_ssize_t d = 0; d < ndim; d++) {
        PyObject *v = PyLong_FromLongLong((long long)shape[d]);
        if (v == NULL) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, d, v);
    }
    return t;
}

static PyObject *
shape_tuple_view(const Py_buffer *view)
{
    if (view->ndim > 0 && view->shape == NULL) {
        /* A one-dimensional byte view without shape information. */
        return Py_BuildValue("(n)", view->len / (view->itemsize ? view->itemsize : 1));
    }
    PyObject *t = PyTuple_New(view->ndim);
    if (t == NULL) {
        return NULL;
    }
    for (Py_ssize_t d = 0; d < view->ndim; d++) {
        PyObject *v = PyLong_FromSsize_t(view->shape[d]);
        if (v == NULL) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, d, v);
    }
    return t;
}

/* -- Ctrl-C during long calls made with the GIL released ---------------------------------
   On the main thread (the only one Python runs signal handlers on), a check the engine polls
   between steps re-takes the GIL at most every 50 ms and runs the handlers: Ctrl-C then stops
   the contraction and the call raises KeyboardInterrupt instead of finishing first. */

static unsigned long main_thread_ident;

typedef struct {
    int active;
    double next; /* monotonic seconds of the next look at the signal handlers */
    PyObject *exc_type, *exc_value, *exc_tb; /* what a handler raised, re-raised afterwards */
} interrupt_state;

static double
monotonic_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int
interrupt_poll(void *context)
{
    interrupt_state *is = (interrupt_state *)context;
    if (is->exc_type != NULL) {
        return 1;
    }
    double now = monotonic_seconds();
    if (now < is->next) {
        return 0;
    }
    is->next = now + 0.05;
    PyGILState_STATE gil = PyGILState_Ensure();
    if (PyErr_CheckSignals() < 0) {
        PyErr_Fetch(&is->exc_type, &is->exc_value, &is->exc_tb);
    }
    PyGILState_Release(gil);
    return is->exc_type != NULL;
}

/* With the GIL held, before releasing it. */
static void
interrupt_begin(interrupt_state *is)
{
    memset(is, 0, sizeof *is);
    is->active = PyThread_get_thread_ident() == main_thread_ident;
    if (is->active) {
        is->next = monotonic_seconds() + 0.05;
        tn_interrupt_check_set(interrupt_poll, is);
    }
}

/* With the GIL held again: 0 when the call succeeded, else -1 with the exception set (what a
   signal handler raised wins over the status). */
static int
interrupt_end(tn_module_state *st, interrupt_state *is, tn_status s)
{
    if (is->active) {
        tn_interrupt_check_set(NULL, NULL);
    }
    if (is->exc_type != NULL) {
        PyErr_Restore(is->exc_type, is->exc_value, is->exc_tb);
        is->exc_type = is->exc_value = is->exc_tb = NULL;
        return -1;
    }
    if (s != TN_OK) {
        raise_status(st, s);
        return -1;
    }
    return 0;
}

/* -- buffer helpers, one per argument kind -------------------------------- */

/* Returns TN_FLOAT32 / TN_FLOAT64 for a native float format, -1 otherwise. */
static int
format_dtype(const Py_buffer *view)
{
    const char *f = view->format;
    if (f == NULL) {
        return -1; /* unsigned bytes */
    }
    if (*f == '@' || *f == '=') {
        f++;
    }
#if PY_LITTLE_ENDIAN
    else if (*f == '<') {
        f++;
    }
#else
    else if (*f == '>' || *f == '!') {
        f++;
    }
#endif
    if (f[0] == '\0' || f[1] != '\0') {
        return -1;
    }
    if (f[0] == 'f' && view->itemsize == 4) {
        return TN_FLOAT32;
    }
    if (f[0] == 'd' && view->itemsize == 8) {
        return TN_FLOAT64;
    }
    return -1;
}

/* Input buffer: read-only access is enough. */
static int
get_input_buffer(tn_module_state *st, PyObject *obj, Py_buffer *view,
                 arg_role role, Py_ssize_t index)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_STRIDES | PyBUF_FORMAT) == 0) {
        return 0;
    }
    char name[48];
    role_name(name, sizeof name, role, index);
    if (obj == Py_None) {
        PyErr_Clear();
        PyErr_Format(st->DTypeError, "%s is None; expected a float32 or float64 array", name);
    }
    else if (!PyObject_CheckBuffer(obj)) {
        PyErr_Clear();
        PyErr_Format(st->DTypeError,
                     "%s is of type %.200s, which does not expose a buffer; "
                     "expected a float32 or float64 array", name, Py_TYPE(obj)->tp_name);
    }
    else {
        reraise_as(st->DTypeError,
                   PyUnicode_FromFormat("cannot read the buffer of %s (type %.200s); "
                                        "expected a float32 or float64 array",
                                        name, Py_TYPE(obj)->tp_name));
    }
    return -1;
}

/* Output buffer: must be writable. */
static int
get_output_buffer(tn_module_state *st, PyObject *obj, Py_buffer *view,
                  arg_role role, Py_ssize_t index)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_WRITABLE | PyBUF_STRIDES | PyBUF_FORMAT) == 0) {
        return 0;
    }
    char name[48];
    role_name(name, sizeof name, role, index);
    if (!PyObject_CheckBuffer(obj)) {
        PyErr_Clear();
        PyErr_Format(st->ArgumentError,
                     "%s is of type %.200s, which does not expose a buffer; "
                     "expected a writable float32 or float64 array", name, Py_TYPE(obj)->tp_name);
        return -1;
    }
    /* Tell a read-only array apart from other failures. */
    PyErr_Clear();
    Py_buffer probe;
    int readonly = 0;
    if (PyObject_GetBuffer(obj, &probe, PyBUF_STRIDES | PyBUF_FORMAT) == 0) {
        readonly = probe.readonly;
        PyBuffer_Release(&probe);
    }
    else {
        PyErr_Clear();
    }
    if (readonly) {
        PyErr_Format(st->ArgumentError, "%s is read-only", name);
    }
    else {
        PyErr_Format(st->ArgumentError,
                     "cannot get a writable strided buffer from %s (type %.200s)", name,
                     Py_TYPE(obj)->tp_name);
    }
    return -1;
}

/*
 * Checks an acquired buffer against the plan (dtype, ndim, shape) and fills a
 * tn_tensor. The tensor's shape points at the plan's own copy of the expected
 * shape (they are equal once checked); element strides go into `strides`
 * (capacity >= ndim).
 */
static int
bind_tensor(tn_module_state *st, const PlanObject *p, const Py_buffer *view,
            const int64_t *shape, Py_ssize_t ndim, int64_t *strides,
            tn_tensor *t, arg_role role, Py_ssize_t index)
{
    char name[48];
    int dt = format_dtype(view);
    if (dt != p->dtype) {
        role_name(name, sizeof name, role, index);
        if (dt < 0) {
            PyErr_Format(st->DTypeError,
                         "%s has element format '%s' (itemsize %zd); expected float32 ('f') "
                         "or float64 ('d') in native byte order",
                         name, view->format ? view->format : "B", view->itemsize);
        }
        else {
            PyErr_Format(st->DTypeError, "%s has dtype %s but the plan's dtype is %s",
                         name, dtype_names[dt], dtype_names[p->dtype]);
        }
        return -1;
    }
    int same = (view->ndim == ndim) && (ndim == 0 || view->shape != NULL);
    for (Py_ssize_t d = 0; same && d < ndim; d++) {
        same = ((int64_t)view->shape[d] == shape[d]);
    }
    if (!same) {
        role_name(name, sizeof name, role, index);
        PyObject *expected = shape_tuple_i64(shape, ndim);
        PyObject *given = expected ? shape_tuple_view(view) : NULL;
        if (given != NULL) {
            PyErr_Format(st->ShapeError, "%s has shape %R; expected %R", name, given, expected);
        }
        Py_XDECREF(expected);
        Py_XDECREF(given);
        return -1;
    }
    const Py_ssize_t itemsize = view->itemsize;
    if (view->strides == NULL) {
        t->strides = NULL; /* C-contiguous */
    }
    else {
        for (Py_ssize_t d = 0; d < ndim; d++) {
            Py_ssize_t s = view->strides[d];
            if (s % itemsize != 0) {
                if (shape[d] > 1) {
                    role_name(name, sizeof name, role, index);
                    PyErr_Format(st->ArgumentError,
                                 "%s has a byte stride of %zd along axis %zd, not a multiple of "
                                 "its itemsize %zd; the array must be copied first",
                                 name, s, d, itemsize);
                    return -1;
                }
                s = 0; /* the stride of an axis of extent 0 or 1 is never used */
            }
            strides[d] = (int64_t)(s / itemsize);
        }
        t->strides = strides;
    }
    t->data = view->buf;
    t->ndim = (int64_t)ndim;
    t->shape = shape;
    return 0;
}

/* -- per-call storage: buffers, tensors and strides ----------------------- */

#define FRAME_SMALL_TENSORS 8
#define FRAME_SMALL_DIMS 64

typedef struct {
    Py_buffer *views;   /* views[0 .. n_views) may hold a buffer (obj != NULL) */
    tn_tensor *tensors;
    int64_t *strides;
    Py_ssize_t n_views;
    void *heap;
    Py_buffer small_views[FRAME_SMALL_TENSORS];
    tn_tensor small_tensors[FRAME_SMALL_TENSORS];
    int64_t small_strides[FRAME_SMALL_DIMS];
} call_frame;

static int
frame_init(call_frame *f, Py_ssize_t n_tensors, Py_ssize_t n_dims)
{
    f->n_views = 0;
    f->heap = NULL;
    if (n_tensors <= FRAME_SMALL_TENSORS && n_dims <= FRAME_SMALL_DIMS) {
        f->views = f->small_views;
        f->tensors = f->small_tensors;
        f->strides = f->small_strides;
        return 0;
    }
    size_t bytes = (size_t)n_tensors * (sizeof(Py_buffer) + sizeof(tn_tensor))
                   + (size_t)(n_dims + 1) * sizeof(int64_t);
    f->heap = PyMem_Malloc(bytes);
    if (f->heap == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    /* int64 first, then Py_buffer and tn_tensor (all 8-byte aligned). */
    f->strides = (int64_t *)f->heap;
    f->views = (Py_buffer *)(f->strides + n_dims + 1);
    f->tensors = (tn_tensor *)(f->views + n_tensors);
    return 0;
}

static void
frame_release(call_frame *f)
{
    for (Py_ssize_t i = 0; i < f->n_views; i++) {
        PyBuffer_Release(&f->views[i]); /* no-op when obj is NULL */
    }
    f->n_views = 0;
    PyMem_Free(f->heap);
    f->heap = NULL;
}

/* Next free view slot; obj is NULL until a buffer is acquired into it. */
static inline Py_buffer *
frame_next_view(call_frame *f)
{
    Py_buffer *v = &f->views[f->n_views++];
    v->obj = NULL;
    return v;
}

/* Operands sequence: a tuple (used as is) or a list (copied to a tuple, so
   code run by an exporter cannot change it under us). New reference. */
static PyObject *
operand_tuple(tn_module_state *st, PyObject *seq, Py_ssize_t expected, const char *what)
{
    PyObject *t;
    if (PyTuple_Check(seq)) {
        Py_INCREF(seq);
        t = seq;
    }
    else if (PyList_Check(seq)) {
        t = PyList_AsTuple(seq);
        if (t == NULL) {
            return NULL;
        }
    }
    else {
        PyErr_Format(st->ArgumentError, "%s must be a tuple or list, not %.200s", what,
                     Py_TYPE(seq)->tp_name);
        return NULL;
    }
    if (PyTuple_GET_SIZE(t) != expected) {
        PyErr_Format(st->ShapeError, "the plan takes %zd %s, got %zd", expected, what,
                     PyTuple_GET_SIZE(t));
        Py_DECREF(t);
        return NULL;
    }
    return t;
}

/* Acquires and binds every operand of `ops` into tensors[0 .. n). */
static int
bind_operands(tn_module_state *st, PlanObject *p, call_frame *f, PyObject *ops,
              tn_tensor *tensors, int64_t **strides_cursor)
{
    for (Py_ssize_t i = 0; i < p->n_operands; i++) {
        Py_buffer *v = frame_next_view(f);
        if (get_input_buffer(st, PyTuple_GET_ITEM(ops, i), v, ROLE_OPERAND, i) < 0) {
            return -1;
        }
        if (bind_tensor(st, p, v, p->shapes[i], (Py_ssize_t)p->ndims[i], *strides_cursor,
                        &tensors[i], ROLE_OPERAND, i) < 0) {
            return -1;
        }
        *strides_cursor += p->ndims[i];
    }
    return 0;
}

/* -- construction ---------------------------------------------------------- */

/* Reads a sequence of int sequences into a fresh int64 block. Fills ndims
   (n entries) and returns the flat values (PyMem_Malloc) through *flat. */
static int
read_int_table(tn_module_state *st, PyObject *obj, const char *what, Py_ssize_t *n_out,
               int64_t **ndims_out, int64_t **flat_out)
{
    PyObject *outer = PySequence_Fast(obj, "");
    if (outer == NULL) {
        PyErr_Clear();
        PyErr_Format(st->ArgumentError, "%s must be a sequence of integer sequences, not %.200s",
                     what, Py_TYPE(obj)->tp_name);
        return -1;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(outer);
    PyObject **rows = PyMem_Calloc((size_t)n + 1, sizeof(PyObject *));
    int64_t *ndims = PyMem_Malloc(((size_t)n + 1) * sizeof(int64_t));
    int64_t *flat = NULL;
    Py_ssize_t total = 0;
    int result = -1;
    if (rows == NULL || ndims == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *row = PySequence_Fast_GET_ITEM(outer, i);
        rows[i] = PySequence_Fast(row, "");
        if (rows[i] == NULL) {
            PyErr_Clear();
            PyErr_Format(st->ArgumentError, "%s[%zd] must be a sequence of integers, not %.200s",
                         what, i, Py_TYPE(row)->tp_name);
            goto done;
        }
        ndims[i] = PySequence_Fast_GET_SIZE(rows[i]);
        total += PySequence_Fast_GET_SIZE(rows[i]);
    }
    flat = PyMem_Malloc(((size_t)total + 1) * sizeof(int64_t));
    if (flat == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t k = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        for (Py_ssize_t d = 0; d < ndims[i]; d++) {
            PyObject *item = PySequence_Fast_GET_ITEM(rows[i], d);
            long long v = -1;
            PyObject *index = PyNumber_Index(item);
            if (index != NULL) {
                v = PyLong_AsLongLong(index);
                Py_DECREF(index);
            }
            if (index == NULL || (v == -1 && PyErr_Occurred())) {
                PyErr_Clear();
                PyErr_Format(st->ArgumentError, "%s[%zd][%zd] must be a 64-bit integer, not %R",
                             what, i, d, item);
                goto done;
            }
            flat[k++] = (int64_t)v;
        }
    }
    result = 0;
done:
    if (rows != NULL) {
        for (Py_ssize_t i = 0; i < n; i++) {
            Py_XDECREF(rows[i]);
        }
        PyMem_Free(rows);
    }
    Py_DECREF(outer);
    if (result == 0) {
        *n_out = n;
        *ndims_out = ndims;
        *flat_out = flat;
    }
    else {
        PyMem_Free(ndims);
        PyMem_Free(flat);
    }
    return result;
}

static int
parse_options(tn_module_state *st, int dtype, int optimize, PyObject *memory_limit,
              tn_plan_options *options)
{
    if (dtype != TN_FLOAT32 && dtype != TN_FLOAT64) {
        PyErr_Format(st->DTypeError, "dtype must be 0 (float32) or 1 (float64), got %d", dtype);
        return -1;
    }
    if (optimize < TN_OPTIMIZE_AUTO || optimize > TN_OPTIMIZE_NONE) {
        PyErr_Format(st->ArgumentError,
                     "optimize must be 0 (auto), 1 (optimal), 2 (greedy) or 3 (none), got %d",
                     optimize);
        return -1;
    }
    long long limit = 0;
    if (memory_limit != NULL && memory_limit != Py_None) {
        limit = PyLong_AsLongLong(memory_limit);
        if (limit == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            PyErr_Format(st->ArgumentError,
                         "memory_limit must be None or an integer number of elements, not %R",
                         memory_limit);
            return -1;
        }
    }
    options->optimize = (tn_optimize)optimize;
    options->memory_limit = (int64_t)limit;
    return 0;
}

/* Fills the Plan object from a freshly created handle (takes ownership). */
static PyObject *
plan_finish(tn_module_state *st, PyTypeObject *type, tn_plan *handle, int dtype,
            Py_ssize_t n, const int64_t *ndims, const int64_t *flat)
{
    tn_plan_info info;
    tn_status s = tn_plan_info_get(handle, &info);
    if (s != TN_OK) {
        raise_status(st, s);
        tn_plan_destroy(handle);
        return NULL;
    }
    PlanObject *self = (PlanObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        tn_plan_destroy(handle);
        return NULL;
    }
    self->plan = handle;
    self->dtype = dtype;
    self->itemsize = dtype_itemsizes[dtype];
    self->n_operands = n;
    self->out_ndim = (Py_ssize_t)info.out_ndim;
    self->n_steps = info.n_steps;
    /* Below ~10^4 FLOPs a call takes well under a microsecond: other threads gain nothing
       from the GIL being released, and releasing it would dominate the call. */
    self->keep_gil = info.opt_flops < 1e4;
    Py_ssize_t sum = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        sum += (Py_ssize_t)ndims[i];
    }
    self->sum_ndim = sum;
    /* Layout: shapes pointers | ndims | operand shapes | out shape */
    size_t bytes = (size_t)n * sizeof(int64_t *)
                   + ((size_t)n + (size_t)sum + (size_t)self->out_ndim + 1) * sizeof(int64_t);
    self->block = PyMem_Malloc(bytes);
    if (self->block == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    self->shapes = (const int64_t **)self->block;
    self->ndims = (int64_t *)(self->shapes + n);
    int64_t *store = self->ndims + n;
    memcpy(self->ndims, ndims, (size_t)n * sizeof(int64_t));
    if (sum > 0) {
        memcpy(store, flat, (size_t)sum * sizeof(int64_t));
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        self->shapes[i] = store;
        store += ndims[i];
    }
    self->out_shape = store;
    s = tn_plan_output_shape(handle, self->out_shape, (int64_t)self->out_ndim);
    if (s != TN_OK) {
        Py_DECREF(self);
        return raise_status(st, s);
    }
    self->output_shape = shape_tuple_i64(self->out_shape, self->out_ndim);
    if (self->output_shape == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

/* Pointers to each row of a flattened table (row i has ndims[i] entries); PyMem_Free it.
   NULL with MemoryError set when allocation fails. */
static const int64_t **
row_pointers(const int64_t *flat, const int64_t *ndims, Py_ssize_t n)
{
    const int64_t **rows = PyMem_Malloc(((size_t)n + 1) * sizeof(int64_t *));
    if (rows == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        rows[i] = flat;
        flat += ndims[i];
    }
    return rows;
}

static PyObject *
Plan_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"subscripts", "shapes", "dtype", "optimize", "memory_limit", NULL};
    tn_module_state *st = (tn_module_state *)PyType_GetModuleState(type);
    if (st == NULL) {
        return NULL;
    }
    PyObject *subscripts, *shapes, *memory_limit = Py_None;
    int dtype = TN_FLOAT64, optimize = TN_OPTIMIZE_AUTO;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "UO|iiO:Plan", keywords, &subscripts,
                                     &shapes, &dtype, &optimize, &memory_limit)) {
        return NULL;
    }
    tn_plan_options options;
    if (parse_options(st, dtype, optimize, memory_limit, &options) < 0) {
        return NULL;
    }
    Py_ssize_t length;
    const char *text = PyUnicode_AsUTF8AndSize(subscripts, &length);
    if (text == NULL) {
        return NULL;
    }
    if ((size_t)length != strlen(text)) {
        PyErr_SetString(st->SubscriptError, "subscripts contain a NUL character");
        return NULL;
    }
    Py_ssize_t n;
    int64_t *ndims, *flat;
    if (read_int_table(st, shapes, "shapes", &n, &ndims, &flat) < 0) {
        return NULL;
    }
    const int64_t **rows = row_pointers(flat, ndims, n);
    PyObject *result = NULL;
    if (rows == NULL) {
        goto done;
    }
    tn_plan *handle = NULL;
    tn_status s;
    Py_BEGIN_ALLOW_THREADS
    s = tn_plan_create(text, (int64_t)n, ndims, rows, (tn_dtype)dtype, &options, &handle);
    Py_END_ALLOW_THREADS
    if (s != TN_OK) {
        raise_status(st, s);
        goto done;
    }
    result = plan_finish(st, type, handle, dtype, n, ndims, flat);
done:
    PyMem_Free(rows);
    PyMem_Free(ndims);
    PyMem_Free(flat);
    return result;
}

static PyObject *
Plan_from_ncon(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"shapes", "labels", "dtype", "optimize", "memory_limit", NULL};
    tn_module_state *st = (tn_module_state *)PyType_GetModuleState(type);
    if (st == NULL) {
        return NULL;
    }
    PyObject *shapes, *labels, *memory_limit = Py_None;
    int dtype = TN_FLOAT64, optimize = TN_OPTIMIZE_AUTO;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|iiO:from_ncon", keywords, &shapes,
                                     &labels, &dtype, &optimize, &memory_limit)) {
        return NULL;
    }
    tn_plan_options options;
    if (parse_options(st, dtype, optimize, memory_limit, &options) < 0) {
        return NULL;
    }
    Py_ssize_t n, n_labels;
    int64_t *ndims = NULL, *flat = NULL, *label_ndims = NULL, *label_flat = NULL;
    const int64_t **rows = NULL, **label_rows = NULL;
    PyObject *result = NULL;
    if (read_int_table(st, shapes, "shapes", &n, &ndims, &flat) < 0) {
        return NULL;
    }
    if (read_int_table(st, labels, "labels", &n_labels, &label_ndims, &label_flat) < 0) {
        goto done;
    }
    if (n_labels != n) {
        PyErr_Format(st->ShapeError, "%zd tensors but %zd label lists", n, n_labels);
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (ndims[i] != label_ndims[i]) {
            PyErr_Format(st->ShapeError, "tensor %zd has %lld axes but %lld labels", i,
                         (long long)ndims[i], (long long)label_ndims[i]);
            goto done;
        }
    }
    rows = row_pointers(flat, ndims, n);
    label_rows = rows == NULL ? NULL : row_pointers(label_flat, ndims, n);
    if (label_rows == NULL) {
        goto done;
    }
    tn_plan *handle = NULL;
    tn_status s;
    Py_BEGIN_ALLOW_THREADS
    s = tn_plan_create_ncon((int64_t)n, ndims, rows, label_rows, (tn_dtype)dtype, &options,
                            &handle);
    Py_END_ALLOW_THREADS
    if (s != TN_OK) {
        raise_status(st, s);
        goto done;
    }
    result = plan_finish(st, type, handle, dtype, n, ndims, flat);
done:
    PyMem_Free(rows);
    PyMem_Free(label_rows);
    PyMem_Free(ndims);
    PyMem_Free(flat);
    PyMem_Free(label_ndims);
    PyMem_Free(label_flat);
    return result;
}

static void
Plan_dealloc(PlanObject *self)
{
    PyTypeObject *type = Py_TYPE(self);
    if (self->plan != NULL) {
        tn_plan_destroy(self->plan);
        self->plan = NULL;
    }
    PyMem_Free(self->block);
    Py_XDECREF(self->output_shape);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

/* -- the hot path ------------------------------------------------------------ */

static PyObject *
Plan_execute(PlanObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "execute() takes 2 arguments (operands, out), got %zd",
                     nargs);
        return NULL;
    }
    tn_module_state *st = plan_state(self);
    PyObject *ops = operand_tuple(st, args[0], self->n_operands, "operands");
    if (ops == NULL) {
        return NULL;
    }
    const Py_ssize_t n = self->n_operands;
    call_frame f;
    PyObject *result = NULL;
    if (frame_init(&f, n + 1, self->sum_ndim + self->out_ndim) < 0) {
        Py_DECREF(ops);
        return NULL;
    }
    int64_t *cursor = f.strides;
    if (bind_operands(st, self, &f, ops, f.tensors, &cursor) < 0) {
        goto exit;
    }
    Py_buffer *out_view = frame_next_view(&f);
    if (get_output_buffer(st, args[1], out_view, ROLE_OUT, 0) < 0
        || bind_tensor(st, self, out_view, self->out_shape, self->out_ndim, cursor,
                       &f.tensors[n], ROLE_OUT, 0) < 0) {
        goto exit;
    }
    tn_status s;
    if (self->keep_gil) {
        s = tn_plan_execute(self->plan, f.tensors, &f.tensors[n]);
        if (s != TN_OK) {
            raise_status(st, s);
            goto exit;
        }
    } else {
        interrupt_state is;
        interrupt_begin(&is);
        Py_BEGIN_ALLOW_THREADS
        s = tn_plan_execute(self->plan, f.tensors, &f.tensors[n]);
        Py_END_ALLOW_THREADS
        if (interrupt_end(st, &is, s) < 0) {
            goto exit;
        }
    }
    result = Py_None;
    Py_INCREF(result);
exit:
    frame_release(&f);
    Py_DECREF(ops);
    return result;
}

static PyObject *
Plan_backward(PlanObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError,
                     "backward() takes 3 arguments (dy, operands, grads), got %zd", nargs);
        return NULL;
    }
    tn_module_state *st = plan_state(self);
    const Py_ssize_t n = self->n_operands;
    PyObject *ops = operand_tuple(st, args[1], n, "operands");
    if (ops == NULL) {
        return NULL;
    }
    PyObject *grads = operand_tuple(st, args[2], n, "grads");
    if (grads == NULL) {
        Py_DECREF(ops);
        return NULL;
    }
    /* tensors: operands [0, n), grads [n, 2n), dy at 2n */
    call_frame f;
    PyObject *result = NULL;
    if (frame_init(&f, 2 * n + 1, 2 * self->sum_ndim + self->out_ndim) < 0) {
        Py_DECREF(ops);
        Py_DECREF(grads);
        return NULL;
    }
    int64_t *cursor = f.strides;
    Py_buffer *dy_view = frame_next_view(&f);
    if (get_input_buffer(st, args[0], dy_view, ROLE_DY, 0) < 0
        || bind_tensor(st, self, dy_view, self->out_shape, self->out_ndim, cursor,
                       &f.tensors[2 * n], ROLE_DY, 0) < 0) {
        goto exit;
    }
    cursor += self->out_ndim;
    if (bind_operands(st, self, &f, ops, f.tensors, &cursor) < 0) {
        goto exit;
    }
    int any = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *g = PyTuple_GET_ITEM(grads, i);
        tn_tensor *t = &f.tensors[n + i];
        if (g == Py_None) {
            t->data = NULL; /* not requested */
            t->ndim = self->ndims[i];
            t->shape = self->shapes[i];
            t->strides = NULL;
            continue;
        }
        Py_buffer *v = frame_next_view(&f);
        if (get_output_buffer(st, g, v, ROLE_GRAD, i) < 0
            || bind_tensor(st, self, v, self->shapes[i], (Py_ssize_t)self->ndims[i], cursor, t,
                           ROLE_GRAD, i) < 0) {
            goto exit;
        }
        cursor += self->ndims[i];
        any = 1;
    }
    if (any) {
        tn_status s;
        interrupt_state is;
        interrupt_begin(&is);
        Py_BEGIN_ALLOW_THREADS
        s = tn_plan_backward(self->plan, &f.tensors[2 * n], f.tensors, &f.tensors[n]);
        Py_END_ALLOW_THREADS
        if (interrupt_end(st, &is, s) < 0) {
            goto exit;
        }
    }
    result = Py_None;
    Py_INCREF(result);
exit:
    frame_release(&f);
    Py_DECREF(ops);
    Py_DECREF(grads);
    return result;
}

/* -- introspection ----------------------------------------------------------- */

static PyObject *
Plan_info(PlanObject *self, PyObject *Py_UNUSED(ignored))
{
    tn_plan_info info;
    tn_status s = tn_plan_info_get(self->plan, &info);
    if (s != TN_OK) {
        return raise_status(plan_state(self), s);
    }
    return Py_BuildValue("{s:d,s:d,s:L,s:L,s:L}",
                         "naive_flops", info.naive_flops,
                         "opt_flops", info.opt_flops,
                         "largest_intermediate", (long long)info.largest_intermediate,
                         "n_steps", (long long)info.n_steps,
                         "n_operands", (long long)info.n_operands);
}

static PyObject *
Plan_last_operand_address(PlanObject *self, PyObject *arg)
{
    Py_ssize_t i = PyLong_AsSsize_t(arg);
    if (i == -1 && PyErr_Occurred()) {
        return NULL;
    }
    uintptr_t address = 0;
    tn_status s = tn_plan_last_operand_address(self->plan, (int64_t)i, &address);
    if (s != TN_OK) {
        return raise_status(plan_state(self), s);
    }
    return PyLong_FromUnsignedLongLong((unsigned long long)address);
}

static PyObject *
Plan_get_output_shape(PlanObject *self, void *Py_UNUSED(closure))
{
    Py_INCREF(self->output_shape);
    return self->output_shape;
}

static PyObject *
Plan_get_path(PlanObject *self, void *Py_UNUSED(closure))
{
    tn_module_state *st = plan_state(self);
    Py_ssize_t steps = (Py_ssize_t)self->n_steps;
    int64_t small[32];
    int64_t *pairs = small;
    if (2 * steps > (Py_ssize_t)(sizeof small / sizeof small[0])) {
        pairs = PyMem_Malloc((size_t)(2 * steps) * sizeof(int64_t));
        if (pairs == NULL) {
            return PyErr_NoMemory();
        }
    }
    PyObject *list = NULL;
    tn_status s = tn_plan_path(self->plan, pairs, (int64_t)(2 * steps));
    if (s != TN_OK) {
        raise_status(st, s);
        goto done;
    }
    list = PyList_New(steps);
    if (list == NULL) {
        goto done;
    }
    for (Py_ssize_t k = 0; k < steps; k++) {
        PyObject *pair = Py_BuildValue("(LL)", (long long)pairs[2 * k],
                                       (long long)pairs[2 * k + 1]);
        if (pair == NULL) {
            Py_CLEAR(list);
            goto done;
        }
        PyList_SET_ITEM(list, k, pair);
    }
done:
    if (pairs != small) {
        PyMem_Free(pairs);
    }
    return list;
}

static PyObject *
Plan_get_report(PlanObject *self, void *Py_UNUSED(closure))
{
    tn_module_state *st = plan_state(self);
    char small[2048];
    size_t needed = 0;
    tn_status s = tn_plan_report(self->plan, small, sizeof small, &needed);
    if (s != TN_OK) {
        return raise_status(st, s);
    }
    if (needed <= sizeof small) {
        small[sizeof small - 1] = '\0';
        return PyUnicode_DecodeUTF8(small, (Py_ssize_t)strlen(small), "replace");
    }
    char *big = PyMem_Malloc(needed);
    if (big == NULL) {
        return PyErr_NoMemory();
    }
    size_t again = 0;
    PyObject *text = NULL;
    s = tn_plan_report(self->plan, big, needed, &again);
    if (s != TN_OK) {
        raise_status(st, s);
    }
    else {
        big[needed - 1] = '\0';
        text = PyUnicode_DecodeUTF8(big, (Py_ssize_t)strlen(big), "replace");
    }
    PyMem_Free(big);
    return text;
}

static PyObject *
Plan_get_dtype(PlanObject *self, void *Py_UNUSED(closure))
{
    return PyLong_FromLong(self->dtype);
}

static PyObject *
Plan_get_n_operands(PlanObject *self, void *Py_UNUSED(closure))
{
    return PyLong_FromSsize_t(self->n_operands);
}

static PyObject *
Plan_get_shapes(PlanObject *self, void *Py_UNUSED(closure))
{
    PyObject *t = PyTuple_New(self->n_operands);
    if (t == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < self->n_operands; i++) {
        PyObject *shape = shape_tuple_i64(self->shapes[i], (Py_ssize_t)self->ndims[i]);
        if (shape == NULL) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, shape);
    }
    return t;
}

static PyObject *
Plan_repr(PlanObject *self)
{
    return PyUnicode_FromFormat("<tnswift Plan: %zd operands -> %R, %s>", self->n_operands,
                                self->output_shape, dtype_names[self->dtype]);
}

static PyMethodDef Plan_methods[] = {
    {"from_ncon", (PyCFunction)(void (*)(void))Plan_from_ncon,
     METH_VARARGS | METH_KEYWORDS | METH_CLASS,
     "from_ncon(shapes, labels, dtype=1, optimize=0, memory_limit=None)\n--\n\n"
     "Plan an ncon network: labels[i] labels the axes of tensor i (positive labels are\n"
     "contracted, each exactly twice; negative labels are output axes, -1 first)."},
    {"execute", (PyCFunction)(void (*)(void))Plan_execute, METH_FASTCALL,
     "execute($self, operands, out, /)\n--\n\n"
     "Contract `operands` (a tuple of buffers with the planned shapes and dtype) into the\n"
     "writable buffer `out` (shape output_shape). Returns None."},
    {"backward", (PyCFunction)(void (*)(void))Plan_backward, METH_FASTCALL,
     "backward($self, dy, operands, grads, /)\n--\n\n"
     "Gradients of sum(out * dy): grads[i] is a writable buffer of operand i's shape to\n"
     "overwrite, or None when that gradient is not wanted. Returns None."},
    {"info", (PyCFunction)Plan_info, METH_NOARGS,
     "info($self, /)\n--\n\n"
     "Cost numbers: dict(naive_flops, opt_flops, largest_intermediate, n_steps, n_operands)."},
    {"last_operand_address", (PyCFunction)Plan_last_operand_address, METH_O,
     "last_operand_address($self, i, /)\n--\n\n"
     "Data address of operand i as the last execute() received it (0 before any run)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Plan_getset[] = {
    {"output_shape", (getter)Plan_get_output_shape, NULL, "Shape of the result (tuple).", NULL},
    {"path", (getter)Plan_get_path, NULL,
     "Contraction path in opt_einsum form: a list of (i, j) position pairs.", NULL},
    {"report", (getter)Plan_get_report, NULL, "The engine's printable cost report.", NULL},
    {"dtype", (getter)Plan_get_dtype, NULL, "0 for float32, 1 for float64.", NULL},
    {"n_operands", (getter)Plan_get_n_operands, NULL, "Number of operands.", NULL},
    {"shapes", (getter)Plan_get_shapes, NULL, "The planned operand shapes.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot Plan_slots[] = {
    {Py_tp_doc,
     "Plan(subscripts, shapes, dtype=1, optimize=0, memory_limit=None)\n--\n\n"
     "A compiled contraction for fixed operand shapes and one dtype (0 float32, 1 float64).\n"
     "optimize: 0 auto, 1 optimal, 2 greedy, 3 none. memory_limit: largest intermediate\n"
     "in elements (None or <= 0: no limit). Plans may be shared between threads."},
    {Py_tp_new, Plan_new},
    {Py_tp_dealloc, Plan_dealloc},
    {Py_tp_repr, Plan_repr},
    {Py_tp_methods, Plan_methods},
    {Py_tp_getset, Plan_getset},
    {0, NULL},
};

static PyType_Spec Plan_spec = {
    .name = "tnswift._ext.Plan",
    .basicsize = sizeof(PlanObject),
    .itemsize = 0,
#ifdef Py_TPFLAGS_IMMUTABLETYPE
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
#else
    .flags = Py_TPFLAGS_DEFAULT,
#endif
    .slots = Plan_slots,
};

/* ------------------------------------------------------------------------- */
/* Module functions                                                          */
/* ------------------------------------------------------------------------- */

static PyObject *
mod_abi_version(PyObject *Py_UNUSED(module), PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromUnsignedLong((unsigned long)tn_abi_version());
}

static PyObject *
mod_version(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    const char *version = NULL, *blas = NULL;
    tn_status s = tn_version(&version, &blas);
    if (s != TN_OK) {
        return raise_status(module_state(module), s);
    }
    return Py_BuildValue("(ss)", version ? version : "", blas ? blas : "");
}

static PyObject *
mod_set_num_threads(PyObject *module, PyObject *arg)
{
    long long n = PyLong_AsLongLong(arg);
    if (n == -1 && PyErr_Occurred()) {
        return NULL;
    }
    int64_t previous = 0;
    tn_status s;
    Py_BEGIN_ALLOW_THREADS
    s = tn_set_num_threads((int64_t)n, &previous);
    Py_END_ALLOW_THREADS
    if (s != TN_OK) {
        return raise_status(module_state(module), s);
    }
    return PyLong_FromLongLong((long long)previous);
}

/* ------------------------------------------------------------------------- */
/* Decompositions                                                            */
/* ------------------------------------------------------------------------- */

/*
 * Each function takes its input arrays as buffers (read in place when C-contiguous; the
 * library packs other layouts itself), releases the GIL around the tn_* call and returns
 * (arrays, errors): the result's arrays, each allocated by the Python callable `empty(shape)`
 * (so the shim needs no NumPy headers) and filled by tn_decomposition_array_copy, and the
 * error history as a list of floats.
 */

#define TN_MAX_DIMS 64

/* A list of input tensors with their buffers, shapes and element strides. */
typedef struct {
    Py_ssize_t n;
    Py_buffer *views;  /* views[i].obj != NULL once acquired */
    tn_tensor *tensors;
    int64_t *dims;     /* 2 * TN_MAX_DIMS per tensor: shape, then strides */
} tensor_list;

static void
tensors_release(tensor_list *tl)
{
    for (Py_ssize_t i = 0; i < tl->n && tl->views != NULL; i++) {
        if (tl->views[i].obj != NULL) {
            PyBuffer_Release(&tl->views[i]);
        }
    }
    PyMem_Free(tl->views);
    PyMem_Free(tl->tensors);
    PyMem_Free(tl->dims);
    tl->views = NULL;
    tl->tensors = NULL;
    tl->dims = NULL;
    tl->n = 0;
}

/* Binds one acquired buffer into a tn_tensor of dtype *dtype (set from it when -1). */
static int
bind_input(tn_module_state *st, const Py_buffer *view, int64_t *dims, tn_tensor *t,
           int *dtype, const char *what, Py_ssize_t index)
{
    int dt = format_dtype(view);
    if (dt < 0) {
        PyErr_Format(st->DTypeError,
                     "%s %zd has element format '%s' (itemsize %zd); expected float32 or float64",
                     what, index, view->format ? view->format : "B", view->itemsize);
        return -1;
    }
    if (*dtype < 0) {
        *dtype = dt;
    }
    else if (dt != *dtype) {
        PyErr_Format(st->DTypeError, "%s %zd has dtype %s but the others are %s", what, index,
                     dtype_names[dt], dtype_names[*dtype]);
        return -1;
    }
    if (view->ndim > TN_MAX_DIMS || (view->ndim > 0 && view->shape == NULL)) {
        PyErr_Format(st->ShapeError, "%s %zd has %d dimensions; at most %d are supported", what,
                     index, view->ndim, TN_MAX_DIMS);
        return -1;
    }
    int64_t *shape = dims, *strides = dims + TN_MAX_DIMS;
    for (int d = 0; d < view->ndim; d++) {
        shape[d] = (int64_t)view->shape[d];
        Py_ssize_t s = view->strides ? view->strides[d] : 0;
        if (view->strides == NULL) {
            continue;
        }
        if (s % view->itemsize != 0) {
            if (view->shape[d] > 1) {
                PyErr_Format(st->ArgumentError,
                             "%s %zd has a byte stride of %zd along axis %d, not a multiple of its "
                             "itemsize; copy it first", what, index, s, d);
                return -1;
            }
            s = 0;
        }
        strides[d] = (int64_t)(s / view->itemsize);
    }
    t->data = view->buf;
    t->ndim = view->ndim;
    t->shape = shape;
    t->strides = view->strides ? strides : NULL;
    return 0;
}

/* Acquires `obj` (one buffer when single, else a sequence of buffers). */
static int
tensors_acquire(tn_module_state *st, PyObject *obj, int single, const char *what, int *dtype,
                tensor_list *tl)
{
    tl->n = 0;
    tl->views = NULL;
    tl->tensors = NULL;
    tl->dims = NULL;
    PyObject *seq = NULL;
    Py_ssize_t n = 1;
    if (!single) {
        seq = PySequence_Fast(obj, "");
        if (seq == NULL) {
            PyErr_Clear();
            PyErr_Format(st->ArgumentError, "%s must be a sequence of arrays, not %.200s", what,
                         Py_TYPE(obj)->tp_name);
            return -1;
        }
        n = PySequence_Fast_GET_SIZE(seq);
    }
    tl->views = PyMem_Calloc((size_t)n + 1, sizeof(Py_buffer));
    tl->tensors = PyMem_Calloc((size_t)n + 1, sizeof(tn_tensor));
    tl->dims = PyMem_Calloc(((size_t)n + 1) * 2 * TN_MAX_DIMS, sizeof(int64_t));
    tl->n = n;
    if (tl->views == NULL || tl->tensors == NULL || tl->dims == NULL) {
        Py_XDECREF(seq);
        tensors_release(tl);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = single ? obj : PySequence_Fast_GET_ITEM(seq, i);
        if (PyObject_GetBuffer(item, &tl->views[i], PyBUF_STRIDES | PyBUF_FORMAT) < 0) {
            tl->views[i].obj = NULL;
            reraise_as(st->DTypeError,
                       PyUnicode_FromFormat("%s %zd (type %.200s) is not a float32 or float64 array",
                                            what, i, Py_TYPE(item)->tp_name));
            goto fail;
        }
        if (bind_input(st, &tl->views[i], tl->dims + 2 * TN_MAX_DIMS * i, &tl->tensors[i],
                       dtype, what, i) < 0) {
            goto fail;
        }
    }
    Py_XDECREF(seq);
    return 0;
fail:
    Py_XDECREF(seq);
    tensors_release(tl);
    return -1;
}

/* None -> *out = NULL; else a sequence of exactly `expected` integers (PyMem_Malloc). */
static int
read_int_list(tn_module_state *st, PyObject *obj, const char *what, Py_ssize_t expected,
              int64_t **out)
{
    *out = NULL;
    if (obj == Py_None) {
        return 0;
    }
    PyObject *seq = PySequence_Fast(obj, "");
    if (seq == NULL) {
        PyErr_Clear();
        PyErr_Format(st->ArgumentError, "%s must be a sequence of integers, not %.200s", what,
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (expected >= 0 && n != expected) {
        PyErr_Format(st->ShapeError, "%s has %zd entries; expected %zd", what, n, expected);
        Py_DECREF(seq);
        return -1;
    }
    int64_t *values = PyMem_Malloc(((size_t)n + 1) * sizeof(int64_t));
    if (values == NULL) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        long long v = -1;
        PyObject *index = PyNumber_Index(item);
        if (index != NULL) {
            v = PyLong_AsLongLong(index);
            Py_DECREF(index);
        }
        if (index == NULL || (v == -1 && PyErr_Occurred())) {
            PyErr_Clear();
            PyErr_Format(st->ArgumentError, "%s[%zd] must be a 64-bit integer, not %R", what, i,
                         item);
            PyMem_Free(values);
            Py_DECREF(seq);
            return -1;
        }
        values[i] = (int64_t)v;
    }
    Py_DECREF(seq);
    *out = values;
    return 0;
}

/* -- progress: the GIL is re-acquired, Ctrl-C and the Python callback are honoured ---- */

typedef struct {
    PyObject *callback; /* None or a callable(step, total, rel_error or None) */
    PyObject *exc_type, *exc_value, *exc_tb; /* what stopped the run, re-raised afterwards */
} progress_state;

static int
progress_trampoline(void *context, int64_t step, int64_t total, double rel_error)
{
    progress_state *ps = (progress_state *)context;
    PyGILState_STATE gil = PyGILState_Ensure();
    int keep = 1;
    if (PyErr_CheckSignals() < 0) {
        keep = 0; /* KeyboardInterrupt (or whatever a signal handler raised) */
    }
    else if (ps->callback != Py_None) {
        PyObject *err;
        if (rel_error != rel_error) {
            err = Py_None;
            Py_INCREF(err);
        }
        else {
            err = PyFloat_FromDouble(rel_error);
        }
        PyObject *r = err == NULL ? NULL
                                  : PyObject_CallFunction(ps->callback, "LLO", (long long)step,
                                                          (long long)total, err);
        Py_XDECREF(err);
        if (r == NULL) {
            keep = 0;
        }
        else {
            keep = (r != Py_False); /* an explicit False stops; anything else goes on */
            Py_DECREF(r);
        }
    }
    if (PyErr_Occurred()) {
        PyErr_Fetch(&ps->exc_type, &ps->exc_value, &ps->exc_tb);
        keep = 0;
    }
    PyGILState_Release(gil);
    return keep;
}

/* After the call: a stashed exception wins over the status (a KeyboardInterrupt must not
   become a TNError). Returns -1 with an exception set on failure. */
static int
finish_status(tn_module_state *st, progress_state *ps, tn_status s)
{
    if (ps != NULL && ps->exc_type != NULL) {
        PyErr_Restore(ps->exc_type, ps->exc_value, ps->exc_tb);
        ps->exc_type = ps->exc_value = ps->exc_tb = NULL;
        return -1;
    }
    if (s != TN_OK) {
        raise_status(st, s);
        return -1;
    }
    return 0;
}

/* (arrays, errors) from a result handle, which is destroyed. */
static PyObject *
collect_result(tn_module_state *st, tn_decomposition *h, int dtype, PyObject *empty)
{
    PyObject *arrays = NULL, *errors = NULL, *result = NULL;
    double *history = NULL;
    int64_t count = 0, n_errors = 0;
    tn_status s = tn_decomposition_count(h, &count);
    if (s != TN_OK) {
        raise_status(st, s);
        goto done;
    }
    arrays = PyList_New((Py_ssize_t)count);
    if (arrays == NULL) {
        goto done;
    }
    for (int64_t i = 0; i < count; i++) {
        int64_t ndim = 0, shape[TN_MAX_DIMS];
        s = tn_decomposition_array_shape(h, i, &ndim, shape, TN_MAX_DIMS);
        if (s != TN_OK) {
            raise_status(st, s);
            goto done;
        }
        PyObject *dims = shape_tuple_i64(shape, (Py_ssize_t)ndim);
        PyObject *array = dims ? PyObject_CallOneArg(empty, dims) : NULL;
        Py_XDECREF(dims);
        if (array == NULL) {
            goto done;
        }
        PyList_SET_ITEM(arrays, (Py_ssize_t)i, array);
        Py_buffer view;
        if (PyObject_GetBuffer(array, &view, PyBUF_WRITABLE | PyBUF_STRIDES | PyBUF_FORMAT) < 0) {
            goto done;
        }
        int64_t dims64[2 * TN_MAX_DIMS];
        tn_tensor t;
        int dt = dtype;
        int bad = bind_input(st, &view, dims64, &t, &dt, "result array", (Py_ssize_t)i);
        if (bad == 0) {
            s = tn_decomposition_array_copy(h, i, &t);
            if (s != TN_OK) {
                raise_status(st, s);
                bad = -1;
            }
        }
        PyBuffer_Release(&view);
        if (bad < 0) {
            goto done;
        }
    }
    s = tn_decomposition_errors(h, NULL, 0, &n_errors);
    if (s != TN_OK) {
        raise_status(st, s);
        goto done;
    }
    history = PyMem_Malloc(((size_t)n_errors + 1) * sizeof(double));
    if (history == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    s = tn_decomposition_errors(h, history, n_errors, &n_errors);
    if (s != TN_OK) {
        raise_status(st, s);
        goto done;
    }
    errors = PyList_New((Py_ssize_t)n_errors);
    if (errors == NULL) {
        goto done;
    }
    for (int64_t i = 0; i < n_errors; i++) {
        PyObject *v = PyFloat_FromDouble(history[i]);
        if (v == NULL) {
            goto done;
        }
        PyList_SET_ITEM(errors, (Py_ssize_t)i, v);
    }
    result = PyTuple_Pack(2, arrays, errors);
done:
    PyMem_Free(history);
    Py_XDECREF(arrays);
    Py_XDECREF(errors);
    tn_decomposition_destroy(h);
    return result;
}

static int
check_callable(tn_module_state *st, PyObject *obj, const char *what, int none_ok)
{
    if ((none_ok && obj == Py_None) || PyCallable_Check(obj)) {
        return 0;
    }
    PyErr_Format(st->ArgumentError, "%s must be %scallable, not %.200s", what,
                 none_ok ? "None or " : "", Py_TYPE(obj)->tp_name);
    return -1;
}

static PyObject *
mod_tt_svd(PyObject *module, PyObject *args)
{
    tn_module_state *st = module_state(module);
    PyObject *x, *caps_obj, *callback, *empty;
    double eps;
    if (!PyArg_ParseTuple(args, "OOdOO:tt_svd", &x, &caps_obj, &eps, &callback, &empty)
        || check_callable(st, callback, "callback", 1) < 0
        || check_callable(st, empty, "empty", 0) < 0) {
        return NULL;
    }
    int dtype = -1;
    tensor_list tl;
    if (tensors_acquire(st, x, 1, "x", &dtype, &tl) < 0) {
        return NULL;
    }
    int64_t *caps = NULL;
    PyObject *result = NULL;
    Py_ssize_t ndim = (Py_ssize_t)tl.tensors[0].ndim;
    if (read_int_list(st, caps_obj, "max_ranks", ndim > 0 ? ndim - 1 : 0, &caps) < 0) {
        goto done;
    }
    progress_state ps = {callback, NULL, NULL, NULL};
    tn_decomposition *h = NULL;
    tn_status s;
    Py_BEGIN_ALLOW_THREADS
    s = tn_tt_svd((tn_dtype)dtype, &tl.tensors[0], caps, eps, progress_trampoline, &ps, &h);
    Py_END_ALLOW_THREADS
    if (finish_status(st, &ps, s) == 0) {
        result = collect_result(st, h, dtype, empty);
    }
    else if (h != NULL) {
        tn_decomposition_destroy(h);
    }
done:
    PyMem_Free(caps);
    tensors_release(&tl);
    return result;
}

static PyObject *
mod_tt_matrix(PyObject *module, PyObject *args)
{
    tn_module_state *st = module_state(module);
    PyObject *w, *rows_obj, *cols_obj, *caps_obj, *callback, *empty;
    double eps;
    if (!PyArg_ParseTuple(args, "OOOOdOO:tt_matrix", &w, &rows_obj, &cols_obj, &caps_obj, &eps,
                          &callback, &empty)
        || check_callable(st, callback, "callback", 1) < 0
        || check_callable(st, empty, "empty", 0) < 0) {
        return NULL;
    }
    int64_t *rows = NULL, *cols = NULL, *caps = NULL;
    PyObject *result = NULL;
    int dtype = -1;
    tensor_list tl = {0, NULL, NULL, NULL};
    if (rows_obj == Py_None || read_int_list(st, rows_obj, "in_modes", -1, &rows) < 0) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(st->ArgumentError, "in_modes is None");
        }
        return NULL;
    }
    Py_ssize_t d = PySequence_Size(rows_obj);
    if (d < 0 || read_int_list(st, cols_obj, "out_modes", d, &cols) < 0) {
        goto done;
    }
    if (cols == NULL) {
        PyErr_SetString(st->ArgumentError, "out_modes is None");
        goto done;
    }
    if (read_int_list(st, caps_obj, "max_ranks", d > 0 ? d - 1 : 0, &caps) < 0
        || tensors_acquire(st, w, 1, "w", &dtype, &tl) < 0) {
        goto done;
    }
    progress_state ps = {callback, NULL, NULL, NULL};
    tn_decomposition *h = NULL;
    tn_status s;
    Py_BEGIN_ALLOW_THREADS
    s = tn_tt_matrix((tn_dtype)dtype, &tl.tensors[0], (int64_t)d, rows, cols, caps, eps,
                     progress_trampoline, &ps, &h);
    Py_END_ALLOW_THREADS
    if (finish_status(st, &ps, s) == 0) {
        result = collect_result(st, h, dtype, empty);
    }
    else if (h != NULL) {
        tn_decomposition_destroy(h);
    }
done:
    PyMem_Free(rows);
    PyMem_Free(cols);
    PyMem_Free(caps);
    tensors_release(&tl);
    return result;
}

static PyObject *
mod_tt_round(PyObject *module, PyObject *args)
{
    tn_module_state *st = module_state(module);
    PyObject *cores, *caps_obj, *empty;
    double eps;
    if (!PyArg_ParseTuple(args, "OOdO:tt_round", &cores, &caps_obj, &eps, &empty)
        || check_callable(st, empty, "empty", 0) < 0) {
        return NULL;
    }
    int dtype = -1;
    tensor_list tl;
    if (tensors_acquire(st, cores, 0, "core", &dtype, &tl) < 0) {
        return NULL;
    }
    int64_t *caps = NULL;
    PyObject *result = NULL;
    if (read_int_list(st, caps_obj, "max_ranks", tl.n > 0 ? tl.n - 1 : 0, &caps) < 0) {
        goto done;
    }
    tn_decomposition *h = NULL;
    tn_status s;
    Py_BEGIN_ALLOW_THREADS
    s = tn_tt_round((tn_dtype)(dtype < 0 ? TN_FLOAT64 : dtype), (int64_t)tl.n, tl.tensors, caps,
                    eps, &h);
    Py_END_ALLOW_THREADS
    if (finish_status(st, NULL, s) == 0) {
        result = collect_result(st, h, dtype, empty);
    }
done:
    PyMem_Free(caps);
    tensors_release(&tl);
    return result;
}

/* Acquires two core lists of one dtype and equal length. */
static int
acquire_pair(tn_module_state *st, PyObject *a, PyObject *b, int *dtype, tensor_list *ta,
             tensor_list *tb)
{
    if (tensors_acquire(st, a, 0, "a core", dtype, ta) < 0) {
        return -1;
    }
    if (tensors_acquire(st, b, 0, "b core", dtype, tb) < 0) {
        tensors_release(ta);
        return -1;
    }
    if (ta->n != tb->n) {
        PyErr_Format(st->ShapeError, "the TT tensors have %zd and %zd cores", ta->n, tb->n);
        tensors_release(ta);
        tensors_release(tb);
        return -1;
    }
    if (*dtype < 0) {
        *dtype = TN_FLOAT64;
    }
    return 0;
}

static PyObject *
mod_tt_inner(PyObject *module, PyObject *args)
{
    tn_module_state *st = module_state(module);
    PyObject *a, *b;
    if (!PyArg_ParseTuple(args, "OO:tt_inner", &a, &b)) {
        return NULL;
    }
    int dtype = -1;
    tensor_list ta, tb;
    if (acquire_pair(st, a, b, &dtype, &ta, &tb) < 0) {
        return NULL;
    }
    double value = 0.0;
    tn_status s;
    Py_BEGIN_ALLOW_THREADS
    s = tn_tt_inner((tn_dtype)dtype, (int64_t)ta.n, ta.tensors, tb.tensors, &value);
    Py_END_ALLOW_THREADS
    tensors_release(&ta);
    tensors_release(&tb);
    if (finish_status(st, NULL, s) < 0) {
        return NULL;
    }
    return PyFloat_FromDouble(value);
}

static PyObject *
mod_tt_add(PyObject *module, PyObject *args)
{
    tn_module_state *st = module_state(module);
    PyObject *a, *b, *empty;
    if (!PyArg_ParseTuple(args, "OOO:tt_add", &a, &b, &empty)
        || check_callable(st, empty, "empty", 0) < 0) {
        return NULL;
    }
    int dtype = -1;
    tensor_list ta, tb;
    if (acquire_pair(st, a, b, &dtype, &ta, &tb) < 0) {
        return NULL;
    }
    tn_decomposition *h = NULL;
    tn_status s;
    Py_BEGIN_ALLOW_THREADS
    s = tn_tt_add((tn_dtype)dtype, (int64_t)ta.n, ta.tensors, tb.tensors, &h);
    Py_END_ALLOW_THREADS
    tensors_release(&ta);
    tensors_release(&tb);
    if (finish_status(st, NULL, s) < 0) {
        return NULL;
    }
    return collect_result(st, h, dtype, empty);
}

static PyObject *
mod_balanced_modes(PyObject *module, PyObject *args)
{
    tn_module_state *st = module_state(module);
    long long n, order;
    if (!PyArg_ParseTuple(args, "LL:balanced_modes", &n, &order)) {
        return NULL;
    }
    if (order < 1 || order > 4096) {
        PyErr_Format(st->ArgumentError, "order must be between 1 and 4096 (got %lld)", order);
        return NULL;
    }
    int64_t *modes = PyMem_Malloc((size_t)order * sizeof(int64_t));
    if (modes == NULL) {
        return PyErr_NoMemory();
    }
    tn_status s = tn_balanced_modes((int64_t)n, (int64_t)order, modes);
    PyObject *result = NULL;
    if (s != TN_OK) {
        raise_status(st, s);
    }
    else {
        result = PyList_New((Py_ssize_t)order);
        for (long long k = 0; result != NULL && k < order; k++) {
            PyObject *v = PyLong_FromLongLong((long long)modes[k]);
            if (v == NULL) {
                Py_CLEAR(result);
                break;
            }
            PyList_SET_ITEM(result, (Py_ssize_t)k, v);
        }
    }
    PyMem_Free(modes);
    return result;
}

static PyObject *
mod_cp_als(PyObject *module, PyObject *args)
{
    tn_module_state *st = module_state(module);
    PyObject *x, *init_arrays, *callback, *empty;
    long long rank, n_iter_max;
    int init;
    unsigned long long seed;
    double tol;
    if (!PyArg_ParseTuple(args, "OLiKOLdOO:cp_als", &x, &rank, &init, &seed, &init_arrays,
                          &n_iter_max, &tol, &callback, &empty)
        || check_callable(st, callback, "callback", 1) < 0
        || check_callable(st, empty, "empty", 0) < 0) {
        return NULL;
    }
    int dtype = -1;
    tensor_list tl, ti = {0, NULL, NULL, NULL};
    if (tensors_acquire(st, x, 1, "x", &dtype, &tl) < 0) {
        return NULL;
    }
    PyObject *result = NULL;
    if (init_arrays != Py_None) {
        if (tensors_acquire(st, init_arrays, 0, "init array", &dtype, &ti) < 0) {
            goto done;
        }
        if (ti.n != (Py_ssize_t)tl.tensors[0].ndim + 1) {
            PyErr_Format(st->ShapeError,
                         "the initial CP tensor has %zd arrays; a tensor with %lld modes needs "
                         "%lld (weights and one factor per mode)", ti.n,
                         (long long)tl.tensors[0].ndim, (long long)tl.tensors[0].ndim + 1);
            goto done;
        }
    }
    progress_state ps = {callback, NULL, NULL, NULL};
    tn_decomposition *h = NULL;
    tn_status s;
    Py_BEGIN_ALLOW_THREADS
    s = tn_cp_als((tn_dtype)dtype, &tl.tensors[0], (int64_t)rank, init, (uint64_t)seed,
                  init_arrays == Py_None ? NULL : ti.tensors, (int64_t)n_iter_max, tol,
                  progress_trampoline, &ps, &h);
    Py_END_ALLOW_THREADS
    if (finish_status(st, &ps, s) == 0) {
        result = collect_result(st, h, dtype, empty);
    }
    else if (h != NULL) {
        tn_decomposition_destroy(h);
    }
done:
    tensors_release(&tl);
    tensors_release(&ti);
    return result;
}

static PyObject *
mod_tucker(PyObject *module, PyObject *args)
{
    tn_module_state *st = module_state(module);
    PyObject *x, *ranks_obj, *callback, *empty;
    double eps, tol;
    int method;
    long long n_iter_max;
    if (!PyArg_ParseTuple(args, "OOdiLdOO:tucker", &x, &ranks_obj, &eps, &method, &n_iter_max,
                          &tol, &callback, &empty)
        || check_callable(st, callback, "callback", 1) < 0
        || check_callable(st, empty, "empty", 0) < 0) {
        return NULL;
    }
    int dtype = -1;
    tensor_list tl;
    if (tensors_acquire(st, x, 1, "x", &dtype, &tl) < 0) {
        return NULL;
    }
    int64_t *ranks = NULL;
    PyObject *result = NULL;
    if (read_int_list(st, ranks_obj, "rank", (Py_ssize_t)tl.tensors[0].ndim, &ranks) < 0) {
        goto done;
    }
    progress_state ps = {callback, NULL, NULL, NULL};
    tn_decomposition *h = NULL;
    tn_status s;
    Py_BEGIN_ALLOW_THREADS
    s = tn_tucker((tn_dtype)dtype, &tl.tensors[0], ranks, eps, method, (int64_t)n_iter_max, tol,
                  progress_trampoline, &ps, &h);
    Py_END_ALLOW_THREADS
    if (finish_status(st, &ps, s) == 0) {
        result = collect_result(st, h, dtype, empty);
    }
    else if (h != NULL) {
        tn_decomposition_destroy(h);
    }
done:
    PyMem_Free(ranks);
    tensors_release(&tl);
    return result;
}

/* ------------------------------------------------------------------------- */
/* Layers: the Layer object (a tn_layer handle) and LayerBuffer, a writable    */
/* buffer exporter over one parameter or gradient that keeps its Layer alive. */
/* ------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    tn_layer *layer;
    int dtype;
} LayerObject;

typedef struct {
    PyObject_HEAD
    PyObject *owner;          /* the LayerObject whose storage `data` points into */
    void *data;
    int dtype;
    int ndim;
    Py_ssize_t shape[TN_MAX_DIMS];
    Py_ssize_t strides[TN_MAX_DIMS];
    Py_ssize_t len;           /* bytes */
} LayerBufferObject;

static inline tn_module_state *
layer_state(PyObject *self)
{
    return (tn_module_state *)PyType_GetModuleState(Py_TYPE(self));
}

/* One buffer argument bound into a tn_tensor; writable when `out`. */
typedef struct {
    Py_buffer view;
    int64_t dims[2 * TN_MAX_DIMS];
    tn_tensor t;
    int held;
} layer_arg;

static int
layer_arg_get(tn_module_state *st, PyObject *obj, int out, const char *what, int *dtype,
              layer_arg *a)
{
    a->held = 0;
    int flags = PyBUF_STRIDES | PyBUF_FORMAT | (out ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, &a->view, flags) < 0) {
        reraise_as(out ? st->ArgumentError : st->DTypeError,
                   PyUnicode_FromFormat("%s (type %.200s) is not a %sfloat32 or float64 array", what,
                                        Py_TYPE(obj)->tp_name, out ? "writable " : ""));
        return -1;
    }
    a->held = 1;
    return bind_input(st, &a->view, a->dims, &a->t, dtype, what, 0);
}

static void
layer_arg_release(layer_arg *a)
{
    if (a->held) {
        PyBuffer_Release(&a->view);
        a->held = 0;
    }
}

/* Fails cleanly (TNError) on a Layer made without a handle (Layer() called directly). */
static int
layer_check(LayerObject *self)
{
    if (self->layer == NULL) {
        PyErr_SetString(layer_state((PyObject *)self)->TNError,
                        "this Layer has no tn_layer handle (make layers with tnswift.nn)");
        return -1;
    }
    return 0;
}

static void
Layer_dealloc(LayerObject *self)
{
    PyTypeObject *type = Py_TYPE(self);
    if (self->layer != NULL) {
        tn_layer_destroy(self->layer);
    }
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

static PyObject *
layer_wrap(tn_module_state *st, tn_layer *handle)
{
    tn_layer_info info;
    tn_status s = tn_layer_info_get(handle, &info);
    if (s != TN_OK) {
        tn_layer_destroy(handle);
        return raise_status(st, s);
    }
    LayerObject *self = PyObject_New(LayerObject, st->LayerType);
    if (self == NULL) {
        tn_layer_destroy(handle);
        return NULL;
    }
    self->layer = handle;
    self->dtype = info.dtype;
    return (PyObject *)self;
}

static PyObject *
Layer_info(LayerObject *self, PyObject *Py_UNUSED(ignored))
{
    tn_module_state *st = layer_state((PyObject *)self);
    if (layer_check(self) < 0) {
        return NULL;
    }
    tn_layer_info info;
    tn_status s = tn_layer_info_get(self->layer, &info);
    if (s != TN_OK) {
        return raise_status(st, s);
    }
    int64_t in_modes[TN_MAX_DIMS], out_modes[TN_MAX_DIMS];
    s = tn_layer_modes(self->layer, in_modes, TN_MAX_DIMS, out_modes, TN_MAX_DIMS);
    if (s != TN_OK) {
        return raise_status(st, s);
    }
    PyObject *ins = shape_tuple_i64(in_modes, (Py_ssize_t)info.n_in_modes);
    PyObject *outs = ins ? shape_tuple_i64(out_modes, (Py_ssize_t)info.n_out_modes) : NULL;
    PyObject *d = NULL;
    if (outs != NULL) {
        d = Py_BuildValue("{s:i,s:s,s:L,s:L,s:O,s:O,s:L,s:L,s:d,s:O}", "kind", (int)info.kind,
                          "dtype", dtype_names[info.dtype], "in_features", (long long)info.in_features,
                          "out_features", (long long)info.out_features, "in_modes", ins,
                          "out_modes", outs, "n_params", (long long)info.n_params,
                          "parameter_count", (long long)info.parameter_count, "compression",
                          info.compression, "has_bias", info.has_bias ? Py_True : Py_False);
    }
    Py_XDECREF(ins);
    Py_XDECREF(outs);
    return d;
}

/* A LayerBuffer over one parameter or gradient of a layer or convolution (`owner`, kept
   alive by the buffer), laid out C-contiguous as tn_layer_param describes it. */
static PyObject *
param_buffer_new(tn_module_state *st, PyObject *owner, int dtype, void *data, const tn_layer_param *p)
{
    LayerBufferObject *b = PyObject_New(LayerBufferObject, st->LayerBufferType);
    if (b == NULL) {
        return NULL;
    }
    Py_INCREF(owner);
    b->owner = owner;
    b->data = data;
    b->dtype = dtype;
    b->ndim = (int)p->ndim;
    Py_ssize_t item = dtype_itemsizes[dtype], step = item;
    for (int d = b->ndim - 1; d >= 0; d--) {
        b->shape[d] = (Py_ssize_t)p->shape[d];
        b->strides[d] = step;
        step *= b->shape[d] > 0 ? b->shape[d] : 1;
    }
    b->len = (Py_ssize_t)p->size * item;
    return (PyObject *)b;
}

/* tn_layer_param_get, or a handle object's param_get (handle_param_get), on the owner's handle. */
typedef tn_status (*param_getter)(PyObject *owner, int64_t i, tn_layer_param *p);

/* [(name, data, grad)] for n parameters: data and grad export the owner's own memory. */
static PyObject *
param_list(tn_module_state *st, PyObject *owner, int dtype, int64_t n, param_getter get)
{
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (int64_t i = 0; list != NULL && i < n; i++) {
        tn_layer_param p;
        tn_status s = get(owner, i, &p);
        if (s != TN_OK) {
            Py_CLEAR(list);
            return raise_status(st, s);
        }
        if (p.ndim > TN_MAX_DIMS) {
            Py_CLEAR(list);
            PyErr_Format(st->ShapeError, "parameter %s has %lld dimensions", p.name, (long long)p.ndim);
            return NULL;
        }
        PyObject *data = param_buffer_new(st, owner, dtype, p.data, &p);
        PyObject *grad = data ? param_buffer_new(st, owner, dtype, p.grad, &p) : NULL;
        if (grad == NULL) {
            Py_XDECREF(data);
            Py_CLEAR(list);
            return NULL;
        }
        /* "N" hands both references over, also when building the tuple fails. */
        PyObject *item = Py_BuildValue("(sNN)", p.name, data, grad);
        if (item == NULL) {
            Py_CLEAR(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, item);
    }
    return list;
}

static tn_status
layer_param_get(PyObject *owner, int64_t i, tn_layer_param *p)
{
    return tn_layer_param_get(((LayerObject *)owner)->layer, i, p);
}

/* [(name, data, grad)]: data and grad export the layer's own memory (LayerBuffer). */
static PyObject *
Layer_parameters(LayerObject *self, PyObject *Py_UNUSED(ignored))
{
    tn_module_state *st = layer_state((PyObject *)self);
    if (layer_check(self) < 0) {
        return NULL;
    }
    tn_layer_info info;
    tn_status s = tn_layer_info_get(self->layer, &info);
    if (s != TN_OK) {
        return raise_status(st, s);
    }
    return param_list(st, (PyObject *)self, self->dtype, info.n_params, layer_param_get);
}

static PyObject *
Layer_forward(LayerObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    tn_module_state *st = layer_state((PyObject *)self);
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "forward() takes 2 arguments (x, y), got %zd", nargs);
        return NULL;
    }
    if (layer_check(self) < 0) {
        return NULL;
    }
    int dtype = -1;
    layer_arg x, y;
    y.held = 0;
    PyObject *result = NULL;
    if (layer_arg_get(st, args[0], 0, "x", &dtype, &x) < 0
        || layer_arg_get(st, args[1], 1, "y", &dtype, &y) < 0) {
        goto done;
    }
    tn_status s;
    interrupt_state is;
    interrupt_begin(&is);
    Py_BEGIN_ALLOW_THREADS
    s = tn_layer_forward(self->layer, (tn_dtype)dtype, &x.t, &y.t);
    Py_END_ALLOW_THREADS
    if (interrupt_end(st, &is, s) < 0) {
        goto done;
    }
    Py_INCREF(Py_None);
    result = Py_None;
done:
    layer_arg_release(&x);
    layer_arg_release(&y);
    return result;
}

static PyObject *
Layer_backward(LayerObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    tn_module_state *st = layer_state((PyObject *)self);
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "backward() takes 3 arguments (dy, x, dx), got %zd", nargs);
        return NULL;
    }
    if (layer_check(self) < 0) {
        return NULL;
    }
    int dtype = -1;
    layer_arg dy, x, dx;
    x.held = dx.held = 0;
    PyObject *result = NULL;
    int want_dx = args[2] != Py_None;
    if (layer_arg_get(st, args[0], 0, "dy", &dtype, &dy) < 0
        || layer_arg_get(st, args[1], 0, "x", &dtype, &x) < 0
        || (want_dx && layer_arg_get(st, args[2], 1, "dx", &dtype, &dx) < 0)) {
        goto done;
    }
    tn_status s;
    interrupt_state is;
    interrupt_begin(&is);
    Py_BEGIN_ALLOW_THREADS
    s = tn_layer_backward(self->layer, (tn_dtype)dtype, &dy.t, &x.t, want_dx ? &dx.t : NULL);
    Py_END_ALLOW_THREADS
    if (interrupt_end(st, &is, s) < 0) {
        goto done;
    }
    Py_INCREF(Py_None);
    result = Py_None;
done:
    layer_arg_release(&dy);
    layer_arg_release(&x);
    layer_arg_release(&dx);
    return result;
}

static PyObject *
Layer_dense_weight(LayerObject *self, PyObject *out)
{
    tn_module_state *st = layer_state((PyObject *)self);
    if (layer_check(self) < 0) {
        return NULL;
    }
    int dtype = -1;
    layer_arg w;
    PyObject *result = NULL;
    if (layer_arg_get(st, out, 1, "out", &dtype, &w) < 0) {
        goto done;
    }
    tn_status s;
    Py_BEGIN_ALLOW_THREADS
    s = tn_layer_dense_weight(self->layer, (tn_dtype)dtype, &w.t);
    Py_END_ALLOW_THREADS
    if (s != TN_OK) {
        raise_status(st, s);
        goto done;
    }
    Py_INCREF(Py_None);
    result = Py_None;
done:
    layer_arg_release(&w);
    return result;
}

/* (numbers as a dict, the printable report) for one batch size. */
static PyObject *
Layer_plan_report(LayerObject *self, PyObject *arg)
{
    tn_module_state *st = layer_state((PyObject *)self);
    if (layer_check(self) < 0) {
        return NULL;
    }
    long long batch = PyLong_AsLongLong(arg);
    if (batch == -1 && PyErr_Occurred()) {
        return NULL;
    }
    tn_layer_report r;
    size_t needed = 0;
    tn_status s;
    Py_BEGIN_ALLOW_THREADS
    s = tn_layer_plan_report(self->layer, (int64_t)batch, &r, NULL, 0, &needed);
    Py_END_ALLOW_THREADS
    if (s != TN_OK) {
        return raise_status(st, s);
    }
    char *text = PyMem_Malloc(needed + 1);
    if (text == NULL) {
        return PyErr_NoMemory();
    }
    s = tn_layer_plan_report(self->layer, (int64_t)batch, NULL, text, needed + 1, NULL);
    PyObject *result = NULL;
    if (s != TN_OK) {
        raise_status(st, s);
    }
    else {
        result = Py_BuildValue("({s:L,s:d,s:d,s:O,s:L,s:L,s:L}s)", "batch", (long long)r.batch,
                               "flops", r.flops, "dense_flops", r.dense_flops, "reconstructs_weight",
                               r.reconstructs_weight ? Py_True : Py_False, "largest_intermediate",
                               (long long)r.largest_intermediate, "parameter_bytes",
                               (long long)r.parameter_bytes, "dense_bytes", (long long)r.dense_bytes,
                               text);
    }
    PyMem_Free(text);
    return result;
}

static PyObject *
Layer_describe(LayerObject *self, PyObject *Py_UNUSED(ignored))
{
    tn_module_state *st = layer_state((PyObject *)self);
    if (layer_check(self) < 0) {
        return NULL;
    }
    size_t needed = 0;
    tn_status s = tn_layer_describe(self->layer, NULL, 0, &needed);
    if (s != TN_OK) {
        return raise_status(st, s);
    }
    char *text = PyMem_Malloc(needed + 1);
    if (text == NULL) {
        return PyErr_NoMemory();
    }
    s = tn_layer_describe(self->layer, text, needed + 1, NULL);
    PyObject *result = s == TN_OK ? PyUnicode_FromString(text) : raise_status(st, s);
    PyMem_Free(text);
    return result;
}

static PyMethodDef Layer_methods[] = {
    {"describe", (PyCFunction)Layer_describe, METH_NOARGS,
     "describe()\n--\n\nThe layer's configuration as JSON, as a model file stores it."},
    {"info", (PyCFunction)Layer_info, METH_NOARGS,
     "info()\n--\n\nA dict: kind, dtype, in/out features and modes, n_params, parameter_count,\n"
     "compression, has_bias."},
    {"parameters", (PyCFunction)Layer_parameters, METH_NOARGS,
     "parameters()\n--\n\n[(name, data, grad)]: buffers over the layer's own storage (bias last)."},
    {"forward", (PyCFunction)(void (*)(void))Layer_forward, METH_FASTCALL,
     "forward(x, y, /)\n--\n\ny = x @ W + b (the GIL is released)."},
    {"backward", (PyCFunction)(void (*)(void))Layer_backward, METH_FASTCALL,
     "backward(dy, x, dx, /)\n--\n\nFills the parameter gradients and dx (None to skip)."},
    {"dense_weight", (PyCFunction)Layer_dense_weight, METH_O,
     "dense_weight(out, /)\n--\n\nWrites W (in_features, out_features) into out."},
    {"plan_report", (PyCFunction)Layer_plan_report, METH_O,
     "plan_report(batch, /)\n--\n\n(numbers, text) of the forward plan for `batch`."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot Layer_slots[] = {
    {Py_tp_doc, "A tn_layer handle (made by layer_create / layer_from_dense; see tnswift.nn)."},
    {Py_tp_dealloc, Layer_dealloc},
    {Py_tp_methods, Layer_methods},
    {0, NULL},
};

static PyType_Spec Layer_spec = {
    .name = "tnswift._ext.Layer",
    .basicsize = sizeof(LayerObject),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = Layer_slots,
};

static void
LayerBuffer_dealloc(LayerBufferObject *self)
{
    PyTypeObject *type = Py_TYPE(self);
    Py_XDECREF(self->owner);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

static int
LayerBuffer_getbuffer(LayerBufferObject *self, Py_buffer *view, int flags)
{
    static double empty_storage; /* a valid pointer for parameters with no elements */
    view->buf = self->data != NULL ? self->data : (void *)&empty_storage;
    Py_INCREF(self);
    view->obj = (PyObject *)self;
    view->len = self->len;
    view->readonly = 0;
    view->itemsize = dtype_itemsizes[self->dtype];
    view->format = (flags & PyBUF_FORMAT) ? (self->dtype == TN_FLOAT32 ? "f" : "d") : NULL;
    view->ndim = self->ndim;
    /* C-contiguous, so shape and strides may be given whatever the request. */
    view->shape = (flags & PyBUF_ND) == PyBUF_ND ? self->shape : NULL;
    view->strides = (flags & PyBUF_STRIDES) == PyBUF_STRIDES ? self->strides : NULL;
    view->suboffsets = NULL;
    view->internal = NULL;
    if (view->shape == NULL) {
        view->ndim = 1; /* a flat byte-count view, as PEP 3118 asks without PyBUF_ND */
    }
    return 0;
}

static PyObject *
LayerBuffer_get_owner(LayerBufferObject *self, void *Py_UNUSED(closure))
{
    Py_INCREF(self->owner);
    return self->owner;
}

static PyGetSetDef LayerBuffer_getset[] = {
    {"owner", (getter)LayerBuffer_get_owner, NULL, "The Layer whose storage this is.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot LayerBuffer_slots[] = {
    {Py_tp_doc, "A writable buffer over one parameter or gradient of a Layer (keeps it alive)."},
    {Py_tp_dealloc, LayerBuffer_dealloc},
    {Py_tp_getset, LayerBuffer_getset},
    {Py_bf_getbuffer, LayerBuffer_getbuffer},
    {0, NULL},
};

static PyType_Spec LayerBuffer_spec = {
    .name = "tnswift._ext.LayerBuffer",
    .basicsize = sizeof(LayerBufferObject),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = LayerBuffer_slots,
};

/* layer_create(kind, dtype, in_modes, out_modes, ranks, equation, param_shapes, bias, seed) */
static PyObject *
mod_layer_create(PyObject *module, PyObject *args)
{
    tn_module_state *st = module_state(module);
    int kind, dtype, bias;
    PyObject *in_obj, *out_obj, *ranks_obj, *eq_obj, *shapes_obj;
    unsigned long long seed;
    if (!PyArg_ParseTuple(args, "iiOOOOOpK:layer_create", &kind, &dtype, &in_obj, &out_obj,
                          &ranks_obj, &eq_obj, &shapes_obj, &bias, &seed)) {
        return NULL;
    }
    int64_t *ins = NULL, *outs = NULL, *ranks = NULL, *flat = NULL, *ndims = NULL;
    const int64_t **rows = NULL;
    Py_ssize_t n_in = 0, n_out = 0, n_ranks = 0, n_params = 0;
    PyObject *result = NULL;
    tn_layer_config c;
    memset(&c, 0, sizeof c);
    if (read_int_list(st, in_obj, "in_modes", -1, &ins) < 0
        || read_int_list(st, out_obj, "out_modes", -1, &outs) < 0
        || read_int_list(st, ranks_obj, "ranks", -1, &ranks) < 0) {
        goto done;
    }
    n_in = in_obj == Py_None ? 0 : PySequence_Size(in_obj);
    n_out = out_obj == Py_None ? 0 : PySequence_Size(out_obj);
    n_ranks = ranks_obj == Py_None ? 0 : PySequence_Size(ranks_obj);
    if (shapes_obj != Py_None) {
        if (read_int_table(st, shapes_obj, "param_shapes", &n_params, &ndims, &flat) < 0) {
            goto done;
        }
        rows = row_pointers(flat, ndims, n_params);
        if (rows == NULL) {
            goto done;
        }
    }
    c.kind = kind;
    c.dtype = dtype;
    c.n_in_modes = n_in;
    c.in_modes = ins;
    c.n_out_modes = n_out;
    c.out_modes = outs;
    c.n_ranks = n_ranks;
    c.ranks = ranks;
    if (eq_obj != Py_None) {
        c.equation = PyUnicode_AsUTF8(eq_obj);
        if (c.equation == NULL) {
            goto done;
        }
    }
    c.n_params = n_params;
    c.param_ndims = ndims;
    c.param_shapes = rows;
    c.bias = bias;
    c.seed = (uint64_t)seed;
    tn_layer *handle = NULL;
    tn_status s;
    Py_BEGIN_ALLOW_THREADS
    s = tn_layer_create(&c, &handle);
    Py_END_ALLOW_THREADS
    if (s != TN_OK) {
        raise_status(st, s);
        goto done;
    }
    result = layer_wrap(st, handle);
done:
    PyMem_Free(ins);
    PyMem_Free(outs);
    PyMem_Free(ranks);
    PyMem_Free(flat);
    PyMem_Free(ndims);
    PyMem_Free((void *)rows);
    return result;
}

/* layer_from_dense(kind, weight, bias, in_modes, out_modes, rank, eps, budget, n_iter_max,
   tol): negative rank / eps / budget mean "not given", n_iter_max <= 0 and tol < 0 the
   defaults; the dtype is the weight's. */
static PyObject *
mod_layer_from_dense(PyObject *module, PyObject *args)
{
    tn_module_state *st = module_state(module);
    int kind;
    PyObject *w_obj, *b_obj, *in_obj, *out_obj;
    long long rank, budget, n_iter_max;
    double eps, tol;
    if (!PyArg_ParseTuple(args, "iOOOOLdLLd:layer_from_dense", &kind, &w_obj, &b_obj, &in_obj,
                          &out_obj, &rank, &eps, &budget, &n_iter_max, &tol)) {
        return NULL;
    }
    int dtype = -1;
    layer_arg w, b;
    b.held = 0;
    int64_t *ins = NULL, *outs = NULL;
    PyObject *result = NULL;
    if (layer_arg_get(st, w_obj, 0, "weight", &dtype, &w) < 0
        || (b_obj != Py_None && layer_arg_get(st, b_obj, 0, "bias", &dtype, &b) < 0)
        || read_int_list(st, in_obj, "in_modes", -1, &ins) < 0
        || read_int_list(st, out_obj, "out_modes", -1, &outs) < 0) {
        goto done;
    }
    int64_t n_in = in_obj == Py_None ? 0 : (int64_t)PySequence_Size(in_obj);
    int64_t n_out = out_obj == Py_None ? 0 : (int64_t)PySequence_Size(out_obj);
    tn_layer *handle = NULL;
    tn_status s;
    Py_BEGIN_ALLOW_THREADS
    s = tn_layer_from_dense((tn_layer_kind)kind, (tn_dtype)dtype, &w.t, b_obj == Py_None ? NULL : &b.t,
                            n_in, ins, n_out, outs, (int64_t)rank, eps, (int64_t)budget,
                            (int64_t)n_iter_max, tol, &handle);
    Py_END_ALLOW_THREADS
    if (s != TN_OK) {
        raise_status(st, s);
        goto done;
    }
    result = layer_wrap(st, handle);
done:
    layer_arg_release(&w);
    layer_arg_release(&b);
    PyMem_Free(ins);
    PyMem_Free(outs);
    return result;
}

/* ------------------------------------------------------------------------- */
/* Handle objects: Conv, Embedding, RNN, FeedForward and Attention share one */
/* layout (a library handle and its dtype) and the code around it; each type */
/* describes its handle with a handle_ops of small adapters.                 */
/* ------------------------------------------------------------------------- */

typedef struct {
    const char *missing;  /* the TNError message for an object without a handle */
    void (*destroy)(void *handle);
    tn_status (*param_get)(const void *handle, int64_t i, tn_layer_param *p);
    /* n_params and dtype from the handle's info */
    tn_status (*info)(const void *handle, int64_t *n_params, int *dtype);
} handle_ops;

typedef struct {
    PyObject_HEAD
    void *handle;
    int dtype;
    const handle_ops *ops;  /* set together with the handle */
} HandleObject;

static int
handle_check(HandleObject *self, const handle_ops *ops)
{
    if (self->handle == NULL) {
        PyErr_SetString(layer_state((PyObject *)self)->TNError, ops->missing);
        return -1;
    }
    return 0;
}

static void
handle_dealloc(HandleObject *self)
{
    PyTypeObject *type = Py_TYPE(self);
    if (self->handle != NULL) {
        self->ops->destroy(self->handle);
    }
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

/* A new object of type owning handle; the handle is destroyed on failure. */
static PyObject *
handle_wrap(tn_module_state *st, PyTypeObject *type, const handle_ops *ops, void *handle)
{
    int64_t n_params;
    int dtype;
    tn_status s = ops->info(handle, &n_params, &dtype);
    if (s != TN_OK) {
        ops->destroy(handle);
        return raise_status(st, s);
    }
    HandleObject *self = PyObject_New(HandleObject, type);
    if (self == NULL) {
        ops->destroy(handle);
        return NULL;
    }
    self->handle = handle;
    self->dtype = dtype;
    self->ops = ops;
    return (PyObject *)self;
}

static tn_status
handle_param_get(PyObject *owner, int64_t i, tn_layer_param *p)
{
    HandleObject *self = (HandleObject *)owner;
    return self->ops->param_get(self->handle, i, p);
}

/* [(name, data, grad)]: data and grad export the handle's own memory (LayerBuffers whose owner
   is self). */
static PyObject *
handle_parameters(HandleObject *self, const handle_ops *ops)
{
    tn_module_state *st = layer_state((PyObject *)self);
    if (handle_check(self, ops) < 0) {
        return NULL;
    }
    int64_t n_params;
    int dtype;
    tn_status s = ops->info(self->handle, &n_params, &dtype);
    if (s != TN_OK) {
        return raise_status(st, s);
    }
    return param_list(st, (PyObject *)self, self->dtype, n_params, handle_param_get);
}

/* ------------------------------------------------------------------------- */
/* Convolutions: the Conv object (a tn_conv handle). Its parameters and       */
/* gradients are LayerBuffers whose owner is the Conv.                        */
/* ------------------------------------------------------------------------- */

static void
conv_destroy(void *handle)
{
    tn_conv_destroy(handle);
}

static tn_status
conv_param_get(const void *handle, int64_t i, tn_layer_param *p)
{
    return tn_conv_param_get(handle, i, p);
}

static tn_status
conv_info(const void *handle, int64_t *n_params, int *dtype)
{
    tn_conv_info info;
    tn_status s = tn_conv_info_get(handle, &info);
    if (s == TN_OK) {
        *n_params = info.n_params;
        *dtype = info.dtype;
    }
    return s;
}

static const handle_ops conv_ops = {
    .missing = "this Conv has no tn_conv handle (make convolutions with tnswift.nn)",
    .destroy = conv_destroy,
    .param_get = conv_param_get,
    .info = conv_info,
};

static PyObject *
Conv_info(HandleObject *self, PyObject *Py_UNUSED(ignored))
{
    tn_module_state *st = layer_state((PyObject *)self);
    if (handle_check(self, &conv_ops) < 0) {
        return NULL;
    }
    tn_conv_info i;
    tn_status s = tn_conv_info_get(self->handle, &i);
    if (s != TN_OK) {
        return raise_status(st, s);
    }
    return Py_BuildValue("{s:i,s:s,s:L,s:L,s:(LL),s:(LL),s:(LL),s:(LLLL),s:i,s:O,s:L,s:L,s:d}",
                         "kind", (int)i.kind, "dtype", dtype_names[i.dtype],
                         "in_channels", (long long)i.in_channels, "out_channels", (long long)i.out_channels,
                         "kernel_size", (long long)i.kernel_size[0], (long long)i.kernel_size[1],
                         "stride", (long long)i.stride[0], (long long)i.stride[1],
                         "dilation", (long long)i.dilation[0], (long long)i.dilation[1],
                         "padding", (long long)i.padding[0], (long long)i.padding[1],
                         (long long)i.padding[2], (long long)i.padding[3],
                         "padding_mode", (int)i.padding_mode, "has_bias", i.has_bias ? Py_True : Py_False,
                         "n_params", (long long)i.n_params, "parameter_count", (long long)i.parameter_count,
                         "compression", i.compression);
}

/* [(name, data, grad)]: data and grad export the convolution's own memory. */
static PyObject *
Conv_parameters(HandleObject *self, PyObject *Py_UNUSED(ignored))
{
    return handle_parameters(self, &conv_ops);
}

/* output_shape((n, c, h, w)) -> (n, o, h', w') */
static PyObject *
Conv_output_shape(HandleObject *self, PyObject *arg)
{
    tn_module_state *st = layer_state((PyObject *)self);
    if (handle_check(self, &conv_ops) < 0) {
        return NULL;
    }
    int64_t *in = NULL;
    if (arg == Py_None) {
        PyErr_SetString(st->ArgumentError, "the input shape is None");
        return NULL;
    }
    if (read_int_list(st, arg, "the input shape", 4, &in) < 0) {
        return NULL;
    }
    int64_t out[4];
    tn_status s = tn_conv_output_shape(self->handle, in, out);
    PyMem_Free(in);
    if (s != TN_OK) {
        return raise_status(st, s);
    }
    return shape_tuple_i64(out, 4);
}

static PyObject *
Conv_forward(HandleObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    tn_module_state *st = layer_state((PyObject *)self);
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "forward() takes 2 arguments (x, y), got %zd", nargs);
        return NULL;
    }
    if (handle_check(self, &conv_ops) < 0) {
        return NULL;
    }
    int dtype = -1;
    layer_arg x, y;
    x.held = y.held = 0;
    PyObject *result = NULL;
    if (layer_arg_get(st, args[0], 0, "x", &dtype, &x) < 0
        || layer_arg_get(st, args[1], 1, "y", &dtype, &y) < 0) {
        goto done;
    }
    tn_status s;
    Py_BEGIN_ALLOW_THREADS
    s = tn_conv_forward(self->handle, (tn_dtype)dtype, &x.t, &y.t);
    Py_END_ALLOW_THREADS
    if (s != TN_OK) {
        raise_status(st, s);
        goto done;
    }
    Py_INCREF(Py_None);
    result = Py_None;
done:
    layer_arg_release(&x);
    layer_arg_release(&y);
    return result;
}

static PyObject *
Conv_backward(HandleObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    tn_module_state *st = layer_state((PyObject *)self);
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "backward() takes 3 arguments (dy, x, dx), got %zd", nargs);
        return NULL;
    }
    if (handle_check(self, &conv_ops) < 0) {
        return NULL;
    }
    int dtype = -1;
    layer_arg dy, x, dx;
    dy.held = x.held = dx.held = 0;
    PyObject *result = NULL;
    int want_dx = args[2] != Py_None;
    if (layer_arg_get(st, args[0], 0, "dy", &dtype, &dy) < 0
        || layer_arg_get(st, args[1], 0, "x", &dtype, &x) < 0
        || (want_dx && layer_arg_get(st, args[2], 1, "dx", &dtype, &dx) < 0)) {
        goto done;
    }
    tn_status s;
    Py_BEGIN_ALLOW_THREADS
    s = tn_conv_backward(self->handle, (tn_dtype)dtype, &dy.t, &x.t, want_dx ? &dx.t : NULL);
    Py_END_ALLOW_THREADS
    if (s != TN_OK) {
        raise_status(st, s);
        goto done;
    }
    Py_INCREF(Py_None);
    result = Py_None;
done:
    layer_arg_release(&dy);
    layer_arg_release(&x);
    layer_arg_release(&dx);
    return result;
}

static PyObject *
Conv_dense_kernel(HandleObject *self, PyObject *out)
{
    tn_module_state *st = layer_state((PyObject *)self);
    if (handle_check(self, &conv_ops) < 0) {
        return NULL;
    }
    int dtype = -1;
    layer_arg k;
    PyObject *result = NULL;
    if (layer_arg_get(st, out, 1, "out", &dtype, &k) < 0) {
        goto done;
    }
    tn_status s;
    Py_BEGIN_ALLOW_THREADS
    s = tn_conv_dense_kernel(self->handle, (tn_dtype)dtype, &k.t);
    Py_END_ALLOW_THREADS
    if (s != TN_OK) {
        raise_status(st, s);
        goto done;
    }
    Py_INCREF(Py_None);
    result = Py_None;
done:
    layer_arg_release(&k);
    return result;
}

static PyMethodDef Conv_methods[] = {
    {"info", (PyCFunction)Conv_info, METH_NOARGS,
     "info()\n--\n\nA dict: kind, dtype, channels, kernel_size, stride, dilation, padding (top,\n"
     "bottom, left, right as applied), padding_mode, has_bias, n_params, parameter_count,\n"
     "compression."},
    {"parameters", (PyCFunction)Conv_parameters, METH_NOARGS,
     "parameters()\n--\n\n[(name, data, grad)]: buffers over the convolution's own storage (bias last)."},
    {"output_shape", (PyCFunction)Conv_output_shape, METH_O,
     "output_shape(input_shape, /)\n--\n\n(N, O, H', W') for an input (N, C, H, W)."},
    {"forward", (PyCFunction)(void (*)(void))Conv_forward, METH_FASTCALL,
     "forward(x, y, /)\n--\n\ny = conv2d(x, K) + b (the GIL is released)."},
    {"backward", (PyCFunction)(void (*)(void))Conv_backward, METH_FASTCALL,
     "backward(dy, x, dx, /)\n--\n\nFills the parameter gradients and dx (None to skip)."},
    {"dense_kernel", (PyCFunction)Conv_dense_kernel, METH_O,
     "dense_kernel(out, /)\n--\n\nWrites K (out_channels, in_channels, kh, kw) into out."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot Conv_slots[] = {
    {Py_tp_doc, "A tn_conv handle (made by conv_create / conv_from_dense; see tnswift.nn)."},
    {Py_tp_dealloc, handle_dealloc},
    {Py_tp_methods, Conv_methods},
    {0, NULL},
};

static PyType_Spec Conv_spec = {
    .name = "tnswift._ext.Conv",
    .basicsize = sizeof(HandleObject),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = Conv_slots,
};

/* Fills the window, modes and ranks of a tn_conv_config; the int64 lists are PyMem blocks
   the caller frees (conv_lists_free). */
typedef struct {
    int64_t *k, *stride, *dilation, *padding, *ins, *outs, *ranks;
} conv_lists;

static void
conv_lists_free(conv_lists *l)
{
    PyMem_Free(l->k);
    PyMem_Free(l->stride);
    PyMem_Free(l->dilation);
    PyMem_Free(l->padding);
    PyMem_Free(l->ins);
    PyMem_Free(l->outs);
    PyMem_Free(l->ranks);
}

static int
conv_config_fill(tn_module_state *st, tn_conv_config *c, conv_lists *l, PyObject *k_obj, PyObject *stride_obj,
                 PyObject *dilation_obj, PyObject *padding_obj, PyObject *in_obj, PyObject *out_obj,
                 PyObject *ranks_obj)
{
    memset(l, 0, sizeof *l);
    if (read_int_list(st, k_obj, "kernel_size", 2, &l->k) < 0
        || read_int_list(st, stride_obj, "stride", 2, &l->stride) < 0
        || read_int_list(st, dilation_obj, "dilation", 2, &l->dilation) < 0
        || read_int_list(st, padding_obj, "padding", 2, &l->padding) < 0
        || read_int_list(st, in_obj, "in_modes", -1, &l->ins) < 0
        || read_int_list(st, out_obj, "out_modes", -1, &l->outs) < 0
        || read_int_list(st, ranks_obj, "ranks", -1, &l->ranks) < 0) {
        return -1;
    }
    if (l->stride == NULL || l->dilation == NULL || l->padding == NULL) {
        PyErr_SetString(st->ArgumentError, "stride, dilation and padding must be pairs of integers");
        return -1;
    }
    if (l->k != NULL) {
        c->kernel_size[0] = l->k[0];
        c->kernel_size[1] = l->k[1];
    }
    c->stride[0] = l->stride[0];
    c->stride[1] = l->stride[1];
    c->dilation[0] = l->dilation[0];
    c->dilation[1] = l->dilation[1];
    c->padding[0] = l->padding[0];
    c->padding[1] = l->padding[1];
    c->n_in_modes = in_obj == Py_None ? 0 : PySequence_Size(in_obj);
    c->in_modes = l->ins;
    c->n_out_modes = out_obj == Py_None ? 0 : PySequence_Size(out_obj);
    c->out_modes = l->outs;
    c->n_ranks = ranks_obj == Py_None ? 0 : PySequence_Size(ranks_obj);
    c->ranks = l->ranks;
    return 0;
}

/* conv_create(kind, dtype, in_channels, out_channels, kernel_size, stride, dilation, padding,
               padding_mode, in_modes, out_modes, ranks, bias, seed) */
static PyObject *
mod_conv_create(PyObject *module, PyObject *args)
{
    tn_module_state *st = module_state(module);
    int kind, dtype, padding_mode, bias;
    long long cin, cout;
    PyObject *k_obj, *stride_obj, *dilation_obj, *padding_obj, *in_obj, *out_obj, *ranks_obj;
    unsigned long long seed;
    if (!PyArg_ParseTuple(args, "iiLLOOOOiOOOpK:conv_create", &kind, &dtype, &cin, &cout, &k_obj, &stride_obj,
                          &dilation_obj, &padding_obj, &padding_mode, &in_obj, &out_obj, &ranks_obj, &bias, &seed)) {
        return NULL;
    }
    tn_conv_config c;
    memset(&c, 0, sizeof c);
    conv_lists l;
    PyObject *result = NULL;
    if (conv_config_fill(st, &c, &l, k_obj, stride_obj, dilation_obj, padding_obj, in_obj, out_obj, ranks_obj) < 0) {
        goto done;
    }
    c.kind = kind;
    c.dtype = dtype;
    c.in_channels = (int64_t)cin;
    c.out_channels = (int64_t)cout;
    c.padding_mode = padding_mode;
    c.bias = bias;
    c.seed = (uint64_t)seed;
    tn_conv *handle = NULL;
    tn_status s;
    Py_BEGIN_ALLOW_THREADS
    s = tn_conv_create(&c, &handle);
    Py_END_ALLOW_THREADS
    if (s != TN_OK) {
        raise_status(st, s);
        goto done;
    }
    result = handle_wrap(st, st->ConvType, &conv_ops, handle);
done:
    conv_lists_free(&l);
    return result;
}

/* conv_from_dense(kind, kernel, bias, stride, dilation, padding, padding_mode, in_modes,
                   out_modes, ranks, eps, n_iter_max): eps < 0 means not given; the dtype is
   the kernel's. */
static PyObject *
mod_conv_from_dense(PyObject *module, PyObject *args)
{
    tn_module_state *st = module_state(module);
    int kind, padding_mode;
    PyObject *k_obj, *b_obj, *stride_obj, *dilation_obj, *padding_obj, *in_obj, *out_obj, *ranks_obj;
    double eps;
    long long n_iter_max;
    if (!PyArg_ParseTuple(args, "iOOOOOiOOOdL:conv_from_dense", &kind, &k_obj, &b_obj, &stride_obj, &dilation_obj,
                          &padding_obj, &padding_mode, &in_obj, &out_obj, &ranks_obj, &eps, &n_iter_max)) {
        return NULL;
    }
    int dtype = -1;
    layer_arg k, b;
    k.held = b.held = 0;
    tn_conv_config c;
    memset(&c, 0, sizeof c);
    conv_lists l;
    memset(&l, 0, sizeof l);
    PyObject *result = NULL;
    if (layer_arg_get(st, k_obj, 0, "kernel", &dtype, &k) < 0
        || (b_obj != Py_None && layer_arg_get(st, b_obj, 0, "bias", &dtype, &b) < 0)
        || conv_config_fill(st, &c, &l, Py_None, stride_obj, dilation_obj, padding_obj, in_obj, out_obj,
                            ranks_obj) < 0) {
        goto done;
    }
    c.kind = kind;
    c.dtype = dtype;
    c.padding_mode = padding_mode;
    tn_conv *handle = NULL;
    tn_status s;
    Py_BEGIN_ALLOW_THREADS
    s = tn_conv_from_dense(&c, &k.t, b_obj == Py_None ? NULL : &b.t, eps, (int64_t)n_iter_max, &handle);
    Py_END_ALLOW_THREADS
    if (s != TN_OK) {
        raise_status(st, s);
        goto done;
    }
    result = handle_wrap(st, st->ConvType, &conv_ops, handle);
done:
    layer_arg_release(&k);
    layer_arg_release(&b);
    conv_lists_free(&l);
    return result;
}

/* ------------------------------------------------------------------------- */
/* Embeddings: Embedding wraps a tn_embedding                                */
/* ------------------------------------------------------------------------- */

static void
embedding_destroy(void *handle)
{
    tn_embedding_destroy(handle);
}

static tn_status
embedding_param_get(const void *handle, int64_t i, tn_layer_param *p)
{
    return tn_embedding_param_get(handle, i, p);
}

static tn_status
embedding_info(const void *handle, int64_t *n_params, int *dtype)
{
    tn_embedding_info info;
    tn_status s = tn_embedding_info_get(handle, &info);
    if (s == TN_OK) {
        *n_params = info.n_params;
        *dtype = info.dtype;
    }
    return s;
}

static const handle_ops embedding_ops = {
    .missing = "this Embedding has no tn_embedding handle (make embeddings with tnswift.nn)",
    .destroy = embedding_destroy,
    .param_get = embedding_param_get,
    .info = embedding_info,
};

static PyObject *
Embedding_info(HandleObject *self, PyObject *Py_UNUSED(ignored))
{
    tn_module_state *st = layer_state((PyObject *)self);
    if (handle_check(self, &embedding_ops) < 0) {
        return NULL;
    }
    tn_embedding_info i;
    tn_status s = tn_embedding_info_get(self->handle, &i);
    if (s != TN_OK) {
        return raise_status(st, s);
    }
    int64_t rows[13], cols[13], ranks[13];
    s = tn_embedding_modes(self->handle, rows, cols, ranks, 13);
    if (s != TN_OK) {
        return raise_status(st, s);
    }
    return Py_BuildValue("{s:s,s:L,s:L,s:L,s:N,s:N,s:N,s:L,s:d}", "dtype", dtype_names[i.dtype],
                         "num_embeddings", (long long)i.num_embeddings, "embedding_dim", (long long)i.embedding_dim,
                         "padding_idx", (long long)i.padding_idx, "row_modes", shape_tuple_i64(rows, i.n_modes),
                         "col_modes", shape_tuple_i64(cols, i.n_modes), "ranks", shape_tuple_i64(ranks, i.n_modes + 1),
                         "parameter_count", (long long)i.parameter_count, "compression", i.compression);
}

static PyObject *
Embedding_parameters(HandleObject *self, PyObject *Py_UNUSED(ignored))
{
    return handle_parameters(self, &embedding_ops);
}

/* A C-contiguous int64 buffer (None: *held = 0). */
static int
index_buffer(tn_module_state *st, PyObject *obj, const char *what, Py_buffer *view, int *held)
{
    *held = 0;
    if (obj == Py_None) {
        return 0;
    }
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        PyErr_Clear();
        PyErr_Format(st->DTypeError, "%s must be a C-contiguous int64 array", what);
        return -1;
    }
    *held = 1;
    const char *f = view->format != NULL ? view->format : "B";
    if (f[0] == '<' || f[0] == '=' || f[0] == '@') {
        f++;
    }
    if (view->itemsize != 8 || !(f[0] == 'q' || f[0] == 'l') || f[1] != '\0') {
        PyErr_Format(st->DTypeError, "%s must be an int64 array (format %s)", what, view->format);
        return -1;
    }
    return 0;
}

/* forward/backward(indices, offsets, mode, array): array is out (forward) or dout. */
static PyObject *
embedding_call(HandleObject *self, PyObject *const *args, Py_ssize_t nargs, int backward)
{
    tn_module_state *st = layer_state((PyObject *)self);
    if (nargs != 4) {
        PyErr_Format(PyExc_TypeError, "%s() takes 4 arguments (indices, offsets, mode, %s), got %zd",
                     backward ? "backward" : "forward", backward ? "dout" : "out", nargs);
        return NULL;
    }
    if (handle_check(self, &embedding_ops) < 0) {
        return NULL;
    }
    int mode = (int)PyLong_AsLong(args[2]);
    if (mode == -1 && PyErr_Occurred()) {
        return NULL;
    }
    Py_buffer iv, ov;
    int ih = 0, oh = 0, dtype = -1;
    layer_arg a;
    a.held = 0;
    PyObject *result = NULL;
    if (index_buffer(st, args[0], "indices", &iv, &ih) < 0 || index_buffer(st, args[1], "offsets", &ov, &oh) < 0
        || layer_arg_get(st, args[3], !backward, backward ? "dout" : "out", &dtype, &a) < 0) {
        goto done;
    }
    if (!ih) {
        PyErr_SetString(st->ArgumentError, "indices is None");
        goto done;
    }
    const int64_t *idx = (const int64_t *)iv.buf;
    int64_t n = (int64_t)(iv.len / 8);
    const int64_t *off = oh ? (const int64_t *)ov.buf : NULL;
    int64_t nb = oh ? (int64_t)(ov.len / 8) : 0;
    tn_status s;
    Py_BEGIN_ALLOW_THREADS
    s = backward ? tn_embedding_backward(self->handle, (tn_dtype)dtype, idx, n, off, nb, (tn_embedding_mode)mode, &a.t)
                 : tn_embedding_forward(self->handle, (tn_dtype)dtype, idx, n, off, nb, (tn_embedding_mode)mode, &a.t);
    Py_END_ALLOW_THREADS
    if (s != TN_OK) {
        raise_status(st, s);
        goto done;
    }
    Py_INCREF(Py_None);
    result = Py_None;
done:
    if (ih) {
        PyBuffer_Release(&iv);
    }
    if (oh) {
        PyBuffer_Release(&ov);
    }
    layer_arg_release(&a);
    return result;
}

static PyObject *
Embedding_forward(HandleObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return embedding_call(self, args, nargs, 0);
}

static PyObject *
Embedding_backward(HandleObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return embedding_call(self, args, nargs, 1);
}

static PyObject *
Embedding_dense_table(HandleObject *self, PyObject *out)
{
    tn_module_state *st = layer_state((PyObject *)self);
    if (handle_check(self, &embedding_ops) < 0) {
        return NULL;
    }
    int dtype = -1;
    layer_arg t;
    PyObject *result = NULL;
    if (layer_arg_get(st, out, 1, "out", &dtype, &t) < 0) {
        goto done;
    }
    tn_status s;
    Py_BEGIN_ALLOW_THREADS
    s = tn_embedding_dense_table(self->handle, (tn_dtype)dtype, &t.t);
    Py_END_ALLOW_THREADS
    if (s != TN_OK) {
        raise_status(st, s);
        goto done;
    }
    Py_INCREF(Py_None);
    result = Py_None;
done:
    layer_arg_release(&t);
    return result;
}

static PyMethodDef Embedding_methods[] = {
    {"info", (PyCFunction)Embedding_info, METH_NOARGS,
     "info()\n--\n\nA dict: dtype, num_embeddings, embedding_dim, padding_idx (-1: none), row_modes,\n"
     "col_modes, ranks, parameter_count, compression."},
    {"parameters", (PyCFunction)Embedding_parameters, METH_NOARGS,
     "parameters()\n--\n\n[(name, data, grad)]: buffers over the embedding's own cores."},
    {"forward", (PyCFunction)(void (*)(void))Embedding_forward, METH_FASTCALL,
     "forward(indices, offsets, mode, out, /)\n--\n\nLooks up int64 indices into out (the GIL is released)."},
    {"backward", (PyCFunction)(void (*)(void))Embedding_backward, METH_FASTCALL,
     "backward(indices, offsets, mode, dout, /)\n--\n\nOverwrites the core gradients."},
    {"dense_table", (PyCFunction)Embedding_dense_table, METH_O,
     "dense_table(out, /)\n--\n\nWrites the whole table (num_embeddings, embedding_dim) into out."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot Embedding_slots[] = {
    {Py_tp_doc, "A tn_embedding handle (made by embedding_create / embedding_from_dense; see tnswift.nn)."},
    {Py_tp_dealloc, handle_dealloc},
    {Py_tp_methods, Embedding_methods},
    {0, NULL},
};

static PyType_Spec Embedding_spec = {
    .name = "tnswift._ext.Embedding",
    .basicsize = sizeof(HandleObject),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = Embedding_slots,
};

/* embedding_create(dtype, num_embeddings, embedding_dim, n_modes, row_modes, col_modes, ranks,
                    padding_idx, std, seed) */
static PyObject *
mod_embedding_create(PyObject *module, PyObject *args)
{
    tn_module_state *st = module_state(module);
    int dtype;
    long long num, dim, n_modes, padding;
    PyObject *rows_obj, *cols_obj, *ranks_obj;
    double std;
    unsigned long long seed;
    if (!PyArg_ParseTuple(args, "iLLLOOOLdK:embedding_create", &dtype, &num, &dim, &n_modes, &rows_obj, &cols_obj,
                          &ranks_obj, &padding, &std, &seed)) {
        return NULL;
    }
    int64_t *rows = NULL, *cols = NULL, *ranks = NULL;
    PyObject *result = NULL;
    if (read_int_list(st, rows_obj, "row_modes", n_modes, &rows) < 0
        || read_int_list(st, cols_obj, "col_modes", n_modes, &cols) < 0
        || read_int_list(st, ranks_obj, "ranks", -1, &ranks) < 0) {
        goto done;
    }
    tn_embedding_config c;
    memset(&c, 0, sizeof c);
    c.dtype = dtype;
    c.num_embeddings = (int64_t)num;
    c.embedding_dim = (int64_t)dim;
    c.n_modes = (int64_t)n_modes;
    c.row_modes = rows;
    c.col_modes = cols;
    c.n_ranks = ranks_obj == Py_None ? 0 : PySequence_Size(ranks_obj);
    c.ranks = ranks;
    c.padding_idx = (int64_t)padding;
    c.std = std;
    c.seed = (uint64_t)seed;
    tn_embedding *handle = NULL;
    tn_status s;
    Py_BEGIN_ALLOW_THREADS
    s = tn_embedding_create(&c, &handle);
    Py_END_ALLOW_THREADS
    if (s != TN_OK) {
        raise_status(st, s);
        goto done;
    }
    result = handle_wrap(st, st->EmbeddingType, &embedding_ops, handle);
done:
    PyMem_Free(rows);
    PyMem_Free(cols);
    PyMem_Free(ranks);
    return result;
}

/* embedding_from_dense(table, n_modes, row_modes, col_modes, rank, eps, padding_idx): rank or
   eps negative means not given; the dtype is the table's. */
static PyObject *
mod_embedding_from_dense(PyObject *module, PyObject *args)
{
    tn_module_state *st = module_state(module);
    PyObject *t_obj, *rows_obj, *cols_obj;
    long long n_modes, rank, padding;
    double eps;
    if (!PyArg_ParseTuple(args, "OLOOLdL:embedding_from_dense", &t_obj, &n_modes, &rows_obj, &cols_obj, &rank, &eps,
                          &padding)) {
        return NULL;
    }
    int dtype = -1;
    layer_arg t;
    t.held = 0;
    int64_t *rows = NULL, *cols = NULL;
    PyObject *result = NULL;
    if (layer_arg_get(st, t_obj, 0, "table", &dtype, &t) < 0
        || read_int_list(st, rows_obj, "row_modes", n_modes, &rows) < 0
        || read_int_list(st, cols_obj, "col_modes", n_modes, &cols) < 0) {
        goto done;
    }
    tn_embedding_config c;
    memset(&c, 0, sizeof c);
    c.dtype = dtype;
    c.n_modes = (int64_t)n_modes;
    c.row_modes = rows;
    c.col_modes = cols;
    c.padding_idx = (int64_t)padding;
    tn_embedding *handle = NULL;
    tn_status s;
    Py_BEGIN_ALLOW_THREADS
    s = tn_embedding_from_dense(&c, &t.t, (int64_t)rank, eps, &handle);
    Py_END_ALLOW_THREADS
    if (s != TN_OK) {
        raise_status(st, s);
        goto done;
    }
    result = handle_wrap(st, st->EmbeddingType, &embedding_ops, handle);
done:
    layer_arg_release(&t);
    PyMem_Free(rows);
    PyMem_Free(cols);
    return result;
}

/* ------------------------------------------------------------------------- */
/* Recurrent layers: RNN wraps a tn_rnn (a TT-LSTM or TT-GRU)                 */
/* ------------------------------------------------------------------------- */

static void
rnn_destroy(void *handle)
{
    tn_rnn_destroy(handle);
}

static tn_status
rnn_param_get(const void *handle, int64_t i, tn_layer_param *p)
{
    return tn_rnn_param_get(handle, i, p);
}

static tn_status
rnn_info(const void *handle, int64_t *n_params, int *dtype)
{
    tn_rnn_info info;
    tn_status s = tn_rnn_info_get(handle, &info);
    if (s == TN_OK) {
        *n_params = info.n_params;
        *dtype = info.dtype;
    }
    return s;
}

static const handle_ops rnn_ops = {
    .missing = "this RNN has no tn_rnn handle (make recurrent layers with tnswift.nn)",
    .destroy = rnn_destroy,
    .param_get = rnn_param_get,
    .info = rnn_info,
};

static PyObject *
RNN_info(HandleObject *self, PyObject *Py_UNUSED(ignored))
{
    tn_module_state *st = layer_state((PyObject *)self);
    if (handle_check(self, &rnn_ops) < 0) {
        return NULL;
    }
    tn_rnn_info i;
    tn_status s = tn_rnn_info_get(self->handle, &i);
    if (s != TN_OK) {
        return raise_status(st, s);
    }
    return Py_BuildValue("{s:i,s:s,s:L,s:L,s:L,s:L,s:L,s:d}", "kind", (int)i.kind, "dtype", dtype_names[i.dtype],
                         "input_size", (long long)i.input_size, "hidden_size", (long long)i.hidden_size,
                         "n_modes", (long long)i.n_modes, "n_params", (long long)i.n_params,
                         "parameter_count", (long long)i.parameter_count, "compression", i.compression);
}

static PyObject *
RNN_parameters(HandleObject *self, PyObject *Py_UNUSED(ignored))
{
    return handle_parameters(self, &rnn_ops);
}

/* forward(x, h0, c0, out, h_n, c_n) / backward(d_out, d_h_n, d_c_n, dx, dh0, dc0): six arrays or
   None (NULL in the C call); the last three are written, so they must be writable. */
static PyObject *
rnn_call(HandleObject *self, PyObject *const *args, Py_ssize_t nargs, int backward)
{
    static const char *const fnames[6] = {"x", "h0", "c0", "out", "h_n", "c_n"};
    static const char *const bnames[6] = {"d_out", "d_h_n", "d_c_n", "dx", "dh0", "dc0"};
    const char *const *names = backward ? bnames : fnames;
    tn_module_state *st = layer_state((PyObject *)self);
    if (nargs != 6) {
        PyErr_Format(PyExc_TypeError, "%s() takes 6 arguments (%s, %s, %s, %s, %s, %s), got %zd",
                     backward ? "backward" : "forward", names[0], names[1], names[2], names[3], names[4],
                     names[5], nargs);
        return NULL;
    }
    if (handle_check(self, &rnn_ops) < 0) {
        return NULL;
    }
    int dtype = -1;
    layer_arg a[6];
    for (int i = 0; i < 6; i++) {
        a[i].held = 0;
    }
    PyObject *result = NULL;
    for (int i = 0; i < 6; i++) {
        if (args[i] != Py_None && layer_arg_get(st, args[i], i >= 3, names[i], &dtype, &a[i]) < 0) {
            goto done;
        }
    }
    if (dtype < 0) {
        dtype = self->dtype;
    }
    const tn_tensor *t[6];
    for (int i = 0; i < 6; i++) {
        t[i] = a[i].held ? &a[i].t : NULL;
    }
    tn_status s;
    Py_BEGIN_ALLOW_THREADS
    s = backward ? tn_rnn_backward(self->handle, (tn_dtype)dtype, t[0], t[1], t[2], t[3], t[4], t[5])
                 : tn_rnn_forward(self->handle, (tn_dtype)dtype, t[0], t[1], t[2], t[3], t[4], t[5]);
    Py_END_ALLOW_THREADS
    if (s != TN_OK) {
        raise_status(st, s);
        goto done;
    }
    Py_INCREF(Py_None);
    result = Py_None;
done:
    for (int i = 0; i < 6; i++) {
        layer_arg_release(&a[i]);
    }
    return result;
}

static PyObject *
RNN_forward(HandleObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return rnn_call(self, args, nargs, 0);
}

static PyObject *
RNN_backward(HandleObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return rnn_call(self, args, nargs, 1);
}

static PyMethodDef RNN_methods[] = {
    {"info", (PyCFunction)RNN_info, METH_NOARGS,
     "info()\n--\n\nA dict: kind, dtype, input_size, hidden_size, n_modes, n_params, parameter_count,\n"
     "compression."},
    {"parameters", (PyCFunction)RNN_parameters, METH_NOARGS,
     "parameters()\n--\n\n[(name, data, grad)]: buffers over the layer's own storage."},
    {"forward", (PyCFunction)(void (*)(void))RNN_forward, METH_FASTCALL,
     "forward(x, h0, c0, out, h_n, c_n, /)\n--\n\nRuns the sequence (None: zeros / skip; the GIL is released)."},
    {"backward", (PyCFunction)(void (*)(void))RNN_backward, METH_FASTCALL,
     "backward(d_out, d_h_n, d_c_n, dx, dh0, dc0, /)\n--\n\nBackpropagation through time of the last forward."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot RNN_slots[] = {
    {Py_tp_doc, "A tn_rnn handle (made by rnn_create; see tnswift.nn.TTLSTM and TTGRU)."},
    {Py_tp_dealloc, handle_dealloc},
    {Py_tp_methods, RNN_methods},
    {0, NULL},
};

static PyType_Spec RNN_spec = {
    .name = "tnswift._ext.RNN",
    .basicsize = sizeof(HandleObject),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = RNN_slots,
};

/* rnn_create(kind, dtype, hidden_size, input_modes, output_modes, ranks, seed): output_modes
   None for the library's balanced split. */
static PyObject *
mod_rnn_create(PyObject *module, PyObject *args)
{
    tn_module_state *st = module_state(module);
    int kind, dtype;
    long long hidden;
    PyObject *ins_obj, *outs_obj, *ranks_obj;
    unsigned long long seed;
    if (!PyArg_ParseTuple(args, "iiLOOOK:rnn_create", &kind, &dtype, &hidden, &ins_obj, &outs_obj, &ranks_obj, &seed)) {
        return NULL;
    }
    int64_t *ins = NULL, *outs = NULL, *ranks = NULL;
    PyObject *result = NULL;
    if (ins_obj == Py_None) {
        PyErr_SetString(st->ArgumentError, "input_modes is None");
        return NULL;
    }
    Py_ssize_t d = PySequence_Size(ins_obj);
    if (d < 0) {
        PyErr_Clear();
        PyErr_Format(st->ArgumentError, "input_modes must be a sequence of integers, not %.200s",
                     Py_TYPE(ins_obj)->tp_name);
        return NULL;
    }
    if (read_int_list(st, ins_obj, "input_modes", d, &ins) < 0
        || read_int_list(st, outs_obj, "output_modes", d, &outs) < 0
        || read_int_list(st, ranks_obj, "ranks", -1, &ranks) < 0) {
        goto done;
    }
    tn_rnn_config c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    c.dtype = dtype;
    c.hidden_size = (int64_t)hidden;
    c.n_modes = (int64_t)d;
    c.input_modes = ins;
    c.output_modes = outs;
    c.n_ranks = ranks_obj == Py_None ? 0 : PySequence_Size(ranks_obj);
    c.ranks = ranks;
    c.seed = (uint64_t)seed;
    tn_rnn *handle = NULL;
    tn_status s;
    Py_BEGIN_ALLOW_THREADS
    s = tn_rnn_create(&c, &handle);
    Py_END_ALLOW_THREADS
    if (s != TN_OK) {
        raise_status(st, s);
        goto done;
    }
    result = handle_wrap(st, st->RNNType, &rnn_ops, handle);
done:
    PyMem_Free(ins);
    PyMem_Free(outs);
    PyMem_Free(ranks);
    return result;
}

/* ------------------------------------------------------------------------- */
/* Feed-forward and attention: FeedForward wraps a tn_ff, Attention a         */
/* tn_attention                                                               */
/* ------------------------------------------------------------------------- */

/* Checks the argument count, then binds n arrays (None: NULL); those at index >= first_out are
   written, so they must be writable. *dtype receives the arrays' dtype (the layer's when all are
   None). On failure every bound buffer is released. */
static int
bind_call_args(tn_module_state *st, const char *method, PyObject *const *args, Py_ssize_t nargs,
               int n, int first_out, const char *const *names, int layer_dtype, int *dtype, layer_arg *a,
               const tn_tensor **t)
{
    for (int i = 0; i < n; i++) {
        a[i].held = 0;
    }
    if (nargs != n) {
        PyErr_Format(PyExc_TypeError, "%s() takes %d arguments, got %zd", method, n, nargs);
        return -1;
    }
    *dtype = -1;
    for (int i = 0; i < n; i++) {
        if (args[i] != Py_None && layer_arg_get(st, args[i], i >= first_out, names[i], dtype, &a[i]) < 0) {
            for (int j = 0; j < n; j++) {
                layer_arg_release(&a[j]);
            }
            return -1;
        }
    }
    if (*dtype < 0) {
        *dtype = layer_dtype;
    }
    for (int i = 0; i < n; i++) {
        t[i] = a[i].held ? &a[i].t : NULL;
    }
    return 0;
}

static void
release_call_args(layer_arg *a, int n)
{
    for (int i = 0; i < n; i++) {
        layer_arg_release(&a[i]);
    }
}

static void
ff_destroy(void *handle)
{
    tn_ff_destroy(handle);
}

static tn_status
ff_param_get(const void *handle, int64_t i, tn_layer_param *p)
{
    return tn_ff_param_get(handle, i, p);
}

static tn_status
ff_info(const void *handle, int64_t *n_params, int *dtype)
{
    tn_ff_info info;
    tn_status s = tn_ff_info_get(handle, &info);
    if (s == TN_OK) {
        *n_params = info.n_params;
        *dtype = info.dtype;
    }
    return s;
}

static const handle_ops ff_ops = {
    .missing = "this FeedForward has no tn_ff handle (make it with tnswift.nn.TTFeedForward)",
    .destroy = ff_destroy,
    .param_get = ff_param_get,
    .info = ff_info,
};

static PyObject *
FeedForward_info(HandleObject *self, PyObject *Py_UNUSED(ignored))
{
    tn_module_state *st = layer_state((PyObject *)self);
    if (handle_check(self, &ff_ops) < 0) {
        return NULL;
    }
    tn_ff_info i;
    tn_status s = tn_ff_info_get(self->handle, &i);
    if (s != TN_OK) {
        return raise_status(st, s);
    }
    return Py_BuildValue("{s:s,s:i,s:L,s:L,s:L,s:L,s:L,s:d,s:O}", "dtype", dtype_names[i.dtype],
                         "activation", (int)i.activation, "model_dim", (long long)i.model_dim,
                         "hidden_dim", (long long)i.hidden_dim, "n_modes", (long long)i.n_modes,
                         "n_params", (long long)i.n_params, "parameter_count", (long long)i.parameter_count,
                         "compression", i.compression, "bias", i.bias ? Py_True : Py_False);
}

static PyObject *
FeedForward_parameters(HandleObject *self, PyObject *Py_UNUSED(ignored))
{
    return handle_parameters(self, &ff_ops);
}

/* forward(x, y) / backward(dy, x, dx) */
static PyObject *
ff_call(HandleObject *self, PyObject *const *args, Py_ssize_t nargs, int backward)
{
    static const char *const fnames[2] = {"x", "y"};
    static const char *const bnames[3] = {"dy", "x", "dx"};
    tn_module_state *st = layer_state((PyObject *)self);
    if (handle_check(self, &ff_ops) < 0) {
        return NULL;
    }
    int n = backward ? 3 : 2, dtype;
    layer_arg a[3];
    const tn_tensor *t[3];
    if (bind_call_args(st, backward ? "backward" : "forward", args, nargs, n, n - 1, backward ? bnames : fnames,
                       self->dtype, &dtype, a, t) < 0) {
        return NULL;
    }
    tn_status s;
    Py_BEGIN_ALLOW_THREADS
    s = backward ? tn_ff_backward(self->handle, (tn_dtype)dtype, t[0], t[1], t[2])
                 : tn_ff_forward(self->handle, (tn_dtype)dtype, t[0], t[1]);
    Py_END_ALLOW_THREADS
    release_call_args(a, n);
    if (s != TN_OK) {
        return raise_status(st, s);
    }
    Py_RETURN_NONE;
}

static PyObject *
FeedForward_forward(HandleObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return ff_call(self, args, nargs, 0);
}

static PyObject *
FeedForward_backward(HandleObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return ff_call(self, args, nargs, 1);
}

static PyMethodDef FeedForward_methods[] = {
    {"info", (PyCFunction)FeedForward_info, METH_NOARGS,
     "info()\n--\n\nA dict: dtype, activation, model_dim, hidden_dim, n_modes, n_params, parameter_count,\n"
     "compression, bias."},
    {"parameters", (PyCFunction)FeedForward_parameters, METH_NOARGS,
     "parameters()\n--\n\n[(name, data, grad)]: buffers over the block's own storage."},
    {"forward", (PyCFunction)(void (*)(void))FeedForward_forward, METH_FASTCALL,
     "forward(x, y, /)\n--\n\nWrites the block's output for x into y (the GIL is released)."},
    {"backward", (PyCFunction)(void (*)(void))FeedForward_backward, METH_FASTCALL,
     "backward(dy, x, dx, /)\n--\n\nFills the parameter gradients and dx (None: skip) at input x."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot FeedForward_slots[] = {
    {Py_tp_doc, "A tn_ff handle (made by ff_create; see tnswift.nn.TTFeedForward)."},
    {Py_tp_dealloc, handle_dealloc},
    {Py_tp_methods, FeedForward_methods},
    {0, NULL},
};

static PyType_Spec FeedForward_spec = {
    .name = "tnswift._ext.FeedForward",
    .basicsize = sizeof(HandleObject),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = FeedForward_slots,
};

/* ff_create(dtype, activation, model_modes, hidden_modes, ranks, bias, seed) */
static PyObject *
mod_ff_create(PyObject *module, PyObject *args)
{
    tn_module_state *st = module_state(module);
    int dtype, activation, bias;
    PyObject *model_obj, *hidden_obj, *ranks_obj;
    unsigned long long seed;
    if (!PyArg_ParseTuple(args, "iiOOOpK:ff_create", &dtype, &activation, &model_obj, &hidden_obj, &ranks_obj, &bias,
                          &seed)) {
        return NULL;
    }
    if (model_obj == Py_None || ranks_obj == Py_None) {
        PyErr_SetString(st->ArgumentError, "model_modes and ranks must not be None");
        return NULL;
    }
    Py_ssize_t d = PySequence_Size(model_obj);
    if (d < 0) {
        PyErr_Clear();
        PyErr_Format(st->ArgumentError, "model_modes must be a sequence of integers, not %.200s",
                     Py_TYPE(model_obj)->tp_name);
        return NULL;
    }
    int64_t *model = NULL, *hidden = NULL, *ranks = NULL;
    PyObject *result = NULL;
    if (read_int_list(st, model_obj, "model_modes", d, &model) < 0
        || read_int_list(st, hidden_obj, "hidden_modes", d, &hidden) < 0
        || read_int_list(st, ranks_obj, "ranks", -1, &ranks) < 0) {
        goto done;
    }
    tn_ff_config c;
    memset(&c, 0, sizeof c);
    c.dtype = dtype;
    c.activation = activation;
    c.n_modes = (int64_t)d;
    c.model_modes = model;
    c.hidden_modes = hidden;
    c.n_ranks = PySequence_Size(ranks_obj);
    c.ranks = ranks;
    c.bias = bias;
    c.seed = (uint64_t)seed;
    tn_ff *handle = NULL;
    tn_status s;
    Py_BEGIN_ALLOW_THREADS
    s = tn_ff_create(&c, &handle);
    Py_END_ALLOW_THREADS
    if (s != TN_OK) {
        raise_status(st, s);
        goto done;
    }
    result = handle_wrap(st, st->FeedForwardType, &ff_ops, handle);
done:
    PyMem_Free(model);
    PyMem_Free(hidden);
    PyMem_Free(ranks);
    return result;
}

static void
attention_destroy(void *handle)
{
    tn_attention_destroy(handle);
}

static tn_status
attention_param_get(const void *handle, int64_t i, tn_layer_param *p)
{
    return tn_attention_param_get(handle, i, p);
}

static tn_status
attention_info(const void *handle, int64_t *n_params, int *dtype)
{
    tn_attention_info info;
    tn_status s = tn_attention_info_get(handle, &info);
    if (s == TN_OK) {
        *n_params = info.n_params;
        *dtype = info.dtype;
    }
    return s;
}

static const handle_ops attention_ops = {
    .missing = "this Attention has no tn_attention handle (make it with tnswift.nn.MultiLinearAttention)",
    .destroy = attention_destroy,
    .param_get = attention_param_get,
    .info = attention_info,
};

static PyObject *
Attention_info(HandleObject *self, PyObject *Py_UNUSED(ignored))
{
    tn_module_state *st = layer_state((PyObject *)self);
    if (handle_check(self, &attention_ops) < 0) {
        return NULL;
    }
    tn_attention_info i;
    tn_status s = tn_attention_info_get(self->handle, &i);
    if (s != TN_OK) {
        return raise_status(st, s);
    }
    return Py_BuildValue("{s:s,s:O,s:O,s:L,s:L,s:L,s:L,s:L,s:L}", "dtype", dtype_names[i.dtype],
                         "bias", i.bias ? Py_True : Py_False, "softmax_cores", i.softmax_cores ? Py_True : Py_False,
                         "model_dim", (long long)i.model_dim, "key_length", (long long)i.key_length,
                         "blocks", (long long)i.blocks, "rank", (long long)i.rank, "n_params", (long long)i.n_params,
                         "parameter_count", (long long)i.parameter_count);
}

static PyObject *
Attention_parameters(HandleObject *self, PyObject *Py_UNUSED(ignored))
{
    return handle_parameters(self, &attention_ops);
}

/* forward(q, k, v, y) / backward(dy, q, k, v, dq, dk, dv) */
static PyObject *
attention_call(HandleObject *self, PyObject *const *args, Py_ssize_t nargs, int backward)
{
    static const char *const fnames[4] = {"q", "k", "v", "y"};
    static const char *const bnames[7] = {"dy", "q", "k", "v", "dq", "dk", "dv"};
    tn_module_state *st = layer_state((PyObject *)self);
    if (handle_check(self, &attention_ops) < 0) {
        return NULL;
    }
    int n = backward ? 7 : 4, dtype;
    layer_arg a[7];
    const tn_tensor *t[7];
    if (bind_call_args(st, backward ? "backward" : "forward", args, nargs, n, backward ? 4 : 3,
                       backward ? bnames : fnames, self->dtype, &dtype, a, t) < 0) {
        return NULL;
    }
    tn_status s;
    Py_BEGIN_ALLOW_THREADS
    s = backward ? tn_attention_backward(self->handle, (tn_dtype)dtype, t[0], t[1], t[2], t[3], t[4], t[5], t[6])
                 : tn_attention_forward(self->handle, (tn_dtype)dtype, t[0], t[1], t[2], t[3]);
    Py_END_ALLOW_THREADS
    release_call_args(a, n);
    if (s != TN_OK) {
        return raise_status(st, s);
    }
    Py_RETURN_NONE;
}

static PyObject *
Attention_forward(HandleObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return attention_call(self, args, nargs, 0);
}

static PyObject *
Attention_backward(HandleObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return attention_call(self, args, nargs, 1);
}

static PyMethodDef Attention_methods[] = {
    {"info", (PyCFunction)Attention_info, METH_NOARGS,
     "info()\n--\n\nA dict: dtype, bias, softmax_cores, model_dim, key_length, blocks, rank, n_params,\n"
     "parameter_count."},
    {"parameters", (PyCFunction)Attention_parameters, METH_NOARGS,
     "parameters()\n--\n\n[(name, data, grad)]: buffers over the layer's own storage."},
    {"forward", (PyCFunction)(void (*)(void))Attention_forward, METH_FASTCALL,
     "forward(q, k, v, y, /)\n--\n\nWrites the attention output into y (the GIL is released)."},
    {"backward", (PyCFunction)(void (*)(void))Attention_backward, METH_FASTCALL,
     "backward(dy, q, k, v, dq, dk, dv, /)\n--\n\nFills the parameter gradients and dq, dk, dv (None: skip)."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot Attention_slots[] = {
    {Py_tp_doc, "A tn_attention handle (made by attention_create; see tnswift.nn.MultiLinearAttention)."},
    {Py_tp_dealloc, handle_dealloc},
    {Py_tp_methods, Attention_methods},
    {0, NULL},
};

static PyType_Spec Attention_spec = {
    .name = "tnswift._ext.Attention",
    .basicsize = sizeof(HandleObject),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = Attention_slots,
};

/* attention_create(dtype, model_dim, key_length, blocks, rank, bias, softmax_cores, seed) */
static PyObject *
mod_attention_create(PyObject *module, PyObject *args)
{
    tn_module_state *st = module_state(module);
    int dtype, bias, softmax_cores;
    long long model_dim, key_length, blocks, rank;
    unsigned long long seed;
    if (!PyArg_ParseTuple(args, "iLLLLppK:attention_create", &dtype, &model_dim, &key_length, &blocks, &rank, &bias,
                          &softmax_cores, &seed)) {
        return NULL;
    }
    tn_attention_config c;
    memset(&c, 0, sizeof c);
    c.dtype = dtype;
    c.bias = bias;
    c.softmax_cores = softmax_cores;
    c.model_dim = (int64_t)model_dim;
    c.key_length = (int64_t)key_length;
    c.blocks = (int64_t)blocks;
    c.rank = (int64_t)rank;
    c.seed = (uint64_t)seed;
    tn_attention *handle = NULL;
    tn_status s;
    Py_BEGIN_ALLOW_THREADS
    s = tn_attention_create(&c, &handle);
    Py_END_ALLOW_THREADS
    if (s != TN_OK) {
        return raise_status(st, s);
    }
    return handle_wrap(st, st->AttentionType, &attention_ops, handle);
}

/* ------------------------------------------------------------------------- */
/* Training kernels: activations, losses, optimizers                         */
/* ------------------------------------------------------------------------- */

/* A C-contiguous float32/float64 buffer of the dtype *dtype (any when -1, then set). */
static int
train_buffer(tn_module_state *st, PyObject *obj, int writable, const char *what, Py_buffer *view,
             int *dtype)
{
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) {
        PyErr_Clear();
        PyErr_Format(st->DTypeError, "%s must be a C-contiguous%s float32 or float64 array", what,
                     writable ? ", writable" : "");
        return -1;
    }
    int dt = format_dtype(view);
    if (dt < 0 || (*dtype >= 0 && dt != *dtype)) {
        PyErr_Format(st->DTypeError, "%s must be %s", what,
                     *dtype >= 0 ? dtype_names[*dtype] : "float32 or float64");
        PyBuffer_Release(view);
        return -1;
    }
    *dtype = dt;
    return 0;
}

static Py_ssize_t
train_count(const Py_buffer *v)
{
    return v->len / (v->itemsize > 0 ? v->itemsize : 1);
}

static PyObject *
mod_activation_forward(PyObject *module, PyObject *args)
{
    tn_module_state *st = module_state(module);
    int kind;
    PyObject *xo, *yo;
    if (!PyArg_ParseTuple(args, "iOO:activation_forward", &kind, &xo, &yo)) {
        return NULL;
    }
    int dtype = -1;
    Py_buffer x, y;
    if (train_buffer(st, xo, 0, "x", &x, &dtype) < 0) {
        return NULL;
    }
    if (train_buffer(st, yo, 1, "y", &y, &dtype) < 0) {
        PyBuffer_Release(&x);
        return NULL;
    }
    PyObject *result = NULL;
    if (train_count(&x) != train_count(&y)) {
        PyErr_SetString(st->ShapeError, "x and y must have the same number of elements");
    }
    else {
        tn_status s;
        Py_BEGIN_ALLOW_THREADS
        s = tn_activation_forward(kind, (tn_dtype)dtype, (int64_t)train_count(&x), x.buf, y.buf);
        Py_END_ALLOW_THREADS
        result = s == TN_OK ? Py_NewRef(Py_None) : raise_status(st, s);
    }
    PyBuffer_Release(&x);
    PyBuffer_Release(&y);
    return result;
}

static PyObject *
mod_activation_backward(PyObject *module, PyObject *args)
{
    tn_module_state *st = module_state(module);
    int kind;
    PyObject *xo, *dyo, *dxo;
    if (!PyArg_ParseTuple(args, "iOOO:activation_backward", &kind, &xo, &dyo, &dxo)) {
        return NULL;
    }
    int dtype = -1;
    Py_buffer x, dy, dx;
    if (train_buffer(st, xo, 0, "x", &x, &dtype) < 0) {
        return NULL;
    }
    if (train_buffer(st, dyo, 0, "dy", &dy, &dtype) < 0) {
        PyBuffer_Release(&x);
        return NULL;
    }
    if (train_buffer(st, dxo, 1, "dx", &dx, &dtype) < 0) {
        PyBuffer_Release(&x);
        PyBuffer_Release(&dy);
        return NULL;
    }
    PyObject *result = NULL;
    Py_ssize_t n = train_count(&x);
    if (train_count(&dy) != n || train_count(&dx) != n) {
        PyErr_SetString(st->ShapeError, "x, dy and dx must have the same number of elements");
    }
    else {
        tn_status s;
        Py_BEGIN_ALLOW_THREADS
        s = tn_activation_backward(kind, (tn_dtype)dtype, (int64_t)n, x.buf, dy.buf, dx.buf);
        Py_END_ALLOW_THREADS
        result = s == TN_OK ? Py_NewRef(Py_None) : raise_status(st, s);
    }
    PyBuffer_Release(&x);
    PyBuffer_Release(&dy);
    PyBuffer_Release(&dx);
    return result;
}

static PyObject *
mod_cross_entropy(PyObject *module, PyObject *args)
{
    tn_module_state *st = module_state(module);
    PyObject *lo, *labo, *go;
    if (!PyArg_ParseTuple(args, "OOO:cross_entropy", &lo, &labo, &go)) {
        return NULL;
    }
    int dtype = -1;
    Py_buffer logits, labels, grad;
    int have_grad = go != Py_None;
    if (train_buffer(st, lo, 0, "logits", &logits, &dtype) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(labo, &labels, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        PyBuffer_Release(&logits);
        return NULL;
    }
    PyObject *result = NULL;
    const char *f = labels.format ? labels.format : "B";
    if (*f == '=' || *f == '<' || *f == '@') {
        f++;
    }
    if (!((f[0] == 'i' || f[0] == 'l') && f[1] == '\0' && labels.itemsize == 4)) {
        PyErr_SetString(st->DTypeError, "labels must be an int32 array");
        goto done_labels;
    }
    if (have_grad && train_buffer(st, go, 1, "grad", &grad, &dtype) < 0) {
        goto done_labels;
    }
    if (logits.ndim != 2 || train_count(&labels) != logits.shape[0]
        || (have_grad && train_count(&grad) != train_count(&logits))) {
        PyErr_SetString(st->ShapeError, "logits must be (batch, classes), labels (batch,) and grad like logits");
    }
    else {
        double loss = 0;
        tn_status s;
        Py_BEGIN_ALLOW_THREADS
        s = tn_loss_cross_entropy((tn_dtype)dtype, (int64_t)logits.shape[0], (int64_t)logits.shape[1], logits.buf,
                                  (const int32_t *)labels.buf, have_grad ? grad.buf : NULL, &loss);
        Py_END_ALLOW_THREADS
        result = s == TN_OK ? PyFloat_FromDouble(loss) : raise_status(st, s);
    }
    if (have_grad) {
        PyBuffer_Release(&grad);
    }
done_labels:
    PyBuffer_Release(&labels);
    PyBuffer_Release(&logits);
    return result;
}

static PyObject *
mod_mse(PyObject *module, PyObject *args)
{
    tn_module_state *st = module_state(module);
    PyObject *po, *to, *go;
    if (!PyArg_ParseTuple(args, "OOO:mse", &po, &to, &go)) {
        return NULL;
    }
    int dtype = -1, have_grad = go != Py_None;
    Py_buffer pred, target, grad;
    if (train_buffer(st, po, 0, "pred", &pred, &dtype) < 0) {
        return NULL;
    }
    if (train_buffer(st, to, 0, "target", &target, &dtype) < 0) {
        PyBuffer_Release(&pred);
        return NULL;
    }
    if (have_grad && train_buffer(st, go, 1, "grad", &grad, &dtype) < 0) {
        PyBuffer_Release(&pred);
        PyBuffer_Release(&target);
        return NULL;
    }
    PyObject *result = NULL;
    Py_ssize_t n = train_count(&pred);
    if (train_count(&target) != n || (have_grad && train_count(&grad) != n)) {
        PyErr_SetString(st->ShapeError, "pred, target and grad must have the same number of elements");
    }
    else {
        double loss = 0;
        tn_status s;
        Py_BEGIN_ALLOW_THREADS
        s = tn_loss_mse((tn_dtype)dtype, (int64_t)n, pred.buf, target.buf, have_grad ? grad.buf : NULL, &loss);
        Py_END_ALLOW_THREADS
        result = s == TN_OK ? PyFloat_FromDouble(loss) : raise_status(st, s);
    }
    if (have_grad) {
        PyBuffer_Release(&grad);
    }
    PyBuffer_Release(&pred);
    PyBuffer_Release(&target);
    return result;
}

static void
optimizer_capsule_destroy(PyObject *capsule)
{
    tn_optimizer *o = PyCapsule_GetPointer(capsule, "tnswift.optimizer");
    if (o != NULL) {
        tn_optimizer_destroy(o);
    }
}

static PyObject *
mod_optimizer_create(PyObject *module, PyObject *args)
{
    tn_module_state *st = module_state(module);
    tn_optimizer_config c;
    memset(&c, 0, sizeof c);
    PyObject *sizes_obj;
    int kind, dtype, nesterov;
    if (!PyArg_ParseTuple(args, "iiddpddddO:optimizer_create", &kind, &dtype, &c.learning_rate, &c.momentum,
                          &nesterov, &c.beta1, &c.beta2, &c.epsilon, &c.weight_decay, &sizes_obj)) {
        return NULL;
    }
    c.kind = kind;
    c.dtype = dtype;
    c.nesterov = nesterov;
    PyObject *seq = PySequence_Fast(sizes_obj, "sizes must be a sequence of integers");
    if (seq == NULL) {
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    int64_t *sizes = PyMem_Calloc((size_t)(n > 0 ? n : 1), sizeof(int64_t));
    if (sizes == NULL) {
        Py_DECREF(seq);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        sizes[i] = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(seq, i));
        if (sizes[i] == -1 && PyErr_Occurred()) {
            PyMem_Free(sizes);
            Py_DECREF(seq);
            return NULL;
        }
    }
    Py_DECREF(seq);
    tn_optimizer *o = NULL;
    tn_status s = tn_optimizer_create(&c, (int64_t)n, sizes, &o);
    PyMem_Free(sizes);
    if (s != TN_OK) {
        return raise_status(st, s);
    }
    PyObject *capsule = PyCapsule_New(o, "tnswift.optimizer", optimizer_capsule_destroy);
    if (capsule == NULL) {
        tn_optimizer_destroy(o);
    }
    return capsule;
}

static PyObject *
mod_optimizer_step(PyObject *module, PyObject *args)
{
    tn_module_state *st = module_state(module);
    PyObject *capsule, *params_obj, *grads_obj;
    int dtype;
    if (!PyArg_ParseTuple(args, "OiOO:optimizer_step", &capsule, &dtype, &params_obj, &grads_obj)) {
        return NULL;
    }
    tn_optimizer *o = PyCapsule_GetPointer(capsule, "tnswift.optimizer");
    if (o == NULL) {
        return NULL;
    }
    PyObject *ps = PySequence_Fast(params_obj, "params must be a sequence of arrays");
    if (ps == NULL) {
        return NULL;
    }
    PyObject *gs = PySequence_Fast(grads_obj, "grads must be a sequence of arrays");
    if (gs == NULL) {
        Py_DECREF(ps);
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(ps);
    PyObject *result = NULL;
    Py_buffer *views = NULL;
    void **pp = NULL;
    const void **gp = NULL;
    Py_ssize_t held = 0;
    if (PySequence_Fast_GET_SIZE(gs) != n) {
        PyErr_SetString(st->ShapeError, "params and grads must have the same length");
        goto done;
    }
    views = PyMem_Calloc((size_t)(2 * n + 1), sizeof(Py_buffer));
    pp = PyMem_Calloc((size_t)(n + 1), sizeof(void *));
    gp = PyMem_Calloc((size_t)(n + 1), sizeof(void *));
    if (views == NULL || pp == NULL || gp == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (train_buffer(st, PySequence_Fast_GET_ITEM(ps, i), 1, "a parameter", &views[held], &dtype) < 0) {
            goto done;
        }
        pp[i] = views[held++].buf;
        if (train_buffer(st, PySequence_Fast_GET_ITEM(gs, i), 0, "a gradient", &views[held], &dtype) < 0) {
            goto done;
        }
        gp[i] = views[held++].buf;
        if (train_count(&views[held - 1]) != train_count(&views[held - 2])) {
            PyErr_Format(st->ShapeError, "parameter %zd and its gradient differ in size", i);
            goto done;
        }
    }
    tn_status s;
    Py_BEGIN_ALLOW_THREADS
    s = tn_optimizer_step(o, (int64_t)n, pp, gp);
    Py_END_ALLOW_THREADS
    result = s == TN_OK ? Py_NewRef(Py_None) : raise_status(st, s);
done:
    for (Py_ssize_t i = 0; i < held; i++) {
        PyBuffer_Release(&views[i]);
    }
    PyMem_Free(views);
    PyMem_Free(pp);
    PyMem_Free((void *)gp);
    Py_DECREF(ps);
    Py_DECREF(gs);
    return result;
}

static PyObject *
mod_optimizer_set_lr(PyObject *module, PyObject *args)
{
    tn_module_state *st = module_state(module);
    PyObject *capsule;
    double lr;
    if (!PyArg_ParseTuple(args, "Od:optimizer_set_lr", &capsule, &lr)) {
        return NULL;
    }
    tn_optimizer *o = PyCapsule_GetPointer(capsule, "tnswift.optimizer");
    if (o == NULL) {
        return NULL;
    }
    tn_status s = tn_optimizer_set_learning_rate(o, lr);
    return s == TN_OK ? Py_NewRef(Py_None) : raise_status(st, s);
}

/* ---- models: build from layers, save, load, take apart, run ---- */

static void
model_capsule_destroy(PyObject *capsule)
{
    tn_model *m = PyCapsule_GetPointer(capsule, "tnswift.model");
    if (m != NULL) {
        tn_model_destroy(m);
    }
}

static PyObject *
model_capsule(tn_model *m)
{
    PyObject *capsule = PyCapsule_New(m, "tnswift.model", model_capsule_destroy);
    if (capsule == NULL) {
        tn_model_destroy(m);
    }
    return capsule;
}

/* model_create([(kind, activation, dropout, layer-or-None), ...]) -> capsule */
static PyObject *
mod_model_create(PyObject *module, PyObject *arg)
{
    tn_module_state *st = module_state(module);
    PyObject *seq = PySequence_Fast(arg, "stages must be a sequence of tuples");
    if (seq == NULL) {
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    tn_model_stage *stages = PyMem_Calloc((size_t)(n > 0 ? n : 1), sizeof(tn_model_stage));
    if (stages == NULL) {
        Py_DECREF(seq);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        int kind, activation;
        double dropout;
        PyObject *layer;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "iidO:model stage", &kind, &activation, &dropout,
                              &layer)) {
            goto fail;
        }
        stages[i].kind = kind;
        stages[i].activation = activation;
        stages[i].dropout = dropout;
        if (layer != Py_None) {
            if (!PyObject_TypeCheck(layer, st->LayerType)) {
                PyErr_Format(st->ArgumentError, "stage %zd: %.200s is not a tnswift layer handle", i,
                             Py_TYPE(layer)->tp_name);
                goto fail;
            }
            if (layer_check((LayerObject *)layer) < 0) {
                goto fail;
            }
            stages[i].layer = ((LayerObject *)layer)->layer;
        }
    }
    tn_model *m = NULL;
    tn_status s = tn_model_create((int64_t)n, stages, &m);
    PyMem_Free(stages);
    Py_DECREF(seq);
    return s == TN_OK ? model_capsule(m) : raise_status(st, s);
fail:
    PyMem_Free(stages);
    Py_DECREF(seq);
    return NULL;
}

static PyObject *
mod_model_load(PyObject *module, PyObject *arg)
{
    tn_module_state *st = module_state(module);
    PyObject *path = NULL;
    if (!PyUnicode_FSConverter(arg, &path)) {
        return NULL;
    }
    tn_model *m = NULL;
    tn_status s;
    Py_BEGIN_ALLOW_THREADS
    s = tn_model_load(PyBytes_AS_STRING(path), &m);
    Py_END_ALLOW_THREADS
    Py_DECREF(path);
    return s == TN_OK ? model_capsule(m) : raise_status(st, s);
}

static PyObject *
mod_model_save(PyObject *module, PyObject *args)
{
    tn_module_state *st = module_state(module);
    PyObject *capsule, *path_obj, *path = NULL;
    if (!PyArg_ParseTuple(args, "OO:model_save", &capsule, &path_obj)) {
        return NULL;
    }
    tn_model *m = PyCapsule_GetPointer(capsule, "tnswift.model");
    if (m == NULL || !PyUnicode_FSConverter(path_obj, &path)) {
        return NULL;
    }
    tn_status s;
    Py_BEGIN_ALLOW_THREADS
    s = tn_model_save(m, PyBytes_AS_STRING(path));
    Py_END_ALLOW_THREADS
    Py_DECREF(path);
    return s == TN_OK ? Py_NewRef(Py_None) : raise_status(st, s);
}

/* model_stages(capsule) -> [(kind, activation, dropout, Layer-or-None), ...] */
static PyObject *
mod_model_stages(PyObject *module, PyObject *capsule)
{
    tn_module_state *st = module_state(module);
    tn_model *m = PyCapsule_GetPointer(capsule, "tnswift.model");
    if (m == NULL) {
        return NULL;
    }
    tn_model_info info;
    tn_status s = tn_model_info_get(m, &info);
    if (s != TN_OK) {
        return raise_status(st, s);
    }
    PyObject *list = PyList_New(0);
    for (int64_t i = 0; list != NULL && i < info.n_stages; i++) {
        tn_model_stage stage;
        memset(&stage, 0, sizeof stage);
        s = tn_model_stage_get(m, i, &stage);
        if (s != TN_OK) {
            Py_DECREF(list);
            return raise_status(st, s);
        }
        PyObject *layer = stage.layer != NULL ? layer_wrap(st, stage.layer) : Py_NewRef(Py_None);
        PyObject *item = layer ? Py_BuildValue("(iidN)", (int)stage.kind, (int)stage.activation, stage.dropout, layer)
                               : NULL;
        if (item == NULL || PyList_Append(list, item) < 0) {
            Py_XDECREF(item);
            Py_CLEAR(list);
            break;
        }
        Py_DECREF(item);
    }
    return list;
}

static PyObject *
mod_model_info(PyObject *module, PyObject *capsule)
{
    tn_module_state *st = module_state(module);
    tn_model *m = PyCapsule_GetPointer(capsule, "tnswift.model");
    if (m == NULL) {
        return NULL;
    }
    tn_model_info info;
    tn_status s = tn_model_info_get(m, &info);
    if (s != TN_OK) {
        return raise_status(st, s);
    }
    return Py_BuildValue("{s:s,s:L,s:L,s:L}", "dtype", dtype_names[info.dtype], "in_features",
                         (long long)info.in_features, "out_features", (long long)info.out_features, "n_stages",
                         (long long)info.n_stages);
}

/* model_forward(capsule, x, y): the C entry point's inference on C-contiguous 2-D arrays. */
static PyObject *
mod_model_forward(PyObject *module, PyObject *args)
{
    tn_module_state *st = module_state(module);
    PyObject *capsule, *x_obj, *y_obj;
    if (!PyArg_ParseTuple(args, "OOO:model_forward", &capsule, &x_obj, &y_obj)) {
        return NULL;
    }
    tn_model *m = PyCapsule_GetPointer(capsule, "tnswift.model");
    if (m == NULL) {
        return NULL;
    }
    tn_model_info info;
    tn_status s = tn_model_info_get(m, &info);
    if (s != TN_OK) {
        return raise_status(st, s);
    }
    Py_buffer x, y;
    if (PyObject_GetBuffer(x_obj, &x, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_ND) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(y_obj, &y, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_ND | PyBUF_WRITABLE) < 0) {
        PyBuffer_Release(&x);
        return NULL;
    }
    PyObject *result = NULL;
    if (x.ndim != 2 || y.ndim != 2 || format_dtype(&x) != info.dtype || format_dtype(&y) != info.dtype) {
        PyErr_Format(st->DTypeError, "model_forward takes 2-D %s arrays", dtype_names[info.dtype]);
    } else if (x.shape[1] != info.in_features || y.shape[1] != info.out_features || y.shape[0] != x.shape[0]) {
        PyErr_SetString(st->ShapeError, "model_forward: x must be (batch, in_features), y (batch, out_features)");
    } else {
        interrupt_state is;
        interrupt_begin(&is);
        Py_BEGIN_ALLOW_THREADS
        s = tn_model_forward(m, info.dtype, (int64_t)x.shape[0], x.buf, y.buf);
        Py_END_ALLOW_THREADS
        result = interrupt_end(st, &is, s) == 0 ? Py_NewRef(Py_None) : NULL;
    }
    PyBuffer_Release(&x);
    PyBuffer_Release(&y);
    return result;
}

static PyMethodDef module_methods[] = {
    {"model_create", mod_model_create, METH_O,
     "model_create(stages, /)\n--\n\nA tn_model capsule from (kind, activation, dropout, layer) tuples."},
    {"model_load", mod_model_load, METH_O, "model_load(path, /)\n--\n\nA tn_model capsule read from a file."},
    {"model_save", mod_model_save, METH_VARARGS, "model_save(model, path, /)\n--\n\nWrites the model atomically."},
    {"model_stages", mod_model_stages, METH_O,
     "model_stages(model, /)\n--\n\n[(kind, activation, dropout, Layer or None)] of the model."},
    {"model_info", mod_model_info, METH_O, "model_info(model, /)\n--\n\ndtype, widths and stage count."},
    {"model_forward", mod_model_forward, METH_VARARGS,
     "model_forward(model, x, y, /)\n--\n\ny = model(x) through tn_model_forward (2-D C-contiguous arrays)."},

    {"abi_version", mod_abi_version, METH_NOARGS,
     "abi_version()\n--\n\nThe ABI version implemented by the loaded libtnswift."},
    {"version", mod_version, METH_NOARGS,
     "version()\n--\n\nReturn (library version, BLAS configuration) as two strings."},
    {"set_num_threads", mod_set_num_threads, METH_O,
     "set_num_threads(n, /)\n--\n\n"
     "Set the number of threads the engine spreads GEMMs over (OpenBLAS itself runs\n"
     "single-threaded); n <= 0 leaves it unchanged. Returns the previous number."},
    {"tt_svd", mod_tt_svd, METH_VARARGS,
     "tt_svd(x, max_ranks, eps, callback, empty, /)\n--\n\n"
     "TT-SVD of x; returns (cores, errors). eps < 0: none. Arrays come from empty(shape)."},
    {"tt_matrix", mod_tt_matrix, METH_VARARGS,
     "tt_matrix(w, row_modes, col_modes, max_ranks, eps, callback, empty, /)\n--\n\n"
     "TT-matrix decomposition of the 2-D w; returns (cores, errors)."},
    {"tt_round", mod_tt_round, METH_VARARGS,
     "tt_round(cores, max_ranks, eps, empty, /)\n--\n\nTT rounding; returns (cores, errors)."},
    {"tt_inner", mod_tt_inner, METH_VARARGS,
     "tt_inner(a_cores, b_cores, /)\n--\n\nInner product of two TT tensors (a float)."},
    {"tt_add", mod_tt_add, METH_VARARGS,
     "tt_add(a_cores, b_cores, empty, /)\n--\n\nSum of two TT tensors; returns (cores, errors)."},
    {"balanced_modes", mod_balanced_modes, METH_VARARGS,
     "balanced_modes(n, order, /)\n--\n\nFactor n into `order` near-equal integers, largest first."},
    {"cp_als", mod_cp_als, METH_VARARGS,
     "cp_als(x, rank, init, seed, init_arrays, n_iter_max, tol, callback, empty, /)\n--\n\n"
     "CP-ALS; init 0 svd, 1 random, 2 given. Returns ([weights, *factors], errors)."},
    {"tucker", mod_tucker, METH_VARARGS,
     "tucker(x, ranks, eps, method, n_iter_max, tol, callback, empty, /)\n--\n\n"
     "Tucker (method 0 hosvd, 1 hooi). Returns ([core, *factors], errors)."},
    {"layer_create", mod_layer_create, METH_VARARGS,
     "layer_create(kind, dtype, in_modes, out_modes, ranks, equation, param_shapes, bias, seed, /)\n"
     "--\n\nA Layer with fresh parameters (tn_layer_create)."},
    {"layer_from_dense", mod_layer_from_dense, METH_VARARGS,
     "layer_from_dense(kind, weight, bias, in_modes, out_modes, rank, eps, budget, n_iter_max,\n"
     "                 tol, /)\n--\n\n"
     "A Layer fitted to a dense weight; negative rank / eps / budget mean not given."},
    {"conv_create", mod_conv_create, METH_VARARGS,
     "conv_create(kind, dtype, in_channels, out_channels, kernel_size, stride, dilation, padding,\n"
     "            padding_mode, in_modes, out_modes, ranks, bias, seed, /)\n--\n\n"
     "A Conv with fresh parameters (tn_conv_create)."},
    {"embedding_create", mod_embedding_create, METH_VARARGS,
     "embedding_create(dtype, num_embeddings, embedding_dim, n_modes, row_modes, col_modes, ranks,\n"
     "                 padding_idx, std, seed)\n--\n\nAn Embedding with fresh cores (tn_embedding_create)."},
    {"embedding_from_dense", mod_embedding_from_dense, METH_VARARGS,
     "embedding_from_dense(table, n_modes, row_modes, col_modes, rank, eps, padding_idx)\n--\n\n"
     "An Embedding fitted to a dense table (tn_embedding_from_dense)."},
    {"rnn_create", mod_rnn_create, METH_VARARGS,
     "rnn_create(kind, dtype, hidden_size, input_modes, output_modes, ranks, seed, /)\n--\n\n"
     "An RNN (TT-LSTM or TT-GRU) with fresh parameters (tn_rnn_create)."},
    {"ff_create", mod_ff_create, METH_VARARGS,
     "ff_create(dtype, activation, model_modes, hidden_modes, ranks, bias, seed, /)\n--\n\n"
     "A TT feed-forward block with fresh parameters (tn_ff_create)."},
    {"attention_create", mod_attention_create, METH_VARARGS,
     "attention_create(dtype, model_dim, key_length, blocks, rank, bias, softmax_cores, seed, /)\n--\n\n"
     "A multi-linear attention layer with fresh parameters (tn_attention_create)."},
    {"conv_from_dense", mod_conv_from_dense, METH_VARARGS,
     "conv_from_dense(kind, kernel, bias, stride, dilation, padding, padding_mode, in_modes,\n"
     "                out_modes, ranks, eps, n_iter_max, /)\n--\n\n"
     "A Conv fitted to a dense kernel; eps < 0 means not given."},
    {"activation_forward", mod_activation_forward, METH_VARARGS,
     "activation_forward(kind, x, y, /)\n--\n\ny = f(x) (tn_activation kinds 0-4)."},
    {"activation_backward", mod_activation_backward, METH_VARARGS,
     "activation_backward(kind, x, dy, dx, /)\n--\n\ndx = f'(x) * dy."},
    {"cross_entropy", mod_cross_entropy, METH_VARARGS,
     "cross_entropy(logits, labels, grad, /)\n--\n\nMean softmax cross-entropy; grad (or None) gets its gradient."},
    {"mse", mod_mse, METH_VARARGS,
     "mse(pred, target, grad, /)\n--\n\nMean squared error; grad (or None) gets its gradient."},
    {"optimizer_create", mod_optimizer_create, METH_VARARGS,
     "optimizer_create(kind, dtype, lr, momentum, nesterov, beta1, beta2, eps, weight_decay, sizes, /)\n--\n\n"
     "An optimizer (a capsule) for parameters of the given sizes."},
    {"optimizer_step", mod_optimizer_step, METH_VARARGS,
     "optimizer_step(optimizer, dtype, params, grads, /)\n--\n\nOne in-place update of every parameter."},
    {"optimizer_set_lr", mod_optimizer_set_lr, METH_VARARGS,
     "optimizer_set_lr(optimizer, lr, /)\n--\n\nChange the learning rate."},
    {NULL, NULL, 0, NULL},
};

/* ------------------------------------------------------------------------- */
/* Module definition (multi-phase initialisation)                            */
/* ------------------------------------------------------------------------- */

static int
add_object(PyObject *module, const char *name, PyObject *value)
{
    Py_INCREF(value);
    if (PyModule_AddObject(module, name, value) < 0) {
        Py_DECREF(value);
        return -1;
    }
    return 0;
}

static PyObject *
new_exception(PyObject *module, const char *name, const char *doc, PyObject *base1,
              PyObject *base2)
{
    PyObject *bases = base2 ? PyTuple_Pack(2, base1, base2) : PyTuple_Pack(1, base1);
    if (bases == NULL) {
        return NULL;
    }
    char qualified[64];
    PyOS_snprintf(qualified, sizeof qualified, "tnswift.%s", name);
    PyObject *exc = PyErr_NewExceptionWithDoc(qualified, doc, bases, NULL);
    Py_DECREF(bases);
    if (exc == NULL) {
        return NULL;
    }
    if (add_object(module, name, exc) < 0) {
        Py_DECREF(exc);
        return NULL;
    }
    return exc;
}

static int
module_exec(PyObject *module)
{
    uint32_t abi = tn_abi_version();
    if (abi != (uint32_t)TN_ABI_VERSION) {
        PyErr_Format(PyExc_ImportError,
                     "libtnswift implements ABI version %lu but this extension was built for "
                     "ABI version %lu; rebuild tnswift", (unsigned long)abi,
                     (unsigned long)TN_ABI_VERSION);
        return -1;
    }
    /* Signal handlers run on the interpreter's main thread, wherever this import happens. */
    PyObject *threading = PyImport_ImportModule("threading");
    PyObject *main_thread = threading ? PyObject_CallMethod(threading, "main_thread", NULL) : NULL;
    PyObject *ident = main_thread ? PyObject_GetAttrString(main_thread, "ident") : NULL;
    Py_XDECREF(threading);
    Py_XDECREF(main_thread);
    if (ident == NULL) {
        return -1;
    }
    main_thread_ident = PyLong_AsUnsignedLong(ident);
    Py_DECREF(ident);
    if (PyErr_Occurred()) {
        return -1;
    }
    tn_module_state *st = module_state(module);
    st->TNError = new_exception(module, "TNError", "Base class of every tnswift error.",
                                PyExc_Exception, NULL);
    if (st->TNError == NULL) {
        return -1;
    }
    st->SubscriptError = new_exception(module, "SubscriptError",
                                       "Malformed einsum subscripts or ncon network.",
                                       st->TNError, PyExc_ValueError);
    if (st->SubscriptError == NULL) {
        return -1;
    }
    st->ShapeError = new_exception(module, "ShapeError",
                                   "Shapes, ranks or operand counts that do not fit.",
                                   st->TNError, PyExc_ValueError);
    if (st->ShapeError == NULL) {
        return -1;
    }
    st->DTypeError = new_exception(module, "DTypeError", "Unsupported or mismatched dtype.",
                                   st->TNError, PyExc_TypeError);
    if (st->DTypeError == NULL) {
        return -1;
    }
    st->ArgumentError = new_exception(module, "ArgumentError", "Any other invalid argument.",
                                      st->TNError, PyExc_ValueError);
    if (st->ArgumentError == NULL) {
        return -1;
    }
    st->MemoryError = new_exception(module, "TNMemoryError",
                                    "An allocation failed or a size overflows.", st->TNError,
                                    PyExc_MemoryError);
    if (st->MemoryError == NULL) {
        return -1;
    }
    st->PlanType = (PyTypeObject *)PyType_FromModuleAndSpec(module, &Plan_spec, NULL);
    if (st->PlanType == NULL) {
        return -1;
    }
    if (add_object(module, "Plan", (PyObject *)st->PlanType) < 0) {
        return -1;
    }
    st->LayerType = (PyTypeObject *)PyType_FromModuleAndSpec(module, &Layer_spec, NULL);
    if (st->LayerType == NULL || add_object(module, "Layer", (PyObject *)st->LayerType) < 0) {
        return -1;
    }
    st->LayerBufferType = (PyTypeObject *)PyType_FromModuleAndSpec(module, &LayerBuffer_spec, NULL);
    if (st->LayerBufferType == NULL
        || add_object(module, "LayerBuffer", (PyObject *)st->LayerBufferType) < 0) {
        return -1;
    }
    st->ConvType = (PyTypeObject *)PyType_FromModuleAndSpec(module, &Conv_spec, NULL);
    if (st->ConvType == NULL || add_object(module, "Conv", (PyObject *)st->ConvType) < 0) {
        return -1;
    }
    st->EmbeddingType = (PyTypeObject *)PyType_FromModuleAndSpec(module, &Embedding_spec, NULL);
    if (st->EmbeddingType == NULL || add_object(module, "Embedding", (PyObject *)st->EmbeddingType) < 0
        || PyModule_AddIntConstant(module, "EMBEDDING_ROWS", TN_EMBEDDING_ROWS) < 0
        || PyModule_AddIntConstant(module, "EMBEDDING_SUM", TN_EMBEDDING_SUM) < 0
        || PyModule_AddIntConstant(module, "EMBEDDING_MEAN", TN_EMBEDDING_MEAN) < 0) {
        return -1;
    }
    st->RNNType = (PyTypeObject *)PyType_FromModuleAndSpec(module, &RNN_spec, NULL);
    if (st->RNNType == NULL || add_object(module, "RNN", (PyObject *)st->RNNType) < 0
        || PyModule_AddIntConstant(module, "RNN_LSTM", TN_RNN_LSTM) < 0
        || PyModule_AddIntConstant(module, "RNN_GRU", TN_RNN_GRU) < 0) {
        return -1;
    }
    st->FeedForwardType = (PyTypeObject *)PyType_FromModuleAndSpec(module, &FeedForward_spec, NULL);
    if (st->FeedForwardType == NULL || add_object(module, "FeedForward", (PyObject *)st->FeedForwardType) < 0) {
        return -1;
    }
    st->AttentionType = (PyTypeObject *)PyType_FromModuleAndSpec(module, &Attention_spec, NULL);
    if (st->AttentionType == NULL || add_object(module, "Attention", (PyObject *)st->AttentionType) < 0) {
        return -1;
    }
    if (PyModule_AddIntConstant(module, "CONV_DENSE", TN_CONV_DENSE) < 0
        || PyModule_AddIntConstant(module, "CONV_CP", TN_CONV_CP) < 0
        || PyModule_AddIntConstant(module, "CONV_TUCKER", TN_CONV_TUCKER) < 0
        || PyModule_AddIntConstant(module, "CONV_TT", TN_CONV_TT) < 0
        || PyModule_AddIntConstant(module, "CONV_PAD_EXPLICIT", TN_CONV_PAD_EXPLICIT) < 0
        || PyModule_AddIntConstant(module, "CONV_PAD_SAME", TN_CONV_PAD_SAME) < 0
        || PyModule_AddIntConstant(module, "CONV_PAD_VALID", TN_CONV_PAD_VALID) < 0) {
        return -1;
    }
    if (PyModule_AddIntConstant(module, "ABI_VERSION", TN_ABI_VERSION) < 0
        || PyModule_AddIntConstant(module, "FLOAT32", TN_FLOAT32) < 0
        || PyModule_AddIntConstant(module, "FLOAT64", TN_FLOAT64) < 0
        || PyModule_AddIntConstant(module, "OPTIMIZE_AUTO", TN_OPTIMIZE_AUTO) < 0
        || PyModule_AddIntConstant(module, "OPTIMIZE_OPTIMAL", TN_OPTIMIZE_OPTIMAL) < 0
        || PyModule_AddIntConstant(module, "OPTIMIZE_GREEDY", TN_OPTIMIZE_GREEDY) < 0
        || PyModule_AddIntConstant(module, "OPTIMIZE_NONE", TN_OPTIMIZE_NONE) < 0
        || PyModule_AddIntConstant(module, "LAYER_LINEAR", TN_LAYER_LINEAR) < 0
        || PyModule_AddIntConstant(module, "LAYER_TT", TN_LAYER_TT) < 0
        || PyModule_AddIntConstant(module, "LAYER_CP", TN_LAYER_CP) < 0
        || PyModule_AddIntConstant(module, "LAYER_TUCKER", TN_LAYER_TUCKER) < 0
        || PyModule_AddIntConstant(module, "LAYER_EINSUM", TN_LAYER_EINSUM) < 0
        || PyModule_AddIntConstant(module, "LAYER_TCL", TN_LAYER_TCL) < 0
        || PyModule_AddIntConstant(module, "LAYER_TT_TENSOR", TN_LAYER_TT_TENSOR) < 0
        || PyModule_AddIntConstant(module, "STAGE_LAYER", TN_STAGE_LAYER) < 0
        || PyModule_AddIntConstant(module, "STAGE_ACTIVATION", TN_STAGE_ACTIVATION) < 0
        || PyModule_AddIntConstant(module, "STAGE_FLATTEN", TN_STAGE_FLATTEN) < 0
        || PyModule_AddIntConstant(module, "STAGE_DROPOUT", TN_STAGE_DROPOUT) < 0) {
        return -1;
    }
    return 0;
}

static int
module_traverse(PyObject *module, visitproc visit, void *arg)
{
    tn_module_state *st = module_state(module);
    Py_VISIT(st->TNError);
    Py_VISIT(st->SubscriptError);
    Py_VISIT(st->ShapeError);
    Py_VISIT(st->DTypeError);
    Py_VISIT(st->ArgumentError);
    Py_VISIT(st->MemoryError);
    Py_VISIT(st->PlanType);
    Py_VISIT(st->LayerType);
    Py_VISIT(st->LayerBufferType);
    Py_VISIT(st->ConvType);
    Py_VISIT(st->EmbeddingType);
    Py_VISIT(st->RNNType);
    Py_VISIT(st->FeedForwardType);
    Py_VISIT(st->AttentionType);
    return 0;
}

static int
module_clear(PyObject *module)
{
    tn_module_state *st = module_state(module);
    Py_CLEAR(st->TNError);
    Py_CLEAR(st->SubscriptError);
    Py_CLEAR(st->ShapeError);
    Py_CLEAR(st->DTypeError);
    Py_CLEAR(st->ArgumentError);
    Py_CLEAR(st->MemoryError);
    Py_CLEAR(st->PlanType);
    Py_CLEAR(st->LayerType);
    Py_CLEAR(st->LayerBufferType);
    Py_CLEAR(st->ConvType);
    Py_CLEAR(st->EmbeddingType);
    Py_CLEAR(st->RNNType);
    Py_CLEAR(st->FeedForwardType);
    Py_CLEAR(st->AttentionType);
    return 0;
}

static void
module_free(void *module)
{
    module_clear((PyObject *)module);
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
    {0, NULL},
};

static struct PyModuleDef tnswift_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "tnswift._ext",
    .m_doc = "C shim between tnswift (Python) and libtnswift (the Swift engine's C ABI).",
    .m_size = sizeof(tn_module_state),
    .m_methods = module_methods,
    .m_slots = module_slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

PyMODINIT_FUNC
PyInit__ext(void)
{
    return PyModuleDef_Init(&tnswift_module);
}
