"""Language-server latency: from a `textDocument/didChange` to the `publishDiagnostics` for it.

The bench ruleset of 10,000 promotions (bench/gen.py) is written as a ruleset directory: its header
in one file and the promotions in files of `--per-file` promotions each (100 files of 100 by
default: how a large pack is kept, one file a shop or a team). `promo lsp` runs as a real server
over stdio (a pygls client drives it); one file is opened, then edited `--edits` times, alternating
an edit that breaks a promotion (`level shp`) and one that mends it, so every change publishes new
diagnostics. Also measured: an edit of the header file (everything is checked again), and the same
10,000 promotions in one file (65,300 lines, the header in it): an edit in a line, and an edit
that adds a line (every block below it moves). In one file an edit parses only the blocks whose
text changed and re-checks the chunks they are in (engine/lang/incremental.py, server/lsp/workspace.py).

Run: `.venv/bin/python bench/lsp.py [--promotions 10000] [--per-file 100] [--edits 40]`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import BaseLanguageClient

BENCH = Path(__file__).absolute().parent  # not resolved: the checkout it runs in
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

from gen import ruleset_text  # noqa: E402


def split_ruleset(promotions: int, per_file: int, into: Path) -> list[Path]:
    """The generated ruleset as a directory: `00_header.promo` and `rules-NNN.promo` files."""
    text = ruleset_text(promotions, shops=max(promotions // 10, 1))
    blocks = text.split("\n\n")  # the generator separates blocks with one blank line
    header, rest = blocks[0], blocks[1:]
    into.mkdir(parents=True, exist_ok=True)
    (into / "00_header.promo").write_text(header + "\n")
    paths = []
    for i in range(0, len(rest), per_file):
        path = into / f"rules-{i // per_file:03d}.promo"
        path.write_text("\n".join(rest[i:i + per_file]))
        paths.append(path)
    return paths


class Client(BaseLanguageClient):
    def __init__(self) -> None:
        super().__init__("promo-bench", "1")
        self.published: dict[str, tuple[int | None, list, float]] = {}
        self.arrived = asyncio.Event()

        @self.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def _diagnostics(params: types.PublishDiagnosticsParams) -> None:
            self.published[params.uri] = (params.version, params.diagnostics, time.perf_counter())
            self.arrived.set()

    async def wait(self, uri: str, version: int, timeout: float = 120) -> tuple[list, float]:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            found = self.published.get(uri)
            if found is not None and found[0] == version:
                return found[1], found[2]
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), timeout=max(deadline - time.perf_counter(), 0.01))
            except TimeoutError:
                break
        raise TimeoutError(f"no diagnostics for version {version} of {uri}")


async def _session(root: Path):
    client = Client()
    await client.start_io(sys.executable, "-m", "server.cli", "lsp", cwd=str(ROOT))
    await client.initialize_async(types.InitializeParams(capabilities=types.ClientCapabilities(),
                                                         root_uri=root.as_uri()))
    client.initialized(types.InitializedParams())
    return client


async def edit_latency(client: Client, path: Path, edits: int, break_at: str, broken: str) -> dict:
    """Open `path`, then edit it `edits` times; milliseconds from each didChange to its diagnostics."""
    uri = path.as_uri()
    text = path.read_text()
    start = time.perf_counter()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="promo", version=1, text=text)))
    await client.wait(uri, 1)
    opened = time.perf_counter() - start
    assert break_at in text, break_at
    runs, counts = [], set()
    for version in range(2, edits + 2):  # every text is new (the server keeps the parses of recent texts)
        new = (text.replace(break_at, broken, 1) if version % 2 == 0 else text) + f"# edit {version}\n"
        sent = time.perf_counter()
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=new)]))
        found, arrived = await client.wait(uri, version)
        runs.append((arrived - sent) * 1000)
        counts.add(len(found))
    assert len(counts) == 2, counts  # the broken text has a diagnostic, the mended one none
    client.text_document_did_close(types.DidCloseTextDocumentParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    runs.sort()
    return {"open_s": opened, "p50": statistics.median(runs), "p90": runs[int(len(runs) * 0.9) - 1] if len(runs) > 1
            else runs[0], "max": runs[-1], "edits": len(runs), "lines": text.count("\n") + 1}


async def measure(promotions: int = 10_000, per_file: int = 100, edits: int = 40,
                  single_file_edits: int | None = None) -> list[dict]:
    single_file_edits = single_file_edits or max(edits // 2, 2)
    rows = []
    with tempfile.TemporaryDirectory(prefix="promo-bench-lsp-") as tmp:
        root = Path(tmp) / "split"
        files = split_ruleset(promotions, per_file, root)
        client = await _session(root)
        try:
            target = files[len(files) // 2]
            row = await edit_latency(client, target, edits, "level ", "level shp ")
            rows.append({"case": f"edit one file of {len(files) + 1} ({per_file} promotions in it)", **row})
            row = await edit_latency(client, root / "00_header.promo", max(edits // 4, 2), "stacking", "stackin")
            rows.append({"case": "edit the header file (the whole ruleset is checked)", **row})
        finally:
            await client.shutdown_async(None)
            client.exit(None)
            await client.stop()
        one = Path(tmp) / "one"
        one.mkdir()
        (one / "all.promo").write_text(ruleset_text(promotions, shops=max(promotions // 10, 1)))
        client = await _session(one)
        try:
            row = await edit_latency(client, one / "all.promo", single_file_edits, "level platform", "level platfrm")
            rows.append({"case": f"all {promotions:,} promotions in one file: an edit in a line", **row})
            row = await edit_latency(client, one / "all.promo", single_file_edits, "level platform",
                                     "level platfrm\n   ")
            rows.append({"case": f"all {promotions:,} promotions in one file: an edit that adds a line "
                                 "(every later line moves)", **row})
        finally:
            await client.shutdown_async(None)
            client.exit(None)
            await client.stop()
    return rows


def table(rows: list[dict]) -> str:
    out = ["| case | lines of the edited file | didChange → diagnostics p50 | p90 | max | edits "
           "| open (whole check) |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r['case']} | {r['lines']:,} | {r['p50']:.1f} ms | {r['p90']:.1f} ms | {r['max']:.1f} ms | "
                   f"{r['edits']} | {r['open_s']:.2f} s |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--promotions", type=int, default=10_000)
    parser.add_argument("--per-file", type=int, default=100)
    parser.add_argument("--edits", type=int, default=40)
    args = parser.parse_args()
    print(table(asyncio.run(measure(args.promotions, args.per_file, args.edits))))


if __name__ == "__main__":
    main()
