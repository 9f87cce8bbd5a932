#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The same patch as bench/policy.yaml, written the way users write it today
with pefile: parse, set the fields, generate_checksum(), write.

  pefile_patch.py IN OUT              one image
  pefile_patch.py --list FILE OUTDIR  every path in FILE (one per line), in
                                      one process; OUTDIR/<basename>

Sets IMAGE_DLLCHARACTERISTICS_NX_COMPAT, adds IMAGE_SCN_MEM_EXECUTE to
.rdata, stores the recomputed checksum. Uses pefile.PE(path) with its
default full parse, as its documentation shows; --fast-load parses the
headers only (pefile.PE(path, fast_load=True)).
"""
import os
import sys

import pefile

NX_COMPAT = 0x0100
SCN_MEM_EXECUTE = 0x20000000


def patch(src, dst, fast_load):
    pe = pefile.PE(src, fast_load=fast_load)
    pe.OPTIONAL_HEADER.DllCharacteristics |= NX_COMPAT
    for s in pe.sections:
        if s.Name.rstrip(b"\0") == b".rdata":
            s.Characteristics |= SCN_MEM_EXECUTE
            break
    pe.OPTIONAL_HEADER.CheckSum = pe.generate_checksum()
    pe.write(filename=dst)
    pe.close()


def main(argv):
    fast = "--fast-load" in argv
    args = [a for a in argv if a != "--fast-load"]
    if len(args) == 3 and args[0] == "--list":
        with open(args[1]) as f:
            paths = [line.rstrip("\n") for line in f if line.strip()]
        for p in paths:
            patch(p, os.path.join(args[2], os.path.basename(p)), fast)
        return 0
    if len(args) == 2:
        patch(args[0], args[1], fast)
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
