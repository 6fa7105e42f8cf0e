"""The docs a new user reads first say what the code does: every command has its section, every
RPC is named in the README, and the licence pyproject names is there."""

from __future__ import annotations

import argparse
import re
import tomllib
from pathlib import Path

from server.cli.main import build_parser
from server.gen.promo.v1 import promo_pb2 as pb

ROOT = Path(__file__).resolve().parents[2]


def commands() -> list[str]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(sub.choices)


def test_every_command_has_its_section_in_the_docs():
    sections = set(re.findall(r"^## `promo (\w+)`", (ROOT / "docs/cli.md").read_text(), re.M))
    documented = sections | ({"serve"} if "promo serve" in (ROOT / "docs/service.md").read_text() else set())
    assert set(commands()) <= documented, set(commands()) - documented
    assert "comes with its issue" not in (ROOT / "docs/cli.md").read_text()


def test_the_readme_names_every_rpc():
    readme = (ROOT / "README.md").read_text()
    rpcs = [m.name for m in pb.DESCRIPTOR.services_by_name["PromotionService"].methods]
    assert len(rpcs) >= 5 and all(name in readme for name in rpcs), [n for n in rpcs if n not in readme]


def test_the_licence_pyproject_names_is_there():
    licence = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]
    assert licence == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
