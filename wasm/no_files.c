/* no_files.c - the reactor module has no file system.
 *
 * JavaScript hands the module bytes, never paths, so the core's FILE*
 * branch (reader.c) is dead code here; but it is linked, and wasi-libc's
 * stdio would bring in WASI imports (fd_close, fd_seek, fd_write), which
 * would stop WebAssembly.instantiate(bytes, {}) from working. These
 * definitions take the place of wasi-libc's (each of its stdio functions
 * is its own archive member, so the linker simply does not pull them) and
 * fail cleanly: the core then reports BS_ERR_IO as it would for any
 * unreadable file. Linked into bitstack.wasm only; the test modules keep
 * the real stdio. */
#include <errno.h>
#include <stdio.h>

FILE *fopen(const char *restrict path, const char *restrict mode) {
    (void)path, (void)mode;
    errno = ENOSYS;
    return NULL;
}

int fclose(FILE *f) {
    (void)f;
    return EOF;
}

int fseeko(FILE *f, off_t off, int whence) {
    (void)f, (void)off, (void)whence;
    errno = ENOSYS;
    return -1;
}

off_t ftello(FILE *f) {
    (void)f;
    errno = ENOSYS;
    return -1;
}

size_t fread(void *restrict dst, size_t size, size_t n, FILE *restrict f) {
    (void)dst, (void)size, (void)n, (void)f;
    return 0;
}
