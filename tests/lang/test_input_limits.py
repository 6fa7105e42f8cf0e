"""What one request or one ruleset may ask, on the engine's side: repeated wallet entries are one
coupon held (engine/request.py), and the checker's limits (docs/language.md §8 "Limits"): a
rule file past 8 MiB, whose golden output is pinned in tests/golden/diagnostics/ like the
others but whose file is written here (8 MiB does not belong in the repository). The server's
limits are in tests/server/test_server_limits.py."""

from __future__ import annotations

import pytest
from test_golden_diagnostics import CORPUS, UPDATE

from engine.lang.load import MAX_FILE_BYTES
from engine.wire.decode import RequestError, request_from_json
from server.cli.main import main


def wallet(*entries):
    return request_from_json({"wallet": list(entries)}, 2).wallet


def test_repeated_wallet_entries_are_one_coupon_held_the_first_kept():
    held = wallet("a", {"coupon": "b", "id": "1"}, "a", {"coupon": "a"}, {"coupon": "b", "id": "2"},
                  {"coupon": "b", "id": "1"})
    assert [(e.coupon, e.id) for e in held] == [("a", ""), ("b", "1"), ("b", "2")]


def test_one_coupon_and_id_with_two_expiries_names_the_later_entry():
    with pytest.raises(RequestError) as err:
        wallet({"coupon": "a", "id": "1", "expires": "2026-11-30T00:00:00Z"}, {"coupon": "b", "id": "1"},
               {"coupon": "a", "id": "1", "expires": "2026-12-01T00:00:00Z"})
    assert err.value.field == "wallet[2].expires"


def test_a_rule_file_past_8_mib_is_one_diagnostic_and_is_not_parsed(tmp_path, capsys, monkeypatch):
    head = "# a generated rule file one byte past the limit, mostly comments; its syntax error is never seen\n"
    body = "promotion {\n"
    pad = MAX_FILE_BYTES + 1 - len(head) - len(body)
    (tmp_path / "file_too_large.promo").write_text(head + body + ("#" * 99 + "\n") * (pad // 100) + "#" * (pad % 100))
    monkeypatch.chdir(tmp_path)
    code = main(["check", "file_too_large.promo"])
    got = f"{capsys.readouterr().out}exit {code}\n"
    expected = CORPUS / "file_too_large.expected"
    if UPDATE:
        expected.write_text(got, encoding="utf-8")
    assert got == expected.read_text(encoding="utf-8")
