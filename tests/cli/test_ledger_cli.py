"""`promo ledger migrate|verify|show`, `promo codes issue` and what `promo serve --ledger` checks
before serving, on SQLite and PostgreSQL. Every problem is one `error:` line and exit 2, never a
traceback; `verify` exits 1 on drift."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ledger_support import BACKENDS, ledger_url, postgres, request  # noqa: F401
from sqlalchemy import text

from server.cli.main import main
from server.ledger import codes as code_check
from server.ledger.database import connect
from server.ledger.ledger import Ledger
from server.ledger.migrate import head, migrate, revision
from server.ledger.types import Budget, Hold, Limit, Line, Order, ReserveRequest

ROOT = Path(__file__).resolve().parents[2]
PROMO = [str(Path(sys.executable).parent / "promo")]


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def promo(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    done = subprocess.run(PROMO + list(args), cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    assert "Traceback" not in done.stderr, done.stderr
    return done


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database no migration has run on."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/new.db"
    return postgres(request.config).create()


@pytest.fixture
def ledger(ledger_url: str):  # noqa: F811
    """The ledger on the real clock: `show` counts what is held now."""
    with Ledger(ledger_url) as opened:
        yield opened


def sql(url: str, statement: str) -> None:
    engine = connect(url, pool_size=1)
    with engine.begin() as conn:
        conn.execute(text(statement))
    engine.dispose()


# ---- migrate -----------------------------------------------------------------------------------


def test_migrate_creates_the_ledger_and_a_second_run_has_nothing_to_do(capsys, empty_url):
    code, out, _ = run(capsys, "ledger", "migrate", empty_url)
    assert code == 0 and f"migrated from an empty database to revision {head()}" in out
    assert revision(empty_url) == head()
    code, out, _ = run(capsys, "ledger", "migrate", empty_url)
    assert code == 0 and "nothing to do" in out


def test_the_url_may_come_from_the_environment(capsys, empty_url, monkeypatch):
    monkeypatch.setenv("PROMO_LEDGER_URL", empty_url)
    assert run(capsys, "ledger", "migrate")[0] == 0
    code, out, _ = run(capsys, "ledger", "verify")
    assert code == 0 and "no drift" in out


def test_a_password_is_not_printed(capsys, tmp_path):
    code, _, err = run(capsys, "ledger", "verify", "postgresql://user:s3cret@/nodb?host=/nonexistent-folder")
    assert code == 2 and "s3cret" not in err and err.startswith("error: ")


# ---- verify ------------------------------------------------------------------------------------


def hold_some(ledger) -> None:  # noqa: F811
    ledger.reserve(request("o1", Hold("p", limits=(Limit(10),)), buyer="u1"))
    ledger.reserve(ReserveRequest(order_id="o2", idempotency_key="k-o2", buyer="u2", order=Order(
        holds=(Hold("b", budgets=(Budget(10_000),), spend=1_250, allocation={"l1": 1_250}),),
        lines=(Line("l1", 2, 5_000),), payable=5_000)))


def test_verify_finds_no_drift_in_a_ledger_in_use(capsys, ledger, ledger_url):  # noqa: F811
    hold_some(ledger)
    code, out, _ = run(capsys, "ledger", "verify", ledger_url)
    assert code == 0 and "no drift" in out and "2 counters" in out
    code, out, _ = run(capsys, "ledger", "verify", ledger_url, "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["counters"] == 2 and report["drift"] == []


def test_verify_reports_a_counter_that_drifted_and_exits_1(capsys, ledger, ledger_url):  # noqa: F811
    hold_some(ledger)
    sql(ledger_url, "UPDATE counters SET used = used + 1 WHERE promotion = 'p'")
    code, out, _ = run(capsys, "ledger", "verify", ledger_url)
    assert code == 1 and "drifted" in out and "p" in out
    code, out, _ = run(capsys, "ledger", "verify", ledger_url, "--json")
    report = json.loads(out)
    assert code == 1 and report["drift"] == [
        {"promotion": "p", "metric": "uses", "subject": "", "period": "", "stored": 2, "entries": 1}]


# ---- show --------------------------------------------------------------------------------------


def test_show_lists_reservations_counters_and_codes(capsys, ledger, ledger_url):  # noqa: F811
    hold_some(ledger)
    list(ledger.issue_codes("c", 3, "issue-c"))
    code, out, _ = run(capsys, "ledger", "show", ledger_url, "--json")
    shown = json.loads(out)
    assert code == 0
    assert shown["reservations"] == {"held": 2}
    assert shown["counters"] == [
        {"promotion": "b", "metric": "spend", "buyer": "", "period": "", "key": "", "used": "12.50", "held": "12.50",
         "cap": "100.00"},
        {"promotion": "p", "metric": "uses", "buyer": "", "period": "", "key": "", "used": "1", "held": "1",
         "cap": "10"}]
    assert shown["codes"] == [{"coupon": "c", "issued": 3, "used": 0}]
    code, out, _ = run(capsys, "ledger", "show", ledger_url)
    assert code == 0 and "reservations" in out and "12.50" in out and "(all time)" in out
    code, out, _ = run(capsys, "ledger", "show", ledger_url, "--json", "--promotion", "p", "--digits", "0")
    assert [c["promotion"] for c in json.loads(out)["counters"]] == ["p"]


# ---- codes issue -------------------------------------------------------------------------------


def read_csv(text_: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text_)))


def test_codes_issue_writes_a_csv_and_the_same_key_writes_the_same_codes(capsys, ledger_url, tmp_path):
    out_file = tmp_path / "codes.csv"
    code, _, err = run(capsys, "codes", "issue", "vip-50", "--count", "500", "--prefix", "VPX", "--length", "10",
                       "--ledger", ledger_url, "--out", str(out_file), "--key", "batch-1", "--quiet")
    assert code == 0 and "500 codes for `vip-50`" in err and "batch-1" in err
    rows = read_csv(out_file.read_text())
    assert rows[0] == ["code", "coupon"] and len(rows) == 501
    issued = [r[0] for r in rows[1:]]
    assert len(set(issued)) == 500 and all(c.startswith("VPX") and len(c) == 13 and code_check.is_valid(c)
                                           for c in issued)
    assert {r[1] for r in rows[1:]} == {"vip-50"}
    code, out, _ = run(capsys, "codes", "issue", "vip-50", "--count", "500", "--prefix", "VPX", "--length", "10",
                       "--ledger", ledger_url, "--key", "batch-1")
    assert code == 0 and [r[0] for r in read_csv(out)[1:]] == issued  # to stdout, without --out


def test_codes_issue_errors_are_one_line_and_exit_2(capsys, ledger_url, tmp_path):
    cases = [
        (["--count", "0", "--ledger", ledger_url], "count"),
        (["--count", "5", "--prefix", "OIL", "--ledger", ledger_url], "prefix"),
        (["--count", "5", "--length", "3", "--ledger", ledger_url], "length"),
        (["--count", "5", "--ledger", f"sqlite:///{tmp_path}/missing.db"], "no ledger at"),
        (["--count", "5", "--ledger", ledger_url, "--out", str(tmp_path / "no" / "such" / "c.csv")], "does not exist"),
        (["--count", "5", "--ledger", "mysql://x/y"], "url"),
    ]
    for args, said in cases:
        code, _, err = run(capsys, "codes", "issue", "vip-50", *args)
        assert code == 2 and err.startswith("error: ") and said in err, (args, err)
        assert len(err.strip().splitlines()) == 1, err


def test_codes_issue_without_a_url_says_how_to_give_one(capsys, monkeypatch):
    monkeypatch.delenv("PROMO_LEDGER_URL", raising=False)
    code, _, err = run(capsys, "codes", "issue", "vip-50", "--count", "5")
    assert code == 2 and "PROMO_LEDGER_URL" in err


# ---- errors of the ledger commands -------------------------------------------------------------


def test_a_ledger_that_is_not_there_or_not_migrated_is_refused(capsys, tmp_path, empty_url):
    code, _, err = run(capsys, "ledger", "verify", f"sqlite:///{tmp_path}/missing.db")
    assert code == 2 and "no ledger at" in err and not (tmp_path / "missing.db").exists()  # not created by a look
    sql(empty_url, "CREATE TABLE something (x INTEGER)")
    for command in ("verify", "show"):
        code, _, err = run(capsys, "ledger", command, empty_url)
        assert code == 2 and "holds no ledger: run `promo ledger migrate" in err
    code, _, err = run(capsys, "ledger", "show", "not a url")
    assert code == 2 and err.startswith("error: url:")


def test_an_unreachable_database_is_one_line_and_exit_2(capsys):
    code, _, err = run(capsys, "ledger", "migrate", "postgresql://postgres@/nodb?host=/nonexistent-folder")
    assert code == 2 and err.startswith("error: the ledger database") and len(err.strip().splitlines()) == 1


def test_the_installed_command_reports_without_a_traceback(tmp_path):
    done = promo("ledger", "show", f"sqlite:///{tmp_path}/missing.db")
    assert done.returncode == 2 and done.stderr.startswith("error: ")
    done = promo("ledger")
    assert done.returncode == 2 and "migrate" in done.stderr  # argparse: a command is required


# ---- promo serve --ledger ----------------------------------------------------------------------


def serve(*args: str) -> subprocess.CompletedProcess:
    return promo("serve", "examples/seed/parallel", "--port", "0", *args, timeout=60)


@pytest.mark.parametrize("backend", BACKENDS)
def test_serve_refuses_a_ledger_at_another_revision(backend, tmp_path, pytestconfig):
    url = f"sqlite:///{tmp_path}/old.db" if backend == "sqlite" else postgres(pytestconfig).create()
    migrate(url)
    sql(url, "UPDATE alembic_version SET version_num = '0000_older'")
    done = serve("--ledger", url)
    assert done.returncode == 2
    assert "is at revision 0000_older" in done.stderr and "run `promo ledger migrate" in done.stderr
    assert revision(url) == "0000_older"  # never migrated silently


def test_serve_refuses_a_database_that_holds_other_tables(tmp_path):
    url = f"sqlite:///{tmp_path}/other.db"
    sql(url, "CREATE TABLE orders (id INTEGER)")
    done = serve("--ledger", url)
    assert done.returncode == 2 and "holds tables but no ledger (orders)" in done.stderr


def test_serve_refuses_a_folder_that_is_not_there(tmp_path):
    done = serve("--ledger", f"sqlite:///{tmp_path}/nowhere/ledger.db")
    assert done.returncode == 2 and "does not exist" in done.stderr


def test_serve_help_names_the_ledger_options():
    done = promo("serve", "--help")
    assert "--ledger URL" in done.stdout and "--no-ledger" in done.stdout and "sqlite:///promo-ledger.db" in done.stdout


# ---- the README's flow -------------------------------------------------------------------------


def test_the_readmes_reserve_commit_return_flow_runs_as_written(tmp_path):
    import re

    from server_process import ServerProcess

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    reserve = re.search(r"```sh\n(G=\".venv/bin/grpcurl .*?\nEOF\n)```", readme, re.S).group(1)
    after = re.search(r"```sh\n(echo '\{\"reservation_id\".*?)```", readme, re.S).group(1)
    server = ServerProcess("examples/double11", tmp_path / "log.jsonl", "--ledger", f"sqlite:///{tmp_path}/l.db")
    try:
        server.wait_serving()
        port = f"localhost:{server.port}"

        def bash(script: str) -> str:
            done = subprocess.run(["bash", "-c", script.replace("localhost:50051", port)], cwd=ROOT,
                                  capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
            return done.stdout

        held = json.loads(bash(reserve))
        assert held["state"] == "held" and held["quote"]["totals"]["payable"] == "185.00"
        assert {"promotion": "newbie-5", "granted": True, "desired": "5.00", "spend": "5.00"} in held["promotions"]
        setup = reserve.splitlines()[0] + "\n"
        commands = [line for line in after.splitlines() if line.startswith("echo ")]
        expected = [json.loads(line[2:]) for line in after.splitlines() if line.startswith("# {")]
        for command, answer in zip(commands, expected, strict=True):
            got = json.loads(bash(setup + command.replace("r_f171…", held["reservation_id"])))
            assert got == {k: (held["reservation_id"] if v == "r_f171…" else v) for k, v in answer.items()}
    finally:
        assert server.stop() == 0
