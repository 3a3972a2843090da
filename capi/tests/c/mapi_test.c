/*
 * mapi_test.c: checks every rule of mapi_alloc.h through the C ABI of
 * linked-alloc-capi. Prints one line per failed check and "N passed, M failed";
 * exits 1 if any check failed.
 *
 * Build flags that the runner (capi/tests/c_abi.rs) sets from the backend:
 *   -DMAPI_TEST_TELLS_CHILDREN     the backend's block_status tells a child from a
 *                                  root, so MAPIFreeBuffer on a child must be refused.
 *   -DMAPI_TEST_CHECKS_ANY_POINTER the backend's block_status checks any pointer, so
 *                                  foreign, interior and freed pointers must be refused.
 *   -DMAPI_TEST_POOL_BYTES=n       the backend is a fixed pool of n bytes, so it can be
 *                                  exhausted for real.
 */
#define _POSIX_C_SOURCE 200809L
#include "mapi_alloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/resource.h>
#define MAPI_TEST_HAVE_RLIMIT 1
#endif

static int passed, failed;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (cond) {                                                            \
            passed++;                                                          \
        } else {                                                               \
            failed++;                                                          \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);    \
        }                                                                      \
    } while (0)

/* A non-NULL pointer that is no buffer: what an out-pointer holds before a call, to
 * see that a failing call sets it to NULL. */
static LPVOID sentinel(void) {
    static uint64_t word;
    return &word;
}

static int aligned(LPVOID p) {
    return ((uintptr_t)p % (2 * sizeof(void *))) == 0;
}

static int stats_equal(LinkedAllocStats a, LinkedAllocStats b) {
    return a.roots == b.roots && a.children == b.children &&
           a.bytes_in_use == b.bytes_in_use;
}

static unsigned char pattern(size_t seed, size_t i) {
    return (unsigned char)((seed * 31 + i * 7) % 251);
}

static void fill(LPVOID p, size_t len, size_t seed) {
    unsigned char *b = p;
    for (size_t i = 0; i < len; i++) b[i] = pattern(seed, i);
}

static int intact(LPVOID p, size_t len, size_t seed) {
    const unsigned char *b = p;
    for (size_t i = 0; i < len; i++)
        if (b[i] != pattern(seed, i)) return 0;
    return 1;
}

/* MAPIAllocateBuffer: S_OK, aligned, writable, distinct buffers of every size, 0
 * included; MAPIFreeBuffer frees each with S_OK. */
static void test_allocate_buffer(void) {
    static const ULONG sizes[] = {0, 0, 1, 7, 16, 17, 100, 4096, 100000};
    enum { N = sizeof sizes / sizeof sizes[0] };
    LPVOID buffers[N];
    LinkedAllocStats before = linked_alloc_stats();
    for (size_t i = 0; i < N; i++) {
        buffers[i] = sentinel();
        CHECK(MAPIAllocateBuffer(sizes[i], &buffers[i]) == S_OK);
        CHECK(buffers[i] != NULL && buffers[i] != sentinel());
        CHECK(aligned(buffers[i]));
        fill(buffers[i], sizes[i], i);
    }
    for (size_t i = 0; i < N; i++)
        for (size_t j = i + 1; j < N; j++) CHECK(buffers[i] != buffers[j]);
    CHECK(linked_alloc_stats().roots == before.roots + N);
    for (size_t i = 0; i < N; i++) {
        CHECK(intact(buffers[i], sizes[i], i));
        CHECK(MAPIFreeBuffer(buffers[i]) == S_OK);
    }
    CHECK(stats_equal(linked_alloc_stats(), before));
}

/* NULL lppBuffer, NULL lpObject: MAPI_E_INVALID_PARAMETER, nothing allocated,
 * *lppBuffer NULL. MAPIFreeBuffer(NULL): S_OK, nothing done. */
static void test_null_parameters(void) {
    LinkedAllocStats before = linked_alloc_stats();
    CHECK(MAPIAllocateBuffer(8, NULL) == MAPI_E_INVALID_PARAMETER);
    CHECK(stats_equal(linked_alloc_stats(), before));

    LPVOID out = sentinel();
    CHECK(MAPIAllocateMore(8, NULL, &out) == MAPI_E_INVALID_PARAMETER);
    CHECK(out == NULL);
    CHECK(stats_equal(linked_alloc_stats(), before));

    LPVOID root = NULL;
    CHECK(MAPIAllocateBuffer(8, &root) == S_OK);
    LinkedAllocStats with_root = linked_alloc_stats();
    CHECK(MAPIAllocateMore(8, root, NULL) == MAPI_E_INVALID_PARAMETER);
    CHECK(stats_equal(linked_alloc_stats(), with_root));
    CHECK(MAPIFreeBuffer(root) == S_OK);

    CHECK(MAPIFreeBuffer(NULL) == S_OK);
    CHECK(stats_equal(linked_alloc_stats(), before));
}

/* MAPIAllocateMore on the root and on buffers it made: all join the root's chain and
 * keep their bytes; one MAPIFreeBuffer frees them all (many children: no recursion). */
static void test_allocate_more_chain(void) {
    enum { N = 10000 };
    static LPVOID blocks[N + 1];
    LinkedAllocStats before = linked_alloc_stats();
    CHECK(MAPIAllocateBuffer(24, &blocks[0]) == S_OK);
    fill(blocks[0], 24, 0);
    int all_ok = 1;
    for (size_t i = 1; i <= N; i++) {
        LPVOID parent = (i % 3 == 0) ? blocks[0] : (i % 3 == 1) ? blocks[i - 1] : blocks[i / 2];
        size_t cb = (i * 13) % 300;
        blocks[i] = sentinel();
        if (MAPIAllocateMore((ULONG)cb, parent, &blocks[i]) != S_OK || blocks[i] == NULL ||
            !aligned(blocks[i])) {
            all_ok = 0;
            break;
        }
        fill(blocks[i], cb, i);
    }
    CHECK(all_ok);
    LinkedAllocStats live = linked_alloc_stats();
    CHECK(live.roots == before.roots + 1);
    CHECK(live.children == before.children + N);
    int intact_all = intact(blocks[0], 24, 0);
    for (size_t i = 1; all_ok && i <= N; i++)
        intact_all &= intact(blocks[i], (i * 13) % 300, i);
    CHECK(intact_all);
    CHECK(MAPIFreeBuffer(blocks[0]) == S_OK);
    CHECK(stats_equal(linked_alloc_stats(), before));
}

/* MAPIFreeBuffer on a buffer made by MAPIAllocateMore: refused where the backend
 * tells children apart; the child, its root and the stats stay as they were. */
static void test_free_child_is_refused(void) {
#ifdef MAPI_TEST_TELLS_CHILDREN
    LinkedAllocStats before = linked_alloc_stats();
    LPVOID root = NULL, child = NULL, more = NULL;
    CHECK(MAPIAllocateBuffer(16, &root) == S_OK);
    CHECK(MAPIAllocateMore(40, root, &child) == S_OK);
    fill(child, 40, 7);
    LinkedAllocStats live = linked_alloc_stats();
    CHECK(MAPIFreeBuffer(child) == (ULONG)MAPI_E_INVALID_PARAMETER);
    CHECK(stats_equal(linked_alloc_stats(), live));
    CHECK(intact(child, 40, 7));
    CHECK(MAPIAllocateMore(8, child, &more) == S_OK); /* the child is still live */
    CHECK(MAPIFreeBuffer(root) == S_OK);
    CHECK(stats_equal(linked_alloc_stats(), before));
#else
    printf("skipped: MAPIFreeBuffer on a child (this backend cannot tell children)\n");
#endif
}

/* Where the backend checks any pointer: a foreign pointer, an interior pointer and a
 * freed one are refused by MAPIAllocateMore and MAPIFreeBuffer, and nothing changes. */
static void test_bad_pointers_are_refused(void) {
#ifdef MAPI_TEST_CHECKS_ANY_POINTER
    LinkedAllocStats before = linked_alloc_stats();
    uint64_t local[4] = {0, 0, 0, 0};
    LPVOID out = sentinel();
    CHECK(MAPIAllocateMore(8, local, &out) == MAPI_E_INVALID_PARAMETER);
    CHECK(out == NULL);
    CHECK(MAPIFreeBuffer(local) == (ULONG)MAPI_E_INVALID_PARAMETER);
    CHECK(local[0] == 0 && local[1] == 0 && local[2] == 0 && local[3] == 0);

    LPVOID root = NULL, child = NULL;
    CHECK(MAPIAllocateBuffer(64, &root) == S_OK);
    CHECK(MAPIAllocateMore(64, root, &child) == S_OK);
    LinkedAllocStats live = linked_alloc_stats();
    LPVOID interior = (unsigned char *)root + 2 * sizeof(void *);
    out = sentinel();
    CHECK(MAPIAllocateMore(8, interior, &out) == MAPI_E_INVALID_PARAMETER);
    CHECK(out == NULL);
    CHECK(MAPIFreeBuffer(interior) == (ULONG)MAPI_E_INVALID_PARAMETER);
    CHECK(stats_equal(linked_alloc_stats(), live));
    CHECK(MAPIFreeBuffer(root) == S_OK);
    CHECK(stats_equal(linked_alloc_stats(), before));
    /* Freed: both the root and its child are dead now. */
    CHECK(MAPIFreeBuffer(root) == (ULONG)MAPI_E_INVALID_PARAMETER);
    out = sentinel();
    CHECK(MAPIAllocateMore(8, child, &out) == MAPI_E_INVALID_PARAMETER);
    CHECK(out == NULL);
    CHECK(stats_equal(linked_alloc_stats(), before));
#else
    printf("skipped: foreign and freed pointers (this backend checks live blocks only)\n");
#endif
}

/* A fixed pool runs out for real: MAPI_E_NOT_ENOUGH_MEMORY with *lppBuffer NULL, and
 * once the roots are freed the whole pool is usable again. */
static void test_pool_exhaustion(void) {
#ifdef MAPI_TEST_POOL_BYTES
    enum { CHUNK = 64 * 1024, MAX_ROOTS = (MAPI_TEST_POOL_BYTES) / CHUNK + 2 };
    static LPVOID roots[MAX_ROOTS];
    LinkedAllocStats before = linked_alloc_stats();
    size_t n = 0;
    SCODE sc = S_OK;
    while (n < MAX_ROOTS) {
        LPVOID p = sentinel();
        sc = MAPIAllocateBuffer(CHUNK, &p);
        if (sc != S_OK) {
            CHECK(p == NULL);
            break;
        }
        roots[n++] = p;
    }
    CHECK(sc == MAPI_E_NOT_ENOUGH_MEMORY);
    CHECK(n > 0 && n < MAX_ROOTS);
    if (n > 0) {
        LPVOID out = sentinel();
        CHECK(MAPIAllocateMore(CHUNK, roots[0], &out) == MAPI_E_NOT_ENOUGH_MEMORY);
        CHECK(out == NULL);
    }
    for (size_t i = 0; i < n; i++) CHECK(MAPIFreeBuffer(roots[i]) == S_OK);
    CHECK(stats_equal(linked_alloc_stats(), before));
    /* Everything is back: the same number of chunks fits again. */
    size_t again = 0;
    while (again < n && MAPIAllocateBuffer(CHUNK, &roots[again]) == S_OK) again++;
    CHECK(again == n);
    for (size_t i = 0; i < again; i++) CHECK(MAPIFreeBuffer(roots[i]) == S_OK);
    CHECK(stats_equal(linked_alloc_stats(), before));
#else
    printf("skipped: exhausting a fixed pool (this backend is not one)\n");
#endif
}

/* A MAPI-style structure: an SPropValue-like array whose strings are allocated with
 * MAPIAllocateMore on the array, their pointers stored inside it; one call frees all. */
typedef struct {
    ULONG ulPropTag;
    ULONG dwAlignPad;
    union {
        long l;
        char *lpszA;
    } Value;
} PropValue;

static void test_property_row(void) {
    static const char *const names[] = {"Display name", "", "alice@example.com", "x"};
    enum { N = sizeof names / sizeof names[0] };
    LinkedAllocStats before = linked_alloc_stats();
    PropValue *row = NULL;
    CHECK(MAPIAllocateBuffer((ULONG)(N * sizeof(PropValue)), (LPVOID *)&row) == S_OK);
    if (row == NULL) return;
    for (size_t i = 0; i < N; i++) {
        row[i].ulPropTag = 0x3001001E + (ULONG)i;
        row[i].dwAlignPad = 0;
        size_t len = strlen(names[i]) + 1;
        CHECK(MAPIAllocateMore((ULONG)len, row, (LPVOID *)&row[i].Value.lpszA) == S_OK);
        if (row[i].Value.lpszA == NULL) return;
        memcpy(row[i].Value.lpszA, names[i], len);
    }
    CHECK(linked_alloc_stats().children == before.children + N);
    for (size_t i = 0; i < N; i++) {
        CHECK(row[i].ulPropTag == 0x3001001E + (ULONG)i);
        CHECK(strcmp(row[i].Value.lpszA, names[i]) == 0);
    }
    CHECK(MAPIFreeBuffer(row) == S_OK);
    CHECK(stats_equal(linked_alloc_stats(), before));
}

/* Out of memory: MAPI_E_NOT_ENOUGH_MEMORY, *lppBuffer NULL, the heap still usable.
 * A 4 GiB request (cbSize = 0xFFFFFFFF) under an address-space limit of 3 GiB. */
static void test_out_of_memory(void) {
#ifdef MAPI_TEST_HAVE_RLIMIT
    struct rlimit saved, low;
    if (getrlimit(RLIMIT_AS, &saved) != 0) {
        CHECK(!"getrlimit(RLIMIT_AS)");
        return;
    }
    low = saved;
    rlim_t cap = (rlim_t)3 << 30;
    if (low.rlim_cur == RLIM_INFINITY || low.rlim_cur > cap) low.rlim_cur = cap;
    CHECK(setrlimit(RLIMIT_AS, &low) == 0);

    LinkedAllocStats before = linked_alloc_stats();
    LPVOID out = sentinel();
    CHECK(MAPIAllocateBuffer(0xFFFFFFFFu, &out) == MAPI_E_NOT_ENOUGH_MEMORY);
    CHECK(out == NULL);
    CHECK(stats_equal(linked_alloc_stats(), before));

    LPVOID root = NULL;
    CHECK(MAPIAllocateBuffer(32, &root) == S_OK);
    LinkedAllocStats live = linked_alloc_stats();
    out = sentinel();
    CHECK(MAPIAllocateMore(0xFFFFFFFFu, root, &out) == MAPI_E_NOT_ENOUGH_MEMORY);
    CHECK(out == NULL);
    CHECK(stats_equal(linked_alloc_stats(), live));
    CHECK(MAPIAllocateMore(32, root, &out) == S_OK && out != NULL);
    CHECK(MAPIFreeBuffer(root) == S_OK);
    CHECK(stats_equal(linked_alloc_stats(), before));

    CHECK(setrlimit(RLIMIT_AS, &saved) == 0);
#else
    printf("skipped: out of memory (no setrlimit on this platform)\n");
#endif
}

int main(void) {
    LinkedAllocStats start = linked_alloc_stats();
    test_allocate_buffer();
    test_null_parameters();
    test_allocate_more_chain();
    test_free_child_is_refused();
    test_bad_pointers_are_refused();
    test_pool_exhaustion();
    test_property_row();
    test_out_of_memory();
    /* Nothing leaked, whatever the backend. */
    CHECK(stats_equal(linked_alloc_stats(), start));
    CHECK(start.roots == 0 && start.children == 0 && start.bytes_in_use == 0);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
