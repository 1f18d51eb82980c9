/* The classic hello world, through stdio: what `gcc -static` and tcc build.
 * message.h (MESSAGE) is written by `cargo xtask report`. */
#include <stdio.h>

#include "message.h"

int main(void) {
    /* fwrite, not printf: the message is bytes and may hold a '%' or a NUL. */
    if (fwrite(MESSAGE, 1, sizeof MESSAGE - 1, stdout) != sizeof MESSAGE - 1)
        return 1;
    return fflush(stdout) != 0;
}
