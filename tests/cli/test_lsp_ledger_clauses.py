"""The language server knows the ledger's clauses: completion offers `budget` and `codes` among a
coupon's clauses, `used` / `spent` in a test, `user` after `limit N per` and the periods after
a second `per` (or after `total per`, `budget M per`); hover describes them."""

from __future__ import annotations

import pytest

from engine.lang.parser import parse_text
from server.lsp.completion import complete, names_of
from server.lsp.hover import block_text


def labels(text: str) -> set[str]:
    return {item.label for item in complete(text, names_of(()))[0]}


@pytest.mark.parametrize("text,wanted", [
    ('coupon "c" {\n    ', {"limit", "budget", "codes"}),
    ('test "t" {\n    ', {"used", "spent", "sold"}),
    ('coupon "c" {\n    limit 2 per ', {"user"}),
    ('coupon "c" {\n    limit 2 per user per ', {"day", "week", "month"}),
    ('coupon "c" {\n    limit 2 total per ', {"day", "week", "month"}),
    ('coupon "c" {\n    budget 50 per ', {"day", "week", "month"}),
])
def test_completion(text, wanted):
    got = labels(text)
    assert wanted <= got, got
    if text.endswith("limit 2 per "):
        assert got == {"user"}


def test_hover_describes_the_clauses():
    (coupon,) = parse_text('coupon "c" { level shop limit 1 per user per day limit 9 total budget 50.00 per week '
                           'codes discount 5 }', "rules.promo").file.items
    text = block_text(coupon, "CNY", None)
    assert "- limit: 1 per user per day" in text and "- limit: 9 total" in text
    assert "- budget: 50.00 CNY per week" in text and "- codes: redeemed by single-use codes" in text
