/* Docker's hello-world program as it is built today: main() makes one write
 * system call; musl's start files and exit do the rest.
 * Built with musl-gcc -Os -static, --gc-sections and -z norelro, stripped. */
#include <sys/syscall.h>
#include <unistd.h>

#include "message.h"

int main(void) {
    long written = syscall(SYS_write, STDOUT_FILENO, MESSAGE, sizeof MESSAGE - 1);
    return written != sizeof MESSAGE - 1;
}
