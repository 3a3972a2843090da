/* bcryptprimitives.dll for Wine 8, which lacks it: Rust's std imports ProcessPrng from
 * it, so without it every test binary fails to start (exit 53). ProcessPrng here fills
 * the buffer from SystemFunction036 (RtlGenRandom) of advapi32, which Wine has.
 * Built by scripts/wine.sh with x86_64-w64-mingw32-gcc and bcryptprimitives.def. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
