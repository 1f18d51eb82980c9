/* Docker's glibc-era hello-world trick: no C runtime start files. The kernel
 * jumps to _start, which makes its two system calls through glibc's syscall().
 * Built with gcc -static -Os -nostartfiles; the C library never initialises, so
 * only functions that need no setup (syscall on success) may be called. */
#include <sys/syscall.h>
#include <unistd.h>

#include "message.h"

void _start(void) {
    long written = syscall(SYS_write, 1, MESSAGE, sizeof MESSAGE - 1);
    syscall(SYS_exit, written != sizeof MESSAGE - 1);
}
