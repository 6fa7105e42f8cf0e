"""The language conformance suite: case files in tests/conformance/v1/<feature>/*.yaml, run through
every route (in-process engine API, the `promo` command's JSON, the gRPC service) and compared on
the same expectation fields. docs/conformance.md describes the format and the routes.

A route turns every case into an *outcome*: the EvaluateResponse JSON (service.md) for a pricing
case, or the list of diagnostics for a case whose rules have mistakes. `compare` then checks the
fields the case's `expect` names against that outcome, the same way for every route.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CASES_DIR = Path(__file__).resolve().parent / "v1"
ROUTES = ("inprocess", "cli", "grpc")
DEFAULT_FILE = "rules.promo"

# Per-route skips. Every entry needs a reason; test_conformance.py checks that each names a real
# case. Keys are case ids (`feature/file.yaml::name`), or `feature/file.yaml::*` for a whole file.
ROUTE_SKIPS: dict[str, dict[str, str]] = {
    "inprocess": {},
    "cli": {},
    "grpc": {},
}

# Cases where the engine disagrees with a hand computation we are sure of. They keep the correct
# expectation and run as strict xfails on the routes listed, so fixing the engine turns them into
# failures that ask for the entry to be removed. Each needs a reason.
KNOWN_ENGINE_BUGS: dict[str, dict[str, str]] = {
    "inprocess": {},
    "cli": {},
    "grpc": {},
}

PRICING_KEYS = {"payable", "discount", "shipping", "applied", "applied_order", "finals", "discounts", "lines",
                "reasons", "not_applied", "details", "hints", "capped", "presale", "better_set"}
DIAGNOSTIC_KEYS = {"diagnostics"}
CASE_KEYS = {"name", "file", "rules", "request", "expect"}
MONEY_MAPS = ("applied", "finals")


# ---- loading -------------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader without the implicit timestamp type: `at: 2026-11-11T10:00` stays a string."""


_Loader.yaml_implicit_resolvers = {
    k: [(tag, regexp) for tag, regexp in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class CaseError(ValueError):
    pass


@dataclass(frozen=True)
class Case:
    id: str  # feature/file.yaml::name
    feature: str
    name: str
    path: Path
    file: str  # the rule file's name (test blocks need *_test.promo)
    rules: str
    request: dict | None
    expect: dict

    @property
    def kind(self) -> str:
        return "diagnostics" if "diagnostics" in self.expect else "pricing"

    def __str__(self) -> str:  # pytest ids
        return self.id


def load_cases(root: Path = CASES_DIR) -> list[Case]:
    cases: list[Case] = []
    seen: set[str] = set()
    for path in sorted(root.rglob("*.yaml")):
        rel = path.relative_to(root).as_posix()
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
        if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
            raise CaseError(f"{rel}: expected a mapping with a `cases` list")
        for i, raw in enumerate(data["cases"]):
            case = _case(rel, i, raw, path)
            if case.id in seen:
                raise CaseError(f"{case.id}: duplicate case name")
            seen.add(case.id)
            cases.append(case)
    return cases


def _case(rel: str, i: int, raw: Any, path: Path) -> Case:
    where = f"{rel}[{i}]"
    if not isinstance(raw, dict):
        raise CaseError(f"{where}: a case is a mapping")
    unknown = set(raw) - CASE_KEYS
    if unknown:
        raise CaseError(f"{where}: unknown keys {sorted(unknown)}")
    for key in ("name", "rules", "expect"):
        if key not in raw:
            raise CaseError(f"{where}: `{key}` is required")
    name, rules, expect = raw["name"], raw["rules"], raw["expect"]
    if not isinstance(name, str) or not isinstance(rules, str) or not isinstance(expect, dict) or not expect:
        raise CaseError(f"{where}: `name` and `rules` are strings, `expect` a non-empty mapping")
    where = f"{rel}::{name}"
    if "diagnostics" in expect:
        if set(expect) - DIAGNOSTIC_KEYS or "request" in raw:
            raise CaseError(f"{where}: a diagnostics case has only `expect.diagnostics` and no request")
        for d in expect["diagnostics"]:
            if set(d) - {"code", "line", "column", "severity"} or not {"code", "line", "column"} <= set(d):
                raise CaseError(f"{where}: a diagnostic is {{code, line, column[, severity]}}: {d}")
    else:
        unknown = set(expect) - PRICING_KEYS
        if unknown:
            raise CaseError(f"{where}: unknown expectations {sorted(unknown)}")
        request = raw.get("request")
        if not isinstance(request, dict) or not isinstance(request.get("at"), str):
            raise CaseError(f"{where}: a pricing case needs a `request` with a fixed `at` string")
        _money_strings(where, expect)
    feature = rel.split("/")[0]
    return Case(f"{rel}::{name}", feature, name, path, raw.get("file", DEFAULT_FILE), rules, raw.get("request"), expect)


def _money_strings(where: str, expect: dict) -> None:
    """Money is a decimal string everywhere (a YAML float 100.00 would lose its digits)."""
    def bad(value):
        return not (isinstance(value, str) or value is None)

    for key in ("payable", "discount", "shipping"):
        if key in expect and bad(expect[key]):
            raise CaseError(f"{where}: `{key}` must be a quoted decimal string")
    for key in MONEY_MAPS:
        for k, v in (expect.get(key) or {}).items():
            if bad(v):
                raise CaseError(f"{where}: `{key}.{k}` must be a quoted decimal string")
    for h in expect.get("hints") or []:
        if bad(h.get("would_save")) or bad(h.get("missing_amount")):
            raise CaseError(f"{where}: hint money must be quoted decimal strings: {h}")


# ---- comparing -------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What a route answered for one case: the EvaluateResponse JSON, or the diagnostics."""

    quote: dict | None = None
    diagnostics: list[dict] | None = None
    error: str | None = None  # the route failed to produce an answer (exit code, RPC error, ...)


def compare(case: Case, out: Outcome) -> list[str]:
    """The expectations of `case` that `out` does not meet, as readable lines (empty = pass)."""
    if out.error:
        return [f"no answer: {out.error}"]
    e = case.expect
    if case.kind == "diagnostics":
        if out.diagnostics is None:
            return ["expected diagnostics, got a quote"]
        want = e["diagnostics"]
        base = ("code", "line", "column")
        got = [{k: (int(d[k]) if k in ("line", "column") else d[k]) for k in (want[i] if i < len(want) else base)}
               for i, d in enumerate(out.diagnostics)]
        return [] if got == want else [f"diagnostics: expected {want}, got {got}"]
    q = out.quote
    if q is None:
        return ["expected a quote, got diagnostics"]
    problems = []

    def check(key, got, want):
        if got != want:
            problems.append(f"{key}: expected {want!r}, got {got!r}")

    totals = q["totals"]
    for key in ("payable", "discount", "shipping"):
        if key in e:
            check(key, totals[key], e[key])
    if "applied" in e:
        check("applied", {a["promotion"]: a["amount"] for a in q["applied"]}, e["applied"] or {})
    if "applied_order" in e:
        check("applied_order", [a["promotion"] for a in q["applied"]], e["applied_order"])
    if "finals" in e:
        check("finals", {ln["id"]: ln["final"] for ln in q["lines"]}, e["finals"])
    if "discounts" in e:
        by_line = {ln["id"]: {d["promotion"]: d["amount"] for d in ln["discounts"]} for ln in q["lines"]}
        check("discounts", {k: by_line.get(k) for k in e["discounts"]}, e["discounts"])
    if "lines" in e:
        by_id = {ln["id"]: ln for ln in q["lines"]}
        got = {k: ({f: by_id[k].get(f) for f in v} if k in by_id else None) for k, v in e["lines"].items()}
        check("lines", got, e["lines"])
    reasons = {n["promotion"]: n["reason"] for n in q["not_applied"]}
    if "reasons" in e:
        check("reasons", {k: reasons.get(k) for k in e["reasons"]}, e["reasons"])
    if "not_applied" in e:
        check("not_applied", reasons, e["not_applied"] or {})
    if "details" in e:
        detail = {n["promotion"]: n.get("detail") or {} for n in q["not_applied"]}
        got = {k: ({f: detail[k].get(f) for f in v} if k in detail else None) for k, v in e["details"].items()}
        check("details", got, e["details"])
    if "hints" in e:
        got = [{k: h[k] for k in ("promotion", "missing_amount", "missing_quantity", "would_save") if k in h}
               for h in q["hints"]]
        check("hints", got, e["hints"] or [])
    if "capped" in e:
        check("capped", sorted(a["promotion"] for a in q["applied"] if a["capped"]), sorted(e["capped"] or []))
    if "presale" in e:
        want = e["presale"] or []
        got = [{k: p.get(k) for k in w} for p, w in zip(q["presale"], want)]
        check("presale", got, want)
        check("presale count", len(q["presale"]), len(want))
    if "better_set" in e:
        check("better_set", q.get("better_set"), e["better_set"])
    return problems


def _numbers(value):
    """Struct numbers come back from gRPC as floats (3 → 3.0): make whole ones ints again."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value


# ---- routes ----------------------------------------------------------------------------------------


def run_inprocess(cases: list[Case]) -> dict[str, Outcome]:
    """The engine API: load_sources → compile_plan → request_from_json → evaluate → quote_to_json."""
    from engine.lang.load import load_sources
    from engine.lang.source import SourceFile
    from engine.plan.compiler import compile_plan
    from engine.pricing.quote import evaluate
    from engine.wire.decode import RequestError, request_from_json
    from engine.wire.encode import quote_to_json, to_json

    plans: dict[tuple[str, str], Any] = {}
    out: dict[str, Outcome] = {}
    for case in cases:
        key = (case.file, case.rules)
        if key not in plans:
            loaded = load_sources([SourceFile(case.file, case.rules)])
            plans[key] = (loaded, compile_plan(loaded) if loaded.ok else None)
        loaded, plan = plans[key]
        if case.kind == "diagnostics":
            out[case.id] = Outcome(diagnostics=[to_json(d) for d in loaded.diagnostics])
        elif plan is None:
            errors = [(d.code, d.span.line, d.span.column) for d in loaded.diagnostics if d.is_error]
            out[case.id] = Outcome(error=f"the rules have errors: {errors}")
        else:
            try:
                request = request_from_json(json.loads(json.dumps(case.request)), plan.digits, plan.timezone)
            except RequestError as err:
                out[case.id] = Outcome(error=f"bad request: {err.field}: {err.message}")
                continue
            out[case.id] = Outcome(quote=quote_to_json(evaluate(plan, request)))
    return out


@dataclass
class Workspace:
    """Rules and carts written to disk for the command-line route: one directory per distinct
    ruleset (so each is compiled once per invocation), one cart file per case."""

    root: Path
    rulesets: dict[tuple[str, str], Path] = field(default_factory=dict)

    def ruleset_dir(self, case: Case) -> Path:
        key = (case.file, case.rules)
        if key not in self.rulesets:
            d = self.root / "rules" / f"r{len(self.rulesets):04d}"
            d.mkdir(parents=True)
            (d / case.file).write_text(case.rules, encoding="utf-8")
            self.rulesets[key] = d
        return self.rulesets[key]

    def argv(self, case: Case, index: int) -> list[str]:
        rules = str(self.ruleset_dir(case))
        if case.kind == "diagnostics":
            return ["check", rules, "--format", "json"]
        cart = self.root / "carts" / f"c{index:04d}.json"
        cart.parent.mkdir(exist_ok=True)
        cart.write_text(json.dumps(case.request, ensure_ascii=False), encoding="utf-8")
        return ["eval", rules, str(cart), "--json"]


def _cli_outcome(case: Case, code: int, stdout: str, stderr: str) -> Outcome:
    if case.kind == "diagnostics":
        if code not in (0, 1):
            return Outcome(error=f"promo check exited {code}: {stderr.strip()[-500:]}")
        return Outcome(diagnostics=json.loads(stdout))
    if code != 0:
        return Outcome(error=f"promo eval exited {code}: {stderr.strip()[-500:]}")
    return Outcome(quote=json.loads(stdout))


def run_cli(cases: list[Case], workdir: Path, processes: int = 2) -> dict[str, Outcome]:
    """`promo eval --json` / `promo check --format json`, every case, the JSON read from what the
    command prints. The invocations run in `processes` child processes of tests/conformance/cli_batch.py,
    each calling `server.cli.main(argv)` once per case (a fresh interpreter per case would cost
    ~0.5 s of imports each); `sample_cli_subprocess` runs some through the real `promo` executable."""
    ws = Workspace(workdir)
    jobs = [(case, ws.argv(case, i)) for i, case in enumerate(cases)]
    chunks = [jobs[k::processes] for k in range(processes)]
    procs = []
    for k, chunk in enumerate(chunks):
        jobfile = workdir / f"jobs{k}.json"
        jobfile.write_text(json.dumps([argv for _, argv in chunk]), encoding="utf-8")
        procs.append(subprocess.Popen([sys.executable, str(Path(__file__).with_name("cli_batch.py")), str(jobfile)],
                                      cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    out: dict[str, Outcome] = {}
    for proc, chunk in zip(procs, chunks):
        stdout, stderr = proc.communicate(timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"cli_batch.py failed ({proc.returncode}): {stderr[-2000:]}")
        for (case, _), res in zip(chunk, json.loads(stdout)):
            out[case.id] = _cli_outcome(case, res["exit"], res["stdout"], res["stderr"])
    return out


def promo_executable() -> list[str]:
    exe = Path(sys.executable).with_name("promo")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "server.cli"]


def run_cli_subprocess(cases: list[Case], workdir: Path, parallel: int = 2) -> dict[str, Outcome]:
    """The same invocations through the real `promo` executable, one process per case (slow: use
    for a sample)."""
    from concurrent.futures import ThreadPoolExecutor

    ws = Workspace(workdir)
    jobs = [(case, ws.argv(case, i)) for i, case in enumerate(cases)]

    def one(job):
        case, argv = job
        proc = subprocess.run(promo_executable() + argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
        return case.id, _cli_outcome(case, proc.returncode, proc.stdout, proc.stderr)

    with ThreadPoolExecutor(parallel) as pool:
        return dict(pool.map(one, jobs))


def sample(cases: list[Case]) -> list[Case]:
    """One case per feature (the first), for the real-subprocess CLI check."""
    seen, picked = set(), []
    for case in cases:
        if case.feature not in seen:
            seen.add(case.feature)
            picked.append(case)
    return picked


# ---- the gRPC route ----------------------------------------------------------------------------------


def grpc_available() -> str | None:
    """None when the gRPC route can run, else why not."""
    try:
        import grpc  # noqa: F401

        from server.gen.promo.v1 import promo_pb2, promo_pb2_grpc  # noqa: F401
    except Exception as err:  # the colleague's server is not there (yet)
        return f"the gRPC server is not available: {err!r}"
    return None


class ServedDirectory:
    """One server process (tests/conformance/serve.py: `promo serve`'s `server.app.serve`, with a
    50 ms reload poll) on a directory the route rewrites: a ruleset is swapped in by writing its
    file and waiting until GetRuleset reports that ruleset's revision."""

    def __init__(self, workdir: Path):
        import grpc

        from server.gen.promo.v1 import promo_pb2_grpc as pb_grpc

        self.dir = workdir / "rules"
        self.dir.mkdir(parents=True)
        self.current_file: Path | None = None
        self.mtime = 1_700_000_000 * 10**9
        self._write("rules.promo", 'ruleset "boot" {}\n')
        self.log_path = workdir / "serve.log"
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("serve.py")), str(self.dir), "--reload-interval", "0.05"],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._log)
        self.port = self._wait_port()
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        self.stub = pb_grpc.PromotionServiceStub(self.channel)

    def _write(self, name: str, text: str) -> None:
        """Replace the directory's rule file atomically, with a fresh mtime so the watcher's
        fingerprint (path, mtime, size) always changes."""
        target = self.dir / name
        tmp = self.dir / "next.tmp"
        tmp.write_text(text, encoding="utf-8")
        self.mtime += 10**9
        os.utime(tmp, ns=(self.mtime, self.mtime))
        os.replace(tmp, target)
        if self.current_file is not None and self.current_file != target:
            self.current_file.unlink()
        self.current_file = target

    def _wait_port(self, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log_path.read_text(encoding="utf-8").splitlines():
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if event.get("event") == "listening":
                    return event["port"]
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}: {self.log_path.read_text()}")
            time.sleep(0.02)
        raise RuntimeError(f"server did not start: {self.log_path.read_text()}")

    def serve(self, file: str, rules: str, timeout: float = 20.0) -> None:
        import grpc

        from engine.lang.load import load_ruleset
        from engine.plan.compiler import compile_plan
        from server.gen.promo.v1 import promo_pb2 as pb

        self._write(file, rules)
        want = compile_plan(load_ruleset(self.dir)).revision  # what the server computes for these files
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.stub.GetRuleset(pb.GetRulesetRequest(), timeout=5).revision == want:
                    return
            except grpc.RpcError as err:
                if err.code() != grpc.StatusCode.FAILED_PRECONDITION:
                    raise
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server never loaded the ruleset: {self.log_path.read_text()[-2000:]}")
            time.sleep(0.01)

    def stop(self) -> None:
        import signal

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        finally:
            self.channel.close()
            self._log.close()


def _to_proto_request(request: dict):
    from google.protobuf import json_format

    from server.gen.promo.v1 import promo_pb2 as pb

    data = json.loads(json.dumps(request))
    for key in ("wallet", "selected"):  # the CLI's plain-name shorthand is a {"coupon": NAME} object over gRPC
        if key in data:
            data[key] = [{"coupon": w} if isinstance(w, str) else w for w in data[key]]
    return json_format.ParseDict(data, pb.EvaluateRequest())


def run_grpc(cases: list[Case], workdir: Path, servers: int = 2) -> dict[str, Outcome]:
    """Evaluate over a real loopback connection; diagnostics through ValidateRules. Cases are
    grouped by ruleset; `servers` server processes each take a share of the rulesets."""
    import grpc
    from google.protobuf import json_format

    from server.gen.promo.v1 import promo_pb2 as pb

    as_json = dict(preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
    by_rules: dict[tuple[str, str], list[Case]] = {}
    diag_cases = []
    for case in cases:
        if case.kind == "diagnostics":
            diag_cases.append(case)
        else:
            by_rules.setdefault((case.file, case.rules), []).append(case)
    groups = list(by_rules.items())
    shares = [groups[k::servers] for k in range(servers)]
    out: dict[str, Outcome] = {}
    errors: list[BaseException] = []
    started = [ServedDirectory(workdir / f"server{k}") for k in range(servers)]

    def work(server: ServedDirectory, share, diags):
        try:
            for case in diags:
                files = [pb.SourceFile(path=case.file, text=case.rules)]
                reply = server.stub.ValidateRules(pb.ValidateRulesRequest(files=files), timeout=30)
                out[case.id] = Outcome(diagnostics=[json_format.MessageToDict(d, **as_json) for d in reply.diagnostics])
            for (file, rules), group in share:
                server.serve(file, rules)
                for case in group:
                    try:
                        reply = server.stub.Evaluate(_to_proto_request(case.request), timeout=30)
                        out[case.id] = Outcome(quote=_numbers(json_format.MessageToDict(reply, **as_json)))
                    except grpc.RpcError as err:
                        out[case.id] = Outcome(error=f"{err.code().name}: {err.details()}")
        except BaseException as err:  # reported after the threads join
            errors.append(err)

    try:
        threads = [threading.Thread(target=work, args=(s, share, diag_cases[k::servers]))
                   for k, (s, share) in enumerate(zip(started, shares))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for s in started:
            s.stop()
    if errors:
        raise errors[0]
    return out


def run_route(route: str, cases: list[Case], workdir: Path | None = None) -> dict[str, Outcome]:
    workdir = Path(workdir or tempfile.mkdtemp(prefix=f"conformance-{route}-"))
    if route == "inprocess":
        return run_inprocess(cases)
    if route == "cli":
        return run_cli(cases, workdir)
    if route == "grpc":
        return run_grpc(cases, workdir)
    raise ValueError(route)


def route_skip(route: str, case: Case) -> str | None:
    table = ROUTE_SKIPS.get(route, {})
    return table.get(case.id) or table.get(case.id.split("::")[0] + "::*")


def known_bug(route: str, case: Case) -> str | None:
    return KNOWN_ENGINE_BUGS.get(route, {}).get(case.id)


if __name__ == "__main__":  # python tests/conformance/runner.py [ROUTE...]: a summary without pytest
    sys.path.insert(0, str(ROOT))
    all_cases = load_cases()
    failed = 0
    for route in sys.argv[1:] or ROUTES:
        t0 = time.monotonic()
        results = run_route(route, [c for c in all_cases if not route_skip(route, c)])
        for case in all_cases:
            if case.id in results:
                problems = compare(case, results[case.id])
                if problems and not known_bug(route, case):
                    failed += 1
                    print(f"FAIL {route} {case.id}\n    " + "\n    ".join(problems))
        print(f"{route}: {len(results)} cases in {time.monotonic() - t0:.1f}s")
    sys.exit(1 if failed else 0)
