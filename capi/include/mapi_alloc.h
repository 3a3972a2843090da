/*
 * mapi_alloc.h: MAPI's three memory calls, from linked-alloc-capi.
 *
 *   SCODE MAPIAllocateBuffer(ULONG cbSize, LPVOID *lppBuffer);
 *   SCODE MAPIAllocateMore(ULONG cbSize, LPVOID lpObject, LPVOID *lppBuffer);
 *   ULONG MAPIFreeBuffer(LPVOID lpBuffer);
 *
 * Link with liblinked_alloc_capi.a (plus, for the static library on Linux:
 * -lpthread -ldl -lm) or liblinked_alloc_capi.so. The backend (platform heap,
 * anonymous pages, or a fixed pool) is chosen when the library is built (cargo
 * features system, mmap, pool).
 *
 * The rules (Microsoft's reference and Wine's mapi32):
 * - cbSize is a 32-bit ULONG; 0 is valid. Every buffer is aligned to
 *   2 * sizeof(void *) (16 on 64-bit targets), as malloc's.
 * - MAPIAllocateBuffer / MAPIAllocateMore return S_OK and store the buffer in
 *   *lppBuffer; MAPI_E_NOT_ENOUGH_MEMORY if memory runs out;
 *   MAPI_E_INVALID_PARAMETER if lppBuffer is NULL, or (MAPIAllocateMore) lpObject
 *   is NULL. When lppBuffer is not NULL and a call fails, *lppBuffer is NULL.
 * - MAPIAllocateMore links the new buffer to the root of lpObject: lpObject may be
 *   the root or a buffer already made by MAPIAllocateMore. It takes O(1) time.
 * - MAPIFreeBuffer(root) frees the root and every buffer linked to it, and returns
 *   S_OK. MAPIFreeBuffer(NULL) returns S_OK and does nothing.
 * - Beyond MAPI: MAPIFreeBuffer on a buffer made by MAPIAllocateMore frees nothing
 *   and returns (ULONG)MAPI_E_INVALID_PARAMETER (every backend tells children from
 *   roots). With the pool backend, which checks any pointer, a foreign, interior or
 *   already freed pointer is refused the same way by MAPIFreeBuffer and by
 *   MAPIAllocateMore (MAPI_E_INVALID_PARAMETER). With the platform-heap and page
 *   backends, freeing a buffer twice or passing a foreign pointer is still undefined
 *   behaviour, as in MAPI.
 * - The calls are thread-safe; freeing a root while another thread allocates under
 *   it is the caller's error, as in MAPI.
 *
 * Types: if the Windows or Wine headers (or a real mapix.h) are included before this
 * one, their SCODE, ULONG and LPVOID are used, and with mapix.h its declarations of
 * the three calls too. Otherwise this header defines them with MAPI's sizes: SCODE is
 * a 32-bit signed LONG, ULONG a 32-bit unsigned. Define MAPI_ALLOC_HAVE_MAPI_TYPES
 * before including it to bring your own types. Include the Windows headers first, not
 * after. The functions use the C calling convention: on 32-bit x86 Windows, where
 * MAPI's own are __stdcall, do not mix these declarations with mapix.h's.
 */
#ifndef LINKED_ALLOC_MAPI_ALLOC_H
#define LINKED_ALLOC_MAPI_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if !defined(MAPI_ALLOC_HAVE_MAPI_TYPES) && !defined(MAPIX_H) && !defined(_WINDEF_) \
    && !defined(_MINWINDEF_)
typedef int32_t SCODE;  /* MAPI's LONG status code: 0 is success, < 0 failure */
typedef uint32_t ULONG; /* MAPI's 32-bit unsigned integer */
typedef void *LPVOID;   /* an untyped buffer pointer */
#endif

#ifndef S_OK
#define S_OK ((SCODE)0)
#endif
#ifndef MAPI_E_NOT_ENOUGH_MEMORY
#define MAPI_E_NOT_ENOUGH_MEMORY ((SCODE)0x8007000EL) /* E_OUTOFMEMORY */
#endif
#ifndef MAPI_E_INVALID_PARAMETER
#define MAPI_E_INVALID_PARAMETER ((SCODE)0x80070057L) /* E_INVALIDARG */
#endif

#if !defined(MAPIX_H)
/* A root buffer of cbSize bytes in *lppBuffer. */
SCODE MAPIAllocateBuffer(ULONG cbSize, LPVOID *lppBuffer);
/* A buffer of cbSize bytes linked to lpObject's root, in *lppBuffer. */
SCODE MAPIAllocateMore(ULONG cbSize, LPVOID lpObject, LPVOID *lppBuffer);
/* Frees a root buffer and every buffer linked to it. */
ULONG MAPIFreeBuffer(LPVOID lpBuffer);
#endif

/* An extension of this library, not a MAPI call: what is live in its heap now (live
 * root buffers, live buffers made by MAPIAllocateMore, and their bytes as requested),
 * so that a test can prove that nothing leaked, whatever the backend. */
typedef struct LinkedAllocStats {
    size_t roots;
    size_t children;
    size_t bytes_in_use;
} LinkedAllocStats;
LinkedAllocStats linked_alloc_stats(void);

#ifdef __cplusplus
}
#endif

#endif /* LINKED_ALLOC_MAPI_ALLOC_H */
