# SPDX-License-Identifier: Apache-2.0
# cmake -DOUT=file -P make_overlay.cmake: writes the 1000-byte overlay pattern,
# "0123456789" repeated 100 times (no newline).
string(REPEAT "0123456789" 100 pattern)
file(WRITE "${OUT}" "${pattern}")
