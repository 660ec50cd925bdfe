#!/usr/bin/env python3
"""Checks that include/signbridge.pas mirrors include/signbridge.h.

Every function of the header must be declared in the unit, `cdecl` and `external`, with the same
number of parameters, as a procedure when it returns void and a function otherwise; the unit
must declare no function the header lacks. The host-signer callback type must have the same
arity. Every integer constant of the header must exist in the unit with the same value, except
the version macros (SIGNBRIDGE_VERSION_*), which the unit does not mirror so that a version bump
never needs a hand edit. SIGNBRIDGE_ABI_VERSION is SIGNBRIDGE_UNIT_ABI_VERSION in the unit: Pascal
identifiers ignore case, and the function signbridge_abi_version owns that name.

    scripts/check-pascal-unit.py [HEADER [UNIT]]
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RENAMED = {"SIGNBRIDGE_ABI_VERSION": "SIGNBRIDGE_UNIT_ABI_VERSION"}
CALLBACK = ("signbridge_sign_callback", "TSignbridgeSignCallback")


def c_arity(params: str) -> int:
    params = params.strip()
    return 0 if params in ("", "void") else params.count(",") + 1


def pascal_arity(params: str | None) -> int:
    """`out A, B: T; C: U` declares three parameters."""
    if not params or not params.strip():
        return 0
    return sum(group.split(":")[0].count(",") + 1 for group in params.split(";"))


def parse_header(text: str):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    functions = {}
    for m in re.finditer(r"^(?!typedef)([A-Za-z_][\w \*]*?)\b(signbridge_\w+)\s*\(([^;]*?)\)\s*;", text, re.M):
        functions[m.group(2)] = (m.group(1).strip() == "void", c_arity(m.group(3)))
    callback = re.search(r"\(\*\s*" + CALLBACK[0] + r"\)\s*\(([^;]*?)\)\s*;", text, re.S)
    constants = {
        m.group(1): int(m.group(2))
        for m in re.finditer(r"^#define\s+(SIGNBRIDGE_\w+)\s+(-?\d+)\s*$", text, re.M)
        if not m.group(1).startswith("SIGNBRIDGE_VERSION_")
    }
    return functions, c_arity(callback.group(1)) if callback else None, constants


def nested_brace_comments(text: str) -> list[str]:
    """`{ ... }` comments do not nest in Free Pascal or Delphi: a `{` inside one (JSON in a
    comment, say) means its first `}` ends it early and the rest is read as code."""
    problems = []
    for m in re.finditer(r"\{(?!\$)(.*?)\}", text, flags=re.S):
        if "{" in m.group(1):
            line = text.count("\n", 0, m.start()) + 1
            problems.append(f"line {line}: a {{ }} comment holds a brace; write it as (* ... *)")
    return problems


def parse_unit(text: str):
    nested = nested_brace_comments(text)
    text = re.sub(r"\{.*?\}|\(\*.*?\*\)", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    problems, functions = nested, {}
    for m in re.finditer(
        r"\b(function|procedure)\s+(signbridge_\w+)\s*(?:\((.*?)\))?\s*(?::\s*\w+)?\s*;(.*?);\s*(?=\n)",
        text,
        re.S | re.I,
    ):
        kind, name, params, directives = m.groups()
        words = re.findall(r"\w+", directives.lower())
        if "cdecl" not in words or "external" not in words:
            problems.append(f"{name}: must be `cdecl; external SignbridgeLib`")
        if "stdcall" in words:
            problems.append(f"{name}: stdcall (must be cdecl)")
        functions[name] = (kind.lower() == "procedure", pascal_arity(params))
    callback = re.search(
        CALLBACK[1] + r"\s*=\s*function\s*\((.*?)\)\s*:\s*\w+\s*;\s*cdecl", text, re.S | re.I
    )
    constants = {
        m.group(1): int(m.group(2))
        for m in re.finditer(r"^\s*(SIGNBRIDGE_\w+)\s*=\s*(-?\d+)\s*;", text, re.M)
    }
    return functions, pascal_arity(callback.group(1)) if callback else None, constants, problems


def main() -> int:
    header = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "include/signbridge.h"
    unit = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "include/signbridge.pas"
    h_funcs, h_callback, h_consts = parse_header(header.read_text(encoding="utf-8"))
    p_funcs, p_callback, p_consts, problems = parse_unit(unit.read_text(encoding="utf-8"))
    if not h_funcs:
        problems.append(f"no functions found in {header}")
    for name, (void, arity) in h_funcs.items():
        if name not in p_funcs:
            problems.append(f"{name}: missing from the unit")
            continue
        p_void, p_arity = p_funcs[name]
        if p_arity != arity:
            problems.append(f"{name}: {arity} parameters in C, {p_arity} in Pascal")
        if p_void != void:
            problems.append(f"{name}: must be a {'procedure' if void else 'function'}")
    problems += [f"{name}: not in the header" for name in p_funcs.keys() - h_funcs.keys()]
    if h_callback is None or p_callback is None:
        problems.append(f"{CALLBACK[0]} / {CALLBACK[1]}: not found")
    elif h_callback != p_callback:
        problems.append(f"{CALLBACK[1]}: {h_callback} parameters in C, {p_callback} in Pascal")
    for name, value in h_consts.items():
        p_name = RENAMED.get(name, name)
        if p_consts.get(p_name) != value:
            problems.append(f"{p_name}: {value} in C, {p_consts.get(p_name)} in Pascal")
    problems += [
        f"{name}: not in the header"
        for name in p_consts.keys() - {RENAMED.get(n, n) for n in h_consts}
    ]
    for problem in problems:
        print(f"{unit.name}: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"{unit.name} matches {header.name}: {len(h_funcs)} functions, "
          f"{len(h_consts)} constants, the signer callback")
    return 0


if __name__ == "__main__":
    sys.exit(main())
