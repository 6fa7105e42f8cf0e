"""Regenerate the Python code of proto/ into server/gen/ (`make proto`).

protoc writes `from promo.v1 import promo_pb2`, an import that only works with the output
directory on sys.path; the code is rewritten to import `server.gen.promo.v1` so the server
imports it like any other module. Output depends only on the .proto files and the pinned
grpcio-tools, so tests/server/test_server_proto.py can regenerate into a temp dir and compare.

Usage: python proto/generate.py [OUT_DIR]   (default: server/gen)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
PACKAGE = "server.gen"
INIT = '"""Generated from proto/ by `make proto` (proto/generate.py); do not edit."""\n'


def generate(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    protos = sorted(p.relative_to(PROTO_ROOT).as_posix() for p in PROTO_ROOT.rglob("*.proto"))
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    args = ["protoc", f"-I{PROTO_ROOT}", f"-I{well_known}",
            f"--python_out={out}", f"--pyi_out={out}", f"--grpc_python_out={out}", *protos]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    written = []
    for path in sorted(out.rglob("*_pb2*.py*")):
        text = path.read_text(encoding="utf-8")
        # `from promo.v1 import x` / `import promo.v1.x` -> the package the code lives in
        text = re.sub(r"^from (promo\.)", rf"from {PACKAGE}.\1", text, flags=re.M)
        text = re.sub(r"^import (promo\.)", rf"import {PACKAGE}.\1", text, flags=re.M)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    for folder in {out, *(p.parent for p in written), *(q for p in written for q in p.parents if out in q.parents)}:
        (folder / "__init__.py").write_text(INIT, encoding="utf-8")
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "server" / "gen"
    for p in generate(target):
        print(p.relative_to(target) if target in p.parents else p)
