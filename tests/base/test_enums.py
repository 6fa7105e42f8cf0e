"""The closed sets of engine/base/enums.py are stated there and nowhere else: no reason code is a
string literal elsewhere in engine/ or server/ (the wire's messages are keyed by the enum), and the
proto's enum names are not engine values."""

from __future__ import annotations

import ast
from pathlib import Path

from engine.base.enums import CAPPED, NOT_APPLIED_REASONS, REASON_CODES, Explain, Level, ReasonCode, Stage

ROOT = Path(__file__).resolve().parent.parent.parent
ENUMS = ROOT / "engine" / "base" / "enums.py"


def literals(path: Path, wanted: set[str]) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}" for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in wanted]


def sources() -> list[Path]:
    return sorted(p for tree in ("engine", "server") for p in (ROOT / tree).rglob("*.py")
                  if p != ENUMS and "gen" not in p.relative_to(ROOT).parts)


def test_no_reason_code_is_a_literal_outside_its_enum():
    found = [hit for path in sources() for hit in literals(path, {c.value for c in ReasonCode})]
    assert not found, "reason codes written as strings (use engine.base.enums.ReasonCode):\n" + "\n".join(found)


def test_no_proto_enum_name_in_the_engine_but_the_wire_mapping():
    names = {"EXPLAIN_UNSPECIFIED", "EXPLAIN_OFF", "EXPLAIN_REASONS", "EXPLAIN_TRACE", "STAGE_UNSPECIFIED",
             "STAGE_DEPOSIT", "STAGE_BALANCE"}
    decode = ROOT / "engine" / "wire" / "decode.py"
    found = [hit for path in sorted((ROOT / "engine").rglob("*.py")) if path != decode
             for hit in literals(path, names)]
    assert not found, "proto enum names outside engine/wire/decode.py:\n" + "\n".join(found)


def test_the_walk_sees_a_literal(monkeypatch):
    probe = ROOT / "engine" / "probe.py"
    monkeypatch.setattr(Path, "read_text", lambda self, encoding=None: 'x = Reason("ZERO_BENEFIT")\ny = "ZERO"\n')
    assert literals(probe, {"ZERO_BENEFIT"}) == ["engine/probe.py:1: 'ZERO_BENEFIT'"]


def test_the_sets_follow_from_the_enums():
    assert REASON_CODES == tuple(ReasonCode) and CAPPED not in NOT_APPLIED_REASONS
    assert set(REASON_CODES) - set(NOT_APPLIED_REASONS) == {CAPPED}
    assert NOT_APPLIED_REASONS[0] is ReasonCode.UNKNOWN_COUPON  # the order they are checked in
    # the engine's values are the proto's lower-case Level names; Explain and Stage are not proto names
    assert [lv.value for lv in Level] == ["item", "shop", "platform", "shipping"]
    assert not {e.value for e in Explain} & {"EXPLAIN_OFF", "EXPLAIN_REASONS", "EXPLAIN_TRACE"}
    assert not {s.value for s in Stage} & {"STAGE_DEPOSIT", "STAGE_BALANCE"}
