"""Fuzzing every RPC of a real in-process server (examples/double11 on a loopback port): raw
request bytes, and well-formed messages full of wild values. Whatever a client sends, the
status is never INTERNAL or UNKNOWN, and every call gets its `call` log line.

PROMO_FUZZ_EXAMPLES=20000 for a long run (default 300 per test); `-s` prints the statuses seen.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from functools import partialmethod

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server_process import ROOT, cart

from server.gen.promo.v1 import promo_pb2 as pb
from server.service.app import Settings, build

RULES = "examples/double11"
EXAMPLES = int(os.environ.get("PROMO_FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SERVER_FAULTS = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}

UNARY = ["/promo.v1.PromotionService/Evaluate", "/promo.v1.PromotionService/Qualify",
         "/promo.v1.PromotionService/ValidateRules", "/promo.v1.PromotionService/GetRuleset",
         "/grpc.health.v1.Health/Check"]
STREAM = "/promo.v1.PromotionService/AnalyzePrices"
REFLECTION = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"


class Recorder:
    """A logger that keeps each line's fields."""

    def __init__(self):
        self.lines: list[dict] = []

    def _add(self, level: str, event: str, **fields) -> None:
        self.lines.append(dict(fields, event=event, level=level))

    debug = partialmethod(_add, "debug")
    info = partialmethod(_add, "info")
    error = partialmethod(_add, "error")

    def calls(self) -> int:
        return sum(line["event"] == "call" for line in self.lines)


class Fuzzed:
    """The in-process server, a raw-bytes client for each method, and the statuses seen."""

    def __init__(self):
        self.log = Recorder()
        self.service = build(RULES, Settings(host="127.0.0.1", port=0, threads=4), self.log)
        self.service.server.start()
        assert self.service.watcher.load()
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.service.port}")
        self.unary = {m: self.channel.unary_unary(m) for m in UNARY}  # no serializers: bytes in, bytes out
        self.stream = self.channel.unary_stream(STREAM)
        self.reflection = self.channel.stream_stream(REFLECTION)
        self.seen: Counter = Counter()

    def call(self, method: str, data: bytes) -> grpc.StatusCode:
        before = self.log.calls()
        try:
            if method == STREAM:
                list(self.stream(data, timeout=60))
            elif method == REFLECTION:
                list(self.reflection(iter([data]), timeout=60))
            else:
                self.unary[method](data, timeout=60)
            code = grpc.StatusCode.OK
        except grpc.RpcError as err:
            code = err.code()
        self.seen[method.rsplit("/", 1)[1], code.name] += 1
        assert code not in SERVER_FAULTS, (method, data[:200], self.faults())
        assert self.log.calls() == before + 1, f"{method}: no call line"  # written before the status is sent
        return code

    def faults(self) -> list[dict]:
        return [line for line in self.log.lines if line["level"] == "error"][-3:]

    def close(self) -> None:
        self.channel.close()
        self.service.server.stop(None)


@pytest.fixture(scope="module")
def fuzzed():
    server = Fuzzed()
    yield server
    server.close()
    print(f"\nfuzz: {sum(server.seen.values())} calls:", dict(sorted(server.seen.items())))


# ---- raw bytes ---------------------------------------------------------------------------------

VALID = cart(f"{RULES}/cart.json").SerializeToString()


def nested(depth: int) -> bytes:
    request = cart(f"{RULES}/cart.json")
    inner = request.lines[0].attributes
    for _ in range(depth):
        inner = inner.fields["a"].struct_value
    return request.SerializeToString()


def mutated(data: bytes, edits: list[tuple[str, int, bytes]]) -> bytes:
    for kind, at, chunk in edits:
        at %= len(data) + 1
        data = {"replace": data[:at] + chunk + data[at + len(chunk):], "insert": data[:at] + chunk + data[at:],
                "cut": data[:at]}[kind]
    return data


raw_bytes = st.one_of(
    st.binary(max_size=300),
    st.builds(mutated, st.just(VALID),
              st.lists(st.tuples(st.sampled_from(["replace", "insert", "cut"]), st.integers(0, len(VALID)),
                                 st.binary(min_size=1, max_size=8)), min_size=1, max_size=4)),
    st.builds(nested, st.integers(0, 120)),
)


@FUZZ
@given(data=raw_bytes)
def test_raw_bytes_never_fail_the_server(fuzzed, data):
    for method in (*UNARY, STREAM, REFLECTION):
        fuzzed.call(method, data)


# ---- well-formed messages, wild values ---------------------------------------------------------
# Each value is a plausible one nine times in ten: a cart with one odd value gets further into the
# engine than a cart with ten.

with open(ROOT / RULES / "catalog.csv", encoding="utf-8") as f:
    CATALOG = list(csv.DictReader(f))

WILD_TEXT = st.one_of(st.text(max_size=12), st.sampled_from(["", "x" * 10_000, "\u0000", "é" * 70, "\U0001f600"]))
WILD_AMOUNTS = ["0", "0.001", "-1", "1.230", "1e3", "NaN", "Infinity", "-0", "+1", " 1", "1_000", "0x10", "１００",
                "١٠٠", "9" * 16, "9" * 35, "9" * 5000, "99999999999999.99", ""]
TIMES = ["2026-11-11T10:00:00+08:00", "2026-11-11T00:00:30+08:00", "2026-11-01T20:00:00+08:00",
         "2026-10-25T12:00:00+08:00", "2026-11-11T10:00:00", "2026-11-11T02:00:00Z"]
WILD_TIMES = ["2026-11-11", "2026-13-45T99:00:00+08:00", "9999-12-31T23:59:59+14:00", "0001-01-01T00:00:00-23:59",
              "soon", "2026-11-11T10:00:00+99:00", ""]


def mostly(valid: st.SearchStrategy, wild: st.SearchStrategy) -> st.SearchStrategy:
    return st.integers(0, 9).flatmap(lambda n: valid if n else wild)


def words(*known: str) -> st.SearchStrategy[str]:
    return mostly(st.sampled_from(known), WILD_TEXT)


int32 = st.one_of(st.sampled_from([0, 1, -1, 1_000_000, 1_000_001, 2**31 - 1, -2**31]), st.integers(-2**31, 2**31 - 1))
counts = mostly(st.integers(1, 5), int32)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.floats(), st.integers(-10**6, 10**6), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=6)
attributes = mostly(st.just({}), st.dictionaries(st.sampled_from(["material", "size", "color", ""]), json_values, max_size=2))
times = mostly(st.sampled_from(TIMES), st.sampled_from(WILD_TIMES))
amounts = mostly(st.decimals(1, 2000, places=2).map(str), st.one_of(st.sampled_from(WILD_AMOUNTS), st.text(max_size=8)))
products = st.sampled_from(CATALOG + [{"sku": "phone-x", "shop": "S-PHONE", "category": "phone", "brand": "Mi"}])
coupons = words("runner-item-30", "shoe-300-40", "plat-1000-100", "plat-300-30", "newbie-5", "night-owl-20", "88vip-95")
def enums(last: int) -> st.SearchStrategy[int]:
    return mostly(st.integers(0, last), st.integers(-2**31, 2**31 - 1))


@st.composite
def users(draw, message: pb.User) -> None:
    message.id, message.level, message.new = draw(words("u-1")), draw(mostly(st.integers(0, 5), int32)), draw(st.booleans())
    message.tags.extend(draw(st.lists(words("88vip", "new"), max_size=2)))
    message.usage.update(draw(st.dictionaries(coupons, counts, max_size=2)))
    message.attributes.update(draw(attributes))


@st.composite
def evaluate_requests(draw) -> pb.EvaluateRequest:
    request = pb.EvaluateRequest(at=draw(times), channel=draw(words("app", "web")), region=draw(words("CN-ZJ")),
                                 stage=draw(enums(2)), explain=draw(enums(3)))
    draw(users(request.user))
    for i in range(draw(st.integers(0, 4))):
        product = draw(products)
        line = request.lines.add(id=draw(words(f"l{i}")), sku=draw(words(product["sku"])), shop=draw(words(product["shop"])),
                                 category=draw(words(product["category"])), brand=draw(words(product["brand"])),
                                 price=draw(amounts), quantity=draw(counts))
        line.tags.extend(draw(st.lists(words("cross", "hot"), max_size=2)))
        line.attributes.update(draw(attributes))
    request.shipping.update(draw(st.dictionaries(words("S-NUTS", "S-SHOE"), amounts, max_size=2)))
    request.presale_sold.update(draw(st.dictionaries(words("phone-x"), counts, max_size=1)))
    for held in (request.wallet, request.selected):
        for _ in range(draw(st.integers(0, 3))):
            coupon = held.add(coupon=draw(coupons), id=draw(words("w-1")))
            if draw(st.booleans()):
                coupon.expires = draw(times)
    return request


@st.composite
def analyze_requests(draw) -> pb.AnalyzePricesRequest:
    request = pb.AnalyzePricesRequest(at=draw(times), max_units=draw(mostly(st.integers(0, 2), int32)),
                                      channel=draw(words("app")), skip_what_ifs=draw(mostly(st.just(True), st.just(False))))
    for _ in range(draw(st.integers(0, 2))):
        product = draw(products)
        item = request.items.add(sku=draw(words(product["sku"])), shop=draw(words(product["shop"])),
                                 category=draw(words(product["category"])), price=draw(amounts))
        for name in ("warning_price", "cost", "ad_cost"):
            if draw(st.booleans()):
                setattr(item, name, draw(amounts))
        item.attributes.update(draw(attributes))
    if draw(st.booleans()):
        draw(users(request.user))
    return request


RULE_TEXT = (ROOT / RULES / "platform.promo").read_text(encoding="utf-8")


def deep(depth: int) -> str:
    """A `when` nested `depth` times, and one as wide: how real rules get deep (a 600-way `or`)."""
    wide = " or ".join(['channel == "app"'] * (depth + 1))
    return (f'promotion "deep" {{ level platform when {"not " * depth}amount >= 1 discount 1 }}\n'
            f'promotion "wide" {{ level platform when {wide} discount 1 }}\n')


sources = st.one_of(
    st.text(max_size=80),
    st.builds(lambda at, chunk: RULE_TEXT[:at] + chunk + RULE_TEXT[at:], st.integers(0, len(RULE_TEXT)), st.text(max_size=10)),
    st.builds(deep, st.one_of(st.integers(0, 120), st.integers(480, 700))),  # past the ~495 that crashed
)


@st.composite
def validate_requests(draw) -> pb.ValidateRulesRequest:
    return pb.ValidateRulesRequest(files=[pb.SourceFile(path=draw(words(f"r{i}.promo")), text=draw(sources))
                                          for i in range(draw(st.integers(0, 3)))])


@FUZZ
@given(request=evaluate_requests())
def test_evaluate_never_fails_the_server(fuzzed, request):
    fuzzed.call("/promo.v1.PromotionService/Evaluate", request.SerializeToString())


@FUZZ
@given(request=evaluate_requests(), operator=st.booleans())
def test_qualify_never_fails_the_server(fuzzed, request, operator):
    fuzzed.call("/promo.v1.PromotionService/Qualify", pb.QualifyRequest(cart=request, operator=operator).SerializeToString())


@FUZZ
@given(request=analyze_requests())
def test_analyze_prices_never_fails_the_server(fuzzed, request):
    fuzzed.call(STREAM, request.SerializeToString())


@FUZZ
@given(request=validate_requests())
def test_validate_rules_never_fails_the_server(fuzzed, request):
    fuzzed.call("/promo.v1.PromotionService/ValidateRules", request.SerializeToString())
