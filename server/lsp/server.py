"""`promo lsp`: the language server over stdio (pygls).

Diagnostics are pushed (`textDocument/publishDiagnostics`) for every file of the ruleset of an
open document: on open (the whole directory is checked once), as you type (the changed file only,
then the few other files the change affects: server/lsp/workspace.py) and when files change on
disk (save, `workspace/didChangeWatchedFiles`). Changes that arrive together are checked once,
at their latest text. Requests: hover, completion, definition, formatting (the canonical printer,
as `promo fmt`) and code actions (the quick fix of a "did you mean").
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
from importlib import metadata

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from engine.lang import ast
from server.lsp import completion as comp
from server.lsp import diagnostics as diag
from server.lsp.definition import definition
from server.lsp.front import FormatError, format_text
from server.lsp.hover import hover_text
from server.lsp.positions import Lines
from server.lsp.workspace import Ruleset, Workspace


def _version() -> str:
    try:
        return metadata.version("promo")
    except metadata.PackageNotFoundError:
        return "0"


class PromoLanguageServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("promo-lsp", _version(), text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.rules = Workspace()
        self.pending: dict[str, str] = {}  # uri -> path of documents changed since the last check
        self.flush_scheduled = False
        self.versions: dict[str, int] = {}

    # ---- documents -----------------------------------------------------------------------------

    def path_of(self, uri: str) -> str:
        return to_fs_path(uri) or uri if uri.startswith("file:") else uri

    def text_of(self, uri: str) -> str:
        return self.workspace.get_text_document(uri).source

    def encoding(self) -> str:
        enc = getattr(self.server_capabilities, "position_encoding", None) or "utf-16"
        return str(getattr(enc, "value", enc))

    def lines_of(self, path: str) -> Lines | None:
        state = self.rules.state(path)
        return Lines(state.text, self.encoding()) if state is not None else None

    def publish(self, changed: dict[str, list]) -> None:
        for path, found in changed.items():
            lines = self.lines_of(path) or Lines("", self.encoding())
            items = [diag.to_lsp(d, lines, self.lines_of) for d in found]
            uri = diag.uri_of(path)
            version = self.versions.get(uri)  # the version of an open document these are for
            self.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=uri, diagnostics=items, version=version))

    def flush(self) -> None:
        """Check the documents changed since the last check, at their latest text."""
        self.flush_scheduled = False
        pending, self.pending = self.pending, {}
        for uri, path in pending.items():
            self.publish(self.rules.change(path, self.text_of(uri)))

    def schedule(self, uri: str) -> None:
        self.pending[uri] = self.path_of(uri)
        if not self.flush_scheduled:
            self.flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    # ---- what requests need ------------------------------------------------------------------

    def current(self, uri: str, line: int) -> tuple[Ruleset, ast.File, int, Lines] | None:
        """The ruleset of `uri`, the tree of its unit that holds `line` (1-based) and that line in
        the unit (server/lsp/workspace.py): a request never waits for the whole file's tree."""
        if self.pending:
            self.flush()
        path = self.path_of(uri)
        state = self.rules.state(path)
        if state is None or any(u.tree is None for u in state.units):
            return None
        ruleset = self.rules.ruleset_of(path)
        at = ruleset.unit_at(path, line)
        if at is None:
            return None
        return ruleset, at[0], at[1], Lines(state.text, self.encoding())


server = PromoLanguageServer()


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: PromoLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
    ls.versions[params.text_document.uri] = params.text_document.version
    ls.publish(ls.rules.open(ls.path_of(params.text_document.uri), params.text_document.text))
    gc.freeze()  # the ruleset's trees live long: keep the collector's full passes from walking them


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: PromoLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
    ls.versions[params.text_document.uri] = params.text_document.version
    ls.schedule(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: PromoLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
    if ls.pending:
        ls.flush()
    ls.publish(ls.rules.sync())


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: PromoLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
    ls.pending.pop(params.text_document.uri, None)
    ls.versions.pop(params.text_document.uri, None)
    ls.publish(ls.rules.close(ls.path_of(params.text_document.uri)))


@server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
def did_change_watched(ls: PromoLanguageServer, params: types.DidChangeWatchedFilesParams) -> None:
    ls.publish(ls.rules.sync())


def _header_settings(ruleset: Ruleset) -> tuple[str, str | None]:
    for item in ruleset.names():
        if isinstance(item, ast.Ruleset):
            currency = ast.first(item, ast.Currency)
            zone = ast.first(item, ast.Timezone)
            return (currency.code.value if currency else "CNY"), (zone.name.value if zone else None)
    return "CNY", None


@server.feature(types.TEXT_DOCUMENT_HOVER)
def hover(ls: PromoLanguageServer, params: types.HoverParams) -> types.Hover | None:
    found = ls.current(params.text_document.uri, params.position.line + 1)
    if found is None:
        return None
    ruleset, tree, line, lines = found
    column = lines.column(params.position.line, params.position.character)
    currency, zone = _header_settings(ruleset)
    result = hover_text(tree, line, column, ruleset.lookup_items(), currency, zone)
    if result is None:
        return None
    text, node = result
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text),
                       range=lines.range(ruleset.real_span(node.span)))


_KINDS = {"keyword": types.CompletionItemKind.Keyword, "attribute": types.CompletionItemKind.Field,
          "value": types.CompletionItemKind.EnumMember, "name": types.CompletionItemKind.Reference,
          "field": types.CompletionItemKind.Property}


@server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=[" ", ".", '"']))
def completion(ls: PromoLanguageServer, params: types.CompletionParams) -> types.CompletionList:
    if ls.pending:
        ls.flush()
    uri = params.text_document.uri
    text = ls.text_of(uri)
    lines = Lines(text, ls.encoding())
    line0, col = params.position.line, lines.column(params.position.line, params.position.character)
    before = "\n".join(lines.lines[:line0] + [lines.line(line0 + 1)[: col - 1]])
    ruleset = ls.rules.ruleset_of(ls.path_of(uri))
    names = comp.names_of(ruleset.names())  # names only: no need of the files' real spans
    items, prefix = comp.complete(before, names)
    start = types.Position(line=line0, character=lines.character(line0 + 1, col - len(prefix)))
    replace = types.Range(start=start, end=params.position)
    in_string = comp.scan(before).in_string
    out = []
    for item in items:
        if item.quoted:
            new = item.label if in_string else f'"{item.label}"'
        else:
            new = item.label
        out.append(types.CompletionItem(label=item.label, kind=_KINDS[item.kind], detail=item.detail,
                                        text_edit=types.TextEdit(range=replace, new_text=new)))
    return types.CompletionList(is_incomplete=False, items=out)


@server.feature(types.TEXT_DOCUMENT_DEFINITION)
def goto_definition(ls: PromoLanguageServer, params: types.DefinitionParams) -> types.Location | None:
    found = ls.current(params.text_document.uri, params.position.line + 1)
    if found is None:
        return None
    ruleset, tree, line, lines = found
    column = lines.column(params.position.line, params.position.character)
    found_span = definition(tree, line, column, ruleset.lookup_items())
    if found_span is None:
        return None
    span = ruleset.real_span(found_span)
    target = ls.lines_of(span.file)
    if target is None:
        return None
    return types.Location(uri=diag.uri_of(span.file), range=target.range(span))


@server.feature(types.TEXT_DOCUMENT_FORMATTING)
def formatting(ls: PromoLanguageServer, params: types.DocumentFormattingParams) -> list[types.TextEdit] | None:
    uri = params.text_document.uri
    text = ls.text_of(uri)
    try:
        new = format_text(text, ls.path_of(uri))
    except FormatError:
        return None  # a file with syntax errors is not formatted (as `promo fmt`); its diagnostics say why
    if new == text:
        return []
    lines = Lines(text, ls.encoding())
    whole = types.Range(start=types.Position(line=0, character=0), end=lines.end())
    return [types.TextEdit(range=whole, new_text=new)]


@server.feature(types.TEXT_DOCUMENT_CODE_ACTION,
                types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]))
def code_action(ls: PromoLanguageServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    uri = params.text_document.uri
    return diag.quick_fixes(uri, ls.text_of(uri), list(params.context.diagnostics))


def main() -> int:
    server.start_io()
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - pygls closed stdout at exit; `promo` flushes it
    return 0
