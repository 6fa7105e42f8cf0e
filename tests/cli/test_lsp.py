"""`promo lsp` through a real client over stdio (pytest-lsp): diagnostics equal to `promo check
--format json` as you type, completion, hover, go-to-definition, formatting equal to `promo fmt`,
and the did-you-mean quick fix."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

ROOT = Path(__file__).absolute().parent.parent.parent  # not resolved: the checkout the test runs in
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
DOUBLE11 = ROOT / "examples" / "double11"

BROKEN = """promotion "满100减10 店铺" { title "满100减10"  level itm
    scope sku == "A" and amount >= 100
    when amout >= 100
    group "platfrom-coupon"
    discount 100
}

coupon "c2" {
    level shop
    when amount >= 50
    discount 60
}

promotion "bad" {
    level shop
    discount
}
"""


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "server.cli", "lsp"],
                                              server_env=ENV))
async def client(lsp_client: LanguageClient, tmp_path_factory):
    rules = tmp_path_factory.mktemp("ruleset") / "double11"
    shutil.copytree(DOUBLE11, rules)
    lsp_client.rules = rules  # type: ignore[attr-defined]
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), root_uri=rules.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=rules.as_uri(), name="double11")]))
    yield
    await lsp_client.shutdown_session()


def promo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server.cli", *args], capture_output=True, text=True,
                          env=ENV, cwd=ROOT, timeout=120)


async def diagnostics_of(client: LanguageClient, uri: str, until=lambda ds: True, timeout: float = 30):
    """The diagnostics last published for `uri`, once `until` holds for them."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        found = client.diagnostics.get(uri)
        if found is not None and until(found):
            return found
        await asyncio.sleep(0.01)
    raise AssertionError(f"no diagnostics for {uri}: {client.diagnostics.get(uri)}")


def open_doc(client: LanguageClient, path: Path, text: str | None = None, version: int = 1) -> str:
    uri = path.as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=uri, language_id="promo", version=version, text=path.read_text() if text is None else text)))
    return uri


def change(client: LanguageClient, uri: str, text: str, version: int) -> None:
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))


def as_check_json(d: types.Diagnostic) -> tuple:
    # every character before a diagnostic of BROKEN is in the BMP: UTF-16 units = code points
    return (d.code, "error" if d.severity == types.DiagnosticSeverity.Error else "warning",
            d.range.start.line + 1, d.range.start.character + 1, d.range.end.line + 1, d.range.end.character + 1)


@pytest.mark.asyncio
async def test_broken_file_diagnostics_equal_promo_check(client: LanguageClient):
    path = client.rules / "broken.promo"
    path.write_text(BROKEN)
    uri = open_doc(client, path)
    found = await diagnostics_of(client, uri, lambda ds: len(ds) > 0)
    checked = json.loads(promo("check", str(client.rules), "--format", "json").stdout)
    want = [(d["code"], d["severity"], d["line"], d["column"], d["end_line"], d["end_column"])
            for d in checked if d["file"].endswith("broken.promo")]
    assert sorted(as_check_json(d) for d in found) == sorted(want)
    codes = {d.code for d in found}
    assert {"unknown-value", "order-attribute-in-scope", "unknown-attribute", "undeclared-group",
            "discount-exceeds-threshold", "syntax"} <= codes
    by_code = {d.code: d for d in found}
    assert "help: did you mean `amount`?" in by_code["unknown-attribute"].message  # the help travels
    assert by_code["discount-exceeds-threshold"].severity == types.DiagnosticSeverity.Warning
    assert all(d.source == "promo" for d in found)
    # the other files of the pack were checked with it, and are clean
    assert await diagnostics_of(client, (client.rules / "items.promo").as_uri()) in ([], ())

    # typing: fixing the file clears its diagnostics; breaking it again brings them back
    fixed = BROKEN.replace("level itm", "level item").replace("and amount >= 100", "").replace("amout", "amount") \
        .replace("platfrom", "platform").replace("discount 100\n}", "discount 10\n}", 1) \
        .replace("discount 60", "discount 6").replace("    discount\n", "    discount 5\n")
    change(client, uri, fixed, 2)
    assert not await diagnostics_of(client, uri, lambda ds: not ds)
    change(client, uri, fixed.replace("level item", "level itme"), 3)
    again = await diagnostics_of(client, uri, lambda ds: len(ds) == 1)
    assert again[0].code == "unknown-value" and again[0].range.start.line == 0


@pytest.mark.asyncio
async def test_an_edit_republishes_the_other_files_it_affects(client: LanguageClient):
    items = client.rules / "items.promo"
    uri = open_doc(client, items)
    await diagnostics_of(client, uri, lambda ds: not ds)
    # a second block named like a shop promotion: the later file's block is the duplicate
    text = items.read_text() + '\npromotion "tee-shop-second-half" {\n    level item\n    discount 1\n}\n'
    change(client, uri, text, 2)
    shops = (client.rules / "shops.promo").as_uri()
    dup = await diagnostics_of(client, shops, lambda ds: any(d.code == "duplicate-name" for d in ds))
    assert [d.code for d in dup] == ["duplicate-name"]
    change(client, uri, items.read_text(), 3)
    assert not await diagnostics_of(client, shops, lambda ds: not ds)


@pytest.mark.asyncio
async def test_completion_after_scope_offers_line_attributes_only(client: LanguageClient):
    path = client.rules / "new.promo"
    text = 'promotion "p" {\n    level shop\n    scope \n    group "\n    when \n}\n'
    uri = open_doc(client, path, text)
    doc = types.TextDocumentIdentifier(uri=uri)

    async def labels(line: int, character: int) -> set[str]:
        result = await client.text_document_completion_async(types.CompletionParams(
            text_document=doc, position=types.Position(line=line, character=character)))
        return {item.label for item in (result.items if isinstance(result, types.CompletionList) else result)}

    scope = await labels(2, 10)
    assert {"sku", "shop", "category", "brand", "tags", "price", "line.material", "line.imported"} <= scope
    assert not scope & {"amount", "quantity", "user.level", "cart.amount", "channel", "now", "user.vip_until"}
    assert {"platform-coupon", "socks-offer"} <= await labels(3, 11)  # declared groups, in the string
    when = await labels(4, 9)
    assert {"amount", "quantity", "user.level", "user.vip_until"} <= when and "sku" not in when
    clause = await labels(1, 4)
    assert {"level", "scope", "when", "discount", "tiers", "exclusive"} <= clause

    test = client.rules / "new_test.promo"
    text = 'test "t" {\n    wallet \n    expect not_applied "plat-300-30" \n    expect applied \n    \n}\n'
    tdoc = types.TextDocumentIdentifier(uri=open_doc(client, test, text))
    result = await client.text_document_completion_async(types.CompletionParams(
        text_document=tdoc, position=types.Position(line=1, character=11)))
    assert {"plat-300-30", "shoe-300-40"} <= {i.label for i in result.items}
    assert "tee-shop-second-half" not in {i.label for i in result.items}  # an automatic promotion is not held
    assert result.items[0].text_edit.new_text.startswith('"')
    result = await client.text_document_completion_async(types.CompletionParams(
        text_document=tdoc, position=types.Position(line=2, character=37)))
    assert {"NOT_IN_WALLET", "THRESHOLD_NOT_MET", "OUTSIDE_WINDOW"} <= {i.label for i in result.items}
    assert "CAPPED" not in {i.label for i in result.items}
    result = await client.text_document_completion_async(types.CompletionParams(
        text_document=tdoc, position=types.Position(line=3, character=19)))
    assert "tee-shop-second-half" in {i.label for i in result.items}
    result = await client.text_document_completion_async(types.CompletionParams(
        text_document=tdoc, position=types.Position(line=4, character=4)))
    assert {"at", "line", "wallet", "expect"} <= {i.label for i in result.items}


def position_of(path: Path, needle: str, offset: int = 0) -> types.Position:
    for number, line in enumerate(path.read_text().split("\n")):
        if needle in line:
            return types.Position(line=number, character=line.index(needle) + offset)
    raise AssertionError(needle)


@pytest.mark.asyncio
async def test_hover_on_a_promotion_and_an_attribute(client: LanguageClient):
    shops = client.rules / "shops.promo"
    doc = types.TextDocumentIdentifier(uri=open_doc(client, shops))
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=doc, position=position_of(shops, '"shoe-300-40"', 3)))
    text = hover.contents.value
    assert "coupon `shoe-300-40`" in text
    assert "shop level" in text and "40 CNY off the eligible lines together" in text
    assert "window: always (no `active`)" in text and "limit: 1 per user" in text
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=doc, position=position_of(shops, "scope shop", 7)))
    assert "shop: string" in hover.contents.value and "line attribute" in hover.contents.value
    # a promotion named in a test
    tests = client.rules / "double11_test.promo"
    tdoc = types.TextDocumentIdentifier(uri=open_doc(client, tests))
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=tdoc, position=position_of(tests, 'expect applied "tee-seckill-first-half-hour"', 17)))
    assert "promotion `tee-seckill-first-half-hour`" in hover.contents.value
    assert "each eligible unit costs 19.90 CNY" in hover.contents.value
    assert "window: from 2026-11-11T00:00 until before 2026-11-11T00:30 (Asia/Shanghai)" in hover.contents.value


@pytest.mark.asyncio
async def test_go_to_definition(client: LanguageClient):
    shops = client.rules / "shops.promo"
    doc = types.TextDocumentIdentifier(uri=open_doc(client, shops))
    found = await client.text_document_definition_async(types.DefinitionParams(
        text_document=doc, position=position_of(shops, 'group "socks-offer"', 9)))
    header = client.rules / "00_ruleset.promo"
    assert found.uri == header.as_uri()
    assert found.range.start == position_of(header, 'group "socks-offer" max 1', 6)
    # a promotion named in a test, in another file
    tests = client.rules / "double11_test.promo"
    tdoc = types.TextDocumentIdentifier(uri=open_doc(client, tests))
    found = await client.text_document_definition_async(types.DefinitionParams(
        text_document=tdoc, position=position_of(tests, 'expect not_applied "night-owl-20"', 21)))
    assert found.uri.endswith(".promo") and found.uri != tdoc.uri
    target = Path(found.uri.removeprefix("file://"))
    assert target.read_text().split("\n")[found.range.start.line][found.range.start.character:].startswith(
        '"night-owl-20"')
    # a declared attribute
    guards = client.rules / "guards.promo"
    gdoc = types.TextDocumentIdentifier(uri=open_doc(client, guards))
    found = await client.text_document_definition_async(types.DefinitionParams(
        text_document=gdoc, position=position_of(guards, "scope line.imported", 8)))
    assert found.uri == header.as_uri() and found.range.start == position_of(header, "line.imported bool")


@pytest.mark.asyncio
async def test_formatting_equals_promo_fmt(client: LanguageClient, tmp_path: Path):
    messy = ('# a comment\npromotion "p" { level shop  when amount >= 100  discount 10 }  # after\n'
             'coupon   "c"{level platform\n\n\n  scope not (category in ["books","toys"])\n discount 8.8折 max 100}\n')
    path = client.rules / "messy.promo"
    path.write_text(messy)
    doc = types.TextDocumentIdentifier(uri=open_doc(client, path))
    edits = await client.text_document_formatting_async(types.DocumentFormattingParams(
        text_document=doc, options=types.FormattingOptions(tab_size=4, insert_spaces=True)))
    assert len(edits) == 1 and edits[0].range.start == types.Position(line=0, character=0)
    copy = tmp_path / "messy.promo"
    copy.write_text(messy)
    assert promo("fmt", str(copy)).returncode == 0
    assert edits[0].new_text == copy.read_text()
    # a file with syntax errors is not formatted
    change(client, doc.uri, messy + "promotion {", 2)
    assert await client.text_document_formatting_async(types.DocumentFormattingParams(
        text_document=doc, options=types.FormattingOptions(tab_size=4, insert_spaces=True))) is None


@pytest.mark.asyncio
async def test_quick_fix_for_did_you_mean(client: LanguageClient):
    path = client.rules / "typo.promo"
    text = 'promotion "p" {\n    level itm\n    group "platfrom-coupon"\n    when user.levl >= 2\n    discount 5\n}\n'
    uri = open_doc(client, path, text)
    found = await diagnostics_of(client, uri, lambda ds: len(ds) == 3)
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=found[0].range,
        context=types.CodeActionContext(diagnostics=list(found))))
    fixes = {a.title: a.edit.changes[uri][0] for a in actions}
    assert fixes["Replace with `item`"].new_text == "item"
    assert fixes["Replace with `platform-coupon`"].new_text == '"platform-coupon"'
    assert fixes["Replace with `user.level`"].new_text == "user.level"
    lines = text.split("\n")
    for edit in fixes.values():  # apply them: the file checks clean
        r = edit.range
        line = lines[r.start.line]
        lines[r.start.line] = line[: r.start.character] + edit.new_text + line[r.end.character:]
    change(client, uri, "\n".join(lines), 2)
    assert not await diagnostics_of(client, uri, lambda ds: not ds)


@pytest.mark.asyncio
async def test_hover_and_definition_in_a_large_file_after_lines_move(client: LanguageClient):
    """A file of many chunks (server/lsp/workspace.py): after an edit that adds lines at its top,
    hover and go-to-definition deep in it answer with the file's real lines, and the diagnostics
    stay those of `promo check`."""
    big = client.rules / "big.promo"
    blocks = [f'promotion "big-{i}" {{\n    level item\n    scope sku == "S{i}"\n    discount 1\n}}\n' for i in range(400)]
    blocks.append('coupon "big-coupon" {\n    level shop\n    group "socks-offer"\n    discount 5\n}\n')
    text = "\n".join(blocks)
    big.write_text(text)
    uri = open_doc(client, big)
    await diagnostics_of(client, uri)
    moved = "# one\n# two\npromotion \"big-x\" {\n    level shp\n    discount 1\n}\n\n" + text
    big.write_text(moved)
    change(client, uri, moved, 2)
    found = await diagnostics_of(client, uri, until=lambda ds: any(d.code == "unknown-value" for d in ds))
    checked = json.loads(promo("check", str(client.rules), "--format", "json").stdout)
    want = [(d["code"], d["severity"], d["line"], d["column"], d["end_line"], d["end_column"])
            for d in checked if d["file"].endswith("big.promo")]
    assert sorted(as_check_json(d) for d in found) == sorted(want) and len(want) == 1
    doc = types.TextDocumentIdentifier(uri=uri)
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=doc, position=position_of(big, '"big-399"', 2)))
    assert "promotion `big-399`" in hover.contents.value
    assert hover.range.start == position_of(big, '"big-399"')
    found_at = await client.text_document_definition_async(types.DefinitionParams(
        text_document=doc, position=position_of(big, 'group "socks-offer"', 9)))
    header = client.rules / "00_ruleset.promo"
    assert found_at.uri == header.as_uri()
    assert found_at.range.start == position_of(header, 'group "socks-offer" max 1', 6)
