/* SPDX-License-Identifier: Apache-2.0 */
/* overlay64.exe: a 64-bit image with an overlay: the build appends 1000 bytes,
 * "0123456789" repeated 100 times, after the last section. Like an installer
 * reading its payload, the program finds the end of its last section in its own
 * file and checks that the overlay follows. Prints "overlay64: ok". */
#include <stdint.h>
#include <stdio.h>
#include <windows.h>

#define OVERLAY_LEN 1000

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

/* The file offset where the overlay starts, or 0 when the headers make no sense. */
static size_t end_of_sections(const unsigned char *f, size_t n)
{
    if (n < 0x40)
        return 0;
    size_t e = le32(f + 0x3C);
    if (e > n || n - e < 24)
        return 0;
    size_t nsec = le16(f + e + 6), opt = le16(f + e + 20);
    size_t sh = e + 24 + opt, end = 0;
    if (sh > n || (n - sh) / 40 < nsec)
        return 0;
    for (size_t i = 0; i < nsec; i++) {
        const unsigned char *s = f + sh + 40 * i;
        size_t raw_size = le32(s + 16), raw_ptr = le32(s + 20);
        if (raw_size && raw_ptr + raw_size > end)
            end = raw_ptr + raw_size;
    }
    return end;
}

int main(void)
{
    char path[MAX_PATH];
    DWORD len = GetModuleFileNameA(NULL, path, sizeof path);
    if (len == 0 || len >= sizeof path) {
        puts("overlay64: cannot find own path");
        return 1;
    }
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        puts("overlay64: cannot open own file");
        return 1;
    }
    static unsigned char f[4 << 20];
    size_t n = fread(f, 1, sizeof f, fp);
    fclose(fp);
    size_t at = end_of_sections(f, n);
    if (at == 0 || at > n || n - at < OVERLAY_LEN) {
        puts("overlay64: overlay missing");
        return 1;
    }
    for (size_t i = 0; i < OVERLAY_LEN; i++) {
        if (f[at + i] != (unsigned char)('0' + i % 10)) {
            puts("overlay64: overlay corrupted");
            return 1;
        }
    }
    puts("overlay64: ok");
    return 0;
}
