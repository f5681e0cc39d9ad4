#include "TNKernels.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

// A pool of worker threads for the engine's parallel loops. Dispatch's concurrentPerform
// takes ~14 µs to wake its second thread, as long as a whole small GEMM here; these workers
// spin for a while after each loop, so back-to-back loops (a plan's instructions, a training
// step) start on both cores within a microsecond. Idle workers then sleep on a condition.
//
// A loop is published as one 64-bit ticket: the loop's generation in the high bits and the
// next unclaimed index in the low ones. Claiming an index is a compare-and-swap of the ticket,
// so a thread that read a finished loop's fields cannot claim an index of a later loop.

#define INDEX_BITS 24
#define INDEX_MASK ((UINT64_C(1) << INDEX_BITS) - 1)
#define MAX_WORKERS 63
// How long an idle worker spins before it sleeps, and after how long its spinning yields.
#define SPIN_NANOSECONDS 500000L
#define YIELD_AFTER_NANOSECONDS 20000L

static _Atomic uint64_t ticket;           // generation << INDEX_BITS | next index
static _Atomic(tnk_task) loopTask;
static _Atomic(void *) loopContext;
static _Atomic long loopCount;
static _Atomic long loopDone;             // indices finished in the current loop
static atomic_int busy;                   // a loop is running (nested or concurrent loops run inline)
static atomic_int sleepers;
static atomic_int started;                // workers created (changed under startLock)
static pthread_mutex_t startLock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t sleepLock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;

static inline void relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

static long nanoseconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000000000L + t.tv_nsec;
}

// Claims and runs indices of the loop whose ticket was `seen` until none is left or the
// ticket moves to another loop.
static void work(uint64_t seen) {
    uint64_t t = seen;
    for (;;) {
        tnk_task task = atomic_load_explicit(&loopTask, memory_order_acquire);
        void *context = atomic_load_explicit(&loopContext, memory_order_acquire);
        long count = atomic_load_explicit(&loopCount, memory_order_acquire);
        long index = (long)(t & INDEX_MASK);
        if (index >= count) return;
        if (!atomic_compare_exchange_weak_explicit(&ticket, &t, t + 1, memory_order_acq_rel, memory_order_acquire)) {
            if ((t >> INDEX_BITS) != (seen >> INDEX_BITS)) return;   // another loop now
            continue;
        }
        task(context, index);
        atomic_fetch_add_explicit(&loopDone, 1, memory_order_acq_rel);
        t = atomic_load_explicit(&ticket, memory_order_acquire);
        if ((t >> INDEX_BITS) != (seen >> INDEX_BITS)) return;
    }
}

static void *workerMain(void *unused) {
    (void)unused;
    uint64_t generation = atomic_load(&ticket) >> INDEX_BITS;
    for (;;) {
        uint64_t t = atomic_load_explicit(&ticket, memory_order_acquire);
        if ((t >> INDEX_BITS) != generation) {
            generation = t >> INDEX_BITS;
            work(t);
            continue;
        }
        long start = nanoseconds();
        int spins = 0, yielding = 0;
        while ((atomic_load_explicit(&ticket, memory_order_acquire) >> INDEX_BITS) == generation) {
            // Past the first few microseconds, spin with sched_yield so that other runnable
            // threads (the caller's own, on a busy machine) are not kept off this CPU.
            if (yielding) sched_yield(); else relax();
            if (++spins % 64 != 0) continue;
            long idle = nanoseconds() - start;
            yielding = idle > YIELD_AFTER_NANOSECONDS;
            if (idle > SPIN_NANOSECONDS) {
                pthread_mutex_lock(&sleepLock);
                atomic_fetch_add(&sleepers, 1);
                while ((atomic_load(&ticket) >> INDEX_BITS) == generation) pthread_cond_wait(&wake, &sleepLock);
                atomic_fetch_sub(&sleepers, 1);
                pthread_mutex_unlock(&sleepLock);
            }
        }
    }
    return NULL;
}

// After fork only the forking thread exists: the child starts its own workers when needed.
static void afterForkInChild(void) {
    atomic_store(&started, 0);
    atomic_store(&busy, 0);
    atomic_store(&sleepers, 0);
    pthread_mutex_init(&startLock, NULL);
    pthread_mutex_init(&sleepLock, NULL);
    pthread_cond_init(&wake, NULL);
}

static long cpus = 1;
static pthread_once_t setUp = PTHREAD_ONCE_INIT;

static void setUpPool(void) {
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    cpus = online >= 1 ? online : 1;
    pthread_atfork(NULL, NULL, afterForkInChild);
}

// Starts workers until `wanted` exist (at most one fewer than the online CPUs: more would
// spin against each other); returns how many exist.
static int ensureWorkers(int wanted) {
    pthread_once(&setUp, setUpPool);
    if (wanted > cpus - 1) wanted = (int)(cpus - 1);
    if (wanted > MAX_WORKERS) wanted = MAX_WORKERS;
    int existing = atomic_load_explicit(&started, memory_order_acquire);
    if (existing >= wanted) return existing;
    pthread_mutex_lock(&startLock);
    while (atomic_load(&started) < wanted) {
        pthread_t thread;
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        int failed = pthread_create(&thread, &attributes, workerMain, NULL);
        pthread_attr_destroy(&attributes);
        if (failed) break;
        atomic_fetch_add(&started, 1);
    }
    int result = atomic_load(&started);
    pthread_mutex_unlock(&startLock);
    return result;
}

void tnk_parallel_for(long count, int threads, tnk_task task, void *context) {
    if (count <= 0) return;
    int expected = 0;
    if (threads < 2 || count < 2 || count > (long)INDEX_MASK
        || !atomic_compare_exchange_strong(&busy, &expected, 1)) {
        for (long i = 0; i < count; i++) task(context, i);
        return;
    }
    if (ensureWorkers(threads - 1) == 0) {
        atomic_store(&busy, 0);
        for (long i = 0; i < count; i++) task(context, i);
        return;
    }
    // The previous loop is finished (busy was 0), so no thread uses these fields until the
    // new ticket is published.
    atomic_store_explicit(&loopTask, task, memory_order_relaxed);
    atomic_store_explicit(&loopContext, context, memory_order_relaxed);
    atomic_store_explicit(&loopCount, count, memory_order_relaxed);
    atomic_store_explicit(&loopDone, 0, memory_order_relaxed);
    uint64_t generation = (atomic_load(&ticket) >> INDEX_BITS) + 1;
    uint64_t published = generation << INDEX_BITS;
    atomic_store(&ticket, published);
    if (atomic_load(&sleepers) > 0) {
        pthread_mutex_lock(&sleepLock);
        pthread_cond_broadcast(&wake);
        pthread_mutex_unlock(&sleepLock);
    }
    work(published);
    // Wait for indices other threads claimed; yield if one of them was descheduled.
    int spins = 0;
    while (atomic_load_explicit(&loopDone, memory_order_acquire) < count) {
        if (++spins < 4096) relax(); else sched_yield();
    }
    atomic_store_explicit(&busy, 0, memory_order_release);
}
