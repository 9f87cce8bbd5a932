#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Compare `nxpatch scan --format json` with python3-pefile, field by field.

usage: pefile_compare.py SCAN.json
Prints one line per disagreement and a summary; exits 1 on any."""
import json
import sys

import pefile

DLL_FLAGS = {
    "high_entropy_va": 0x20, "dynamic_base": 0x40, "force_integrity": 0x80,
    "nx_compat": 0x100, "no_isolation": 0x200, "no_seh": 0x400, "no_bind": 0x800,
    "appcontainer": 0x1000, "wdm_driver": 0x2000, "guard_cf": 0x4000,
    "terminal_server_aware": 0x8000,
}
MACHINES = {0x14c: "i386", 0x8664: "amd64", 0xaa64: "arm64", 0x1c0: "arm", 0x1c4: "armnt"}


def expected(path):
    pe = pefile.PE(path, fast_load=True)
    pe.parse_data_directories(directories=[
        pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_IMPORT"]])
    oh = pe.OPTIONAL_HEADER
    e = {}
    e["machine"] = MACHINES.get(pe.FILE_HEADER.Machine, hex(pe.FILE_HEADER.Machine))
    e["format"] = "PE32+" if oh.Magic == 0x20B else "PE32"
    e["dll_characteristics.value"] = oh.DllCharacteristics
    e["dll_characteristics.flags"] = sorted(
        n for n, b in DLL_FLAGS.items() if oh.DllCharacteristics & b)
    e["checksum.stored"] = oh.CheckSum
    e["checksum.computed"] = pe.generate_checksum()
    e["image_base"] = oh.ImageBase
    e["section_alignment"] = oh.SectionAlignment
    e["file_alignment"] = oh.FileAlignment
    e["entry_point.rva"] = oh.AddressOfEntryPoint
    e["sections.count"] = len(pe.sections)
    for i, s in enumerate(pe.sections):
        name = s.Name.rstrip(b"\0").decode("latin-1")
        e[f"sections[{i}].name"] = name
        e[f"sections[{i}].characteristics"] = s.Characteristics
        e[f"sections[{i}].virtual_address"] = s.VirtualAddress
        e[f"sections[{i}].virtual_size"] = s.Misc_VirtualSize
        e[f"sections[{i}].raw_offset"] = s.PointerToRawData
        e[f"sections[{i}].raw_size"] = s.SizeOfRawData
    sec = oh.DATA_DIRECTORY[4] if len(oh.DATA_DIRECTORY) > 4 else None
    e["signature.present"] = bool(sec and sec.Size)
    e["signature.size"] = sec.Size if sec else 0
    rel = oh.DATA_DIRECTORY[5] if len(oh.DATA_DIRECTORY) > 5 else None
    e["relocations.present"] = bool(rel and rel.Size and rel.VirtualAddress)
    e["relocations.stripped"] = bool(pe.FILE_HEADER.Characteristics & 1)
    # pefile's overlay starts after the last section's data; nxpatch's
    # overlay excludes a certificate table at the end.
    ov = pe.get_overlay_data_start_offset()
    size = len(pe.__data__)
    overlay = 0 if ov is None else size - ov
    if sec and sec.Size and ov is not None and sec.VirtualAddress >= ov:
        overlay -= sec.Size
    e["overlay.size"] = overlay
    e["imports"] = [d.dll.decode("latin-1") for d in getattr(pe, "DIRECTORY_ENTRY_IMPORT", [])]
    return e


def actual(f):
    a = {}
    a["machine"] = f["machine"]
    a["format"] = f["format"]
    a["dll_characteristics.value"] = f["dll_characteristics"]["value"]
    a["dll_characteristics.flags"] = sorted(f["dll_characteristics"]["flags"])
    a["checksum.stored"] = f["checksum"]["stored"]
    a["checksum.computed"] = f["checksum"]["computed"]
    a["image_base"] = f["image_base"]
    a["section_alignment"] = f["section_alignment"]
    a["file_alignment"] = f["file_alignment"]
    a["entry_point.rva"] = f["entry_point"]["rva"]
    a["sections.count"] = len(f["sections"])
    for i, s in enumerate(f["sections"]):
        a[f"sections[{i}].name"] = s["name"]
        a[f"sections[{i}].characteristics"] = s["characteristics"]["value"]
        a[f"sections[{i}].virtual_address"] = s["virtual_address"]
        a[f"sections[{i}].virtual_size"] = s["virtual_size"]
        a[f"sections[{i}].raw_offset"] = s["raw_offset"]
        a[f"sections[{i}].raw_size"] = s["raw_size"]
    a["signature.present"] = f["signature"]["present"]
    a["signature.size"] = f["signature"]["size"]
    a["relocations.present"] = f["relocations"]["present"]
    a["relocations.stripped"] = f["relocations"]["stripped"]
    a["overlay.size"] = f["overlay"]["size"]
    a["imports"] = f["imports"]
    return a


def main():
    doc = json.load(open(sys.argv[1]))
    files = doc["files"]
    bad = 0
    fields = 0
    for f in files:
        if f["status"] != "ok":
            print(f"{f['path']}: nxpatch failed: {f['error']}")
            bad += 1
            continue
        exp, act = expected(f["path"]), actual(f)
        for k in exp:
            fields += 1
            if exp[k] != act.get(k):
                print(f"{f['path']}: {k}: pefile {exp[k]!r}, nxpatch {act.get(k)!r}")
                bad += 1
    print(f"pefile_compare: {len(files)} images, {fields} fields compared, {bad} disagreements")
    return 1 if bad or not files else 0


if __name__ == "__main__":
    sys.exit(main())
