# SPDX-License-Identifier: Apache-2.0
# cmake -DIN=file -DOUT=file.c -DSYMBOL=name -P embed.cmake
# Writes `const char SYMBOL[]` holding IN's bytes, NUL-terminated.
file(READ "${IN}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
file(WRITE "${OUT}" "/* generated from ${IN} */\n#include <stddef.h>\nconst char ${SYMBOL}[] = {${body}0x00};\nconst size_t ${SYMBOL}_len = sizeof(${SYMBOL}) - 1;\n")
