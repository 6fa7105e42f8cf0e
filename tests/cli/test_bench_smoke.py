"""`make bench` cannot rot: the report builder runs end to end on toy sizes (`bench/run.py --tiny`)
and writes every section. No timing is asserted; peers that are not installed are reported as such."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def headings() -> tuple[str, ...]:
    text = (ROOT / "bench" / "run.py").read_text(encoding="utf-8")
    block = re.search(r"HEADINGS = \((.*?)\n\)", text, re.S).group(1)
    return tuple(re.findall(r'"(## [^"]+)"', block))


def test_tiny_report_has_every_section(tmp_path):
    out = tmp_path / "benchmarks.md"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--tiny", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    report = out.read_text(encoding="utf-8")
    expected = headings()
    assert len(expected) == 16
    positions = [report.find(h + "\n") for h in expected]
    assert all(p >= 0 for p in positions), [h for h, p in zip(expected, positions) if p < 0]
    assert positions == sorted(positions)
    assert "Toy configuration" in report
    # every peer row is either measured and agrees with ours on every input, or says it is not installed
    rows = [line for line in report.splitlines() if line.startswith("| ") and "`" in line and " | promo (ours) | " not in line
            and any(p in line for p in ("rule-engine", "cel-python", "zen-engine"))]
    assert len(rows) == 4 * 4
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        if not cells[3].startswith("not installed"):
            agree, of = cells[6].split("/")
            assert agree == of, row
    assert "| Evaluate | 1 |" in report and "| empty handler | 1 |" in report and "| empty handler, grpc.aio | 1 |" in report
    assert "own ÷ engine (goal ≤ 0.25)" in report and "the service's own CPU per Evaluate call" in report
    assert "| sqlite | hot | 1 |" in report and "Reserve − Evaluate p50" in report  # the ledger section ran
    assert "**no**" not in report  # the search found brute force's payable on every instance
