"""Single-use codes: the alphabet, the check character (proved exhaustively on short codes and by
property on long ones), the random draw, and issuing into the ledger on both backends."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ledger_support import clock, ledger, ledger_url, request, tables  # noqa: F401

from server.ledger import codes
from server.ledger.errors import IdempotencyConflict, InvalidArgument
from server.ledger.types import CodeRef, CodeState, Hold, Reason, UsageQuery

BODIES = st.text(alphabet=codes.ALPHABET, min_size=1, max_size=24)


def substitutions(code: str):
    for i, c in enumerate(code):
        for other in codes.ALPHABET:
            if other != c:
                yield code[:i] + other + code[i + 1:]


def swaps(code: str):
    for i in range(len(code) - 1):
        if code[i] != code[i + 1]:
            yield code[:i] + code[i + 1] + code[i] + code[i + 2:]


def test_the_alphabet_has_no_look_alikes_and_a_prime_size():
    assert not set("0O1IL") & set(codes.ALPHABET)
    assert len(set(codes.ALPHABET)) == codes.BASE == 31
    assert all(codes.BASE % d for d in range(2, codes.BASE))
    assert codes.ALPHABET == codes.ALPHABET.upper()


def test_every_single_error_and_neighbour_swap_is_caught_on_every_short_code():
    checked = 0
    for size in (1, 2):
        for body in map("".join, itertools.product(codes.ALPHABET, repeat=size)):
            code = body + codes.check_character(body)
            assert codes.is_valid(code)
            for wrong in itertools.chain(substitutions(code), swaps(code)):
                assert not codes.is_valid(wrong), (code, wrong)
                checked += 1
    assert checked == 88_350 + 1_890  # every substitution; every swap of neighbours that differ


def test_every_swap_of_two_different_characters_is_caught_at_every_place_of_a_long_code():
    # the checksum is linear, so a pair's swap changes it by the same amount whatever surrounds it:
    # every pair at every place of one long code stands for all codes of that length
    body = "23456789ABCDEFGHJKMNPQRSTUV"
    for i in range(len(body)):
        for x, y in itertools.permutations(codes.ALPHABET, 2):
            trial = body[:i] + x + y + body[i + 2:]
            code = trial + codes.check_character(trial)
            assert not codes.is_valid(code[:i] + y + x + code[i + 2:])


@given(BODIES, st.data())
def test_a_single_wrong_character_is_caught(body, data):
    code = body + codes.check_character(body)
    i = data.draw(st.integers(0, len(code) - 1))
    other = data.draw(st.sampled_from(codes.ALPHABET).filter(lambda c: c != code[i]))
    assert not codes.is_valid(code[:i] + other + code[i + 1:])


@given(BODIES, st.data())
def test_a_swap_of_neighbours_is_caught(body, data):
    code = body + codes.check_character(body)
    i = data.draw(st.integers(0, len(code) - 2))
    if code[i] != code[i + 1]:
        assert not codes.is_valid(code[:i] + code[i + 1] + code[i] + code[i + 2:])


@given(BODIES)
def test_codes_read_case_insensitively_without_spaces_or_hyphens(body):
    code = body + codes.check_character(body)
    assert codes.is_valid(code.lower())
    assert codes.is_valid(" " + "-".join(code[i:i + 4] for i in range(0, len(code), 4)) + " ")
    assert codes.normalize(code.lower()) == code


def test_the_draw_rejects_the_bytes_that_would_bias_it():
    biased = iter([bytes([255, 250, 248, 31 + 5] * 4)] + [bytes([0] * 64)] * 4)
    assert codes.draw(1, lambda n: next(biased)) == codes.ALPHABET[5]


def test_the_draw_reaches_every_character():
    assert set(codes.draw(5_000)) == set(codes.ALPHABET)


def test_made_codes_carry_the_prefix_and_a_fitting_check_character():
    made = codes.make("D22", 10, count=50)
    assert len(set(made)) == 50
    assert all(c.startswith("D22") and len(c) == 13 and codes.is_valid(c) for c in made)


# ---- issuing, on both backends ----


def test_issuing_streams_unique_valid_codes_batch_by_batch(ledger, ledger_url):
    stream = ledger.issue_codes("c1", 2_500, "issue-1", prefix="d22", batch=1_000)
    first = next(stream)
    assert len(tables(ledger_url)["codes"]) == 1_000  # the first batch is committed before the rest is drawn
    issued = [first, *stream]
    assert len(issued) == len(set(issued)) == 2_500
    assert all(c.startswith("D22") and len(c) == 15 and codes.is_valid(c) for c in issued)


def test_the_same_key_streams_the_same_codes_and_resumes_a_cut_short_issue(ledger, ledger_url):
    stream = ledger.issue_codes("c1", 300, "issue-1", batch=100)
    cut_short = [next(stream) for _ in range(100)]  # the caller went away after one batch
    stream.close()
    again = list(ledger.issue_codes("c1", 300, "issue-1", batch=100))
    assert again[:100] == cut_short and len(set(again)) == 300
    before = tables(ledger_url)
    assert list(ledger.issue_codes("c1", 300, "issue-1", batch=100)) == again
    assert tables(ledger_url) == before
    with pytest.raises(IdempotencyConflict) as error:
        ledger.issue_codes("c1", 301, "issue-1")
    assert error.value.field == "idempotency_key"


def test_a_drawn_code_that_exists_is_drawn_again(ledger):
    (taken,) = ledger.issue_codes("c1", 1, "issue-1", length=8)
    body = [codes.VALUE[c] for c in taken[:-1]]
    # the draw first repeats the issued code, then gives fresh bytes
    replay = iter([bytes(body * 3)])
    fresh = ledger.issue_codes("c2", 1, "issue-2", length=8, randbytes=lambda n: next(replay, b"\x07" * n))
    (code,) = fresh
    assert code != taken and codes.is_valid(code)
    assert ledger.get_usage(UsageQuery((), codes=(CodeRef("c2", code), CodeRef("c2", taken)))).codes == {
        CodeRef("c2", code): CodeState.FREE, CodeRef("c2", taken): CodeState.UNKNOWN}


@pytest.mark.parametrize(("fields", "field"), [
    ({"prefix": "D1"}, "prefix"), ({"prefix": "X" * 17}, "prefix"), ({"length": 5}, "length"),
    ({"length": 33}, "length"), ({"count": 0}, "count"), ({"count": 3_000, "length": 6}, "length"),
])
def test_bad_issue_requests_name_their_field(ledger, fields, field):
    with pytest.raises(InvalidArgument) as error:
        ledger.issue_codes("c1", **{"count": 10, "idempotency_key": "k", **fields})
    assert error.value.field == field


def test_a_code_is_unknown_for_another_coupon_used_once_held_and_free_after_release(ledger):
    (code,) = ledger.issue_codes("c1", 1, "issue-1")
    typo = code[:-2] + code[-1] + code[-2] if code[-1] != code[-2] else code[:-1] + "2"
    tries = [("c2", code), ("c1", typo), ("c1", code.lower()), ("c1", code)]
    reserved = [ledger.reserve(request(f"o{i}", Hold(coupon, code=text))) for i, (coupon, text) in enumerate(tries)]
    assert [r.outcomes[0].reason for r in reserved] == [Reason.CODE_UNKNOWN, Reason.CODE_UNKNOWN, None,
                                                        Reason.CODE_USED]

    def state():
        return ledger.get_usage(UsageQuery((), codes=(CodeRef("c1", code.lower()),))).code("c1", code)

    holder = reserved[2].reservation_id
    assert state() is CodeState.HELD
    ledger.commit(holder, "commit")
    assert state() is CodeState.REDEEMED
    ledger.cancel(holder, "cancel")
    assert state() is CodeState.FREE
