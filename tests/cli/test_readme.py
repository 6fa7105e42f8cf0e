"""The README's calls to the service, run as written (the port aside) against the server `make run`
starts: `promo serve examples/double11`. The commands are read out of README.md, so the test
fails when the README drifts from what works."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest
from server_process import ROOT, ServerProcess

README = (ROOT / "README.md").read_text(encoding="utf-8")


def readme_command(start: str) -> str:
    """The README's shell line that starts with `start`, without its comment."""
    found = [line for line in README.splitlines() if line.startswith(start)]
    assert len(found) == 1, f"one README line starting with {start!r}: {found}"
    return found[0].split("  #")[0].strip()


@pytest.fixture(scope="module")
def make_run(tmp_path_factory):
    recipe = re.search(r"^run:.*\n\t(.+)$", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M).group(1)
    rules = recipe.split(" serve ")[1].split()[0]
    assert rules == "examples/double11"  # what the README's calls are priced against
    server = ServerProcess(rules, tmp_path_factory.mktemp("readme") / "server.log")
    server.wait_serving()
    yield server
    server.stop()


def run(command: str, env: dict | None = None) -> dict:
    done = subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_grpcurl_example_prints_a_discounted_payable(make_run):
    command = readme_command(".venv/bin/grpcurl ")
    assert "localhost:50051" in command
    answer = run(command.replace("localhost:50051", f"localhost:{make_run.port}"))
    assert answer["totals"]["payable"] in ("170.00", "180.00")
    assert answer["totals"]["discount"] != "0.00"


def test_the_client_example_runs_outside_the_virtual_environment(make_run):
    command = readme_command("python examples/client.py")
    venv_bin = (ROOT / ".venv" / "bin").resolve()
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p and
                           os.path.realpath(p) != str(venv_bin))
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")} | {"PATH": path}
    if shutil.which("python", path=path) is None:
        pytest.skip("no `python` on PATH outside the virtual environment")
    answer = run(f"{command} --target localhost:{make_run.port}", env)
    assert answer["totals"]["payable"] in ("170.00", "180.00")
