"""Run many `promo` invocations in one interpreter: `python cli_batch.py JOBS.json`, where JOBS.json
is a list of argv lists (`["eval", RULES, CART, "--json"]`). Each is `server.cli.main(argv)` with its
stdout and stderr captured; prints a JSON list of {"exit", "stdout", "stderr"}, one per job.

The conformance suite's CLI route uses it so that hundreds of cases do not pay an interpreter
start each; a sample also goes through the real `promo` executable (runner.run_cli_subprocess).
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from server.cli.main import main  # noqa: E402


def run(argv: list[str]) -> dict:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse
            code = exc.code if isinstance(exc.code, int) else 2
    return {"exit": code, "stdout": out.getvalue(), "stderr": err.getvalue()}


if __name__ == "__main__":
    jobs = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    results = [run(argv) for argv in jobs]
    sys.stdout.write(json.dumps(results, ensure_ascii=False))
