"""The checker's diagnostics as LSP diagnostics, and the quick fixes their "did you mean" offers.

Each LSP diagnostic keeps the checker's code (`code`), range (the span, converted to UTF-16),
severity and message; the `help` line is appended to the message (editors show one text) and
also kept in `data`, with the suggested spelling, for the quick fix. Labels (a second place, such
as the `{` a missing `}` leaves open) become related information.
"""

from __future__ import annotations

import re
from pathlib import Path

from lsprotocol import types

from engine.lang.diagnostics import Diagnostic
from server.lsp.positions import Lines

SOURCE = "promo"
_SUGGESTION = re.compile(r"did you mean `([^`]+)`\?")


def uri_of(path: str) -> str:
    return Path(path).as_uri() if Path(path).is_absolute() else path


def to_lsp(diag: Diagnostic, lines: Lines, line_texts=None) -> types.Diagnostic:
    message = diag.message + (f"\nhelp: {diag.help}" if diag.help else "")
    related = None
    if diag.labels:
        related = []
        for label in diag.labels:
            where: Lines | None
            if label.span.file == diag.span.file:
                where = lines
            else:
                where = line_texts(label.span.file) if line_texts else None
            if where is None:
                continue
            related.append(types.DiagnosticRelatedInformation(
                location=types.Location(uri=uri_of(label.span.file), range=where.range(label.span)),
                message=label.message))
    data = {"help": diag.help}
    suggestion = suggested(diag)
    if suggestion is not None:
        data["suggestion"] = suggestion
    return types.Diagnostic(
        range=lines.range(diag.span), message=message, code=diag.code, source=SOURCE,
        severity=types.DiagnosticSeverity.Error if diag.is_error else types.DiagnosticSeverity.Warning,
        related_information=related or None, data=data)


def suggested(diag: Diagnostic) -> str | None:
    """The spelling a "did you mean" help names."""
    match = _SUGGESTION.search(diag.help or "")
    return match.group(1) if match else None


def quick_fixes(uri: str, text: str, diagnostics: list[types.Diagnostic]) -> list[types.CodeAction]:
    """One "replace with `X`" action per diagnostic of the request that has a suggestion. The
    replacement keeps the quotes of a string literal (`group "platfrom"` -> `"platform"`)."""
    lines = Lines(text)
    actions = []
    for d in diagnostics:
        data = d.data if isinstance(d.data, dict) else {}
        suggestion = data.get("suggestion")
        if not suggestion:
            continue
        written = _text_in(lines, d.range)
        new = f'"{suggestion}"' if written.startswith('"') and written.endswith('"') else suggestion
        edit = types.WorkspaceEdit(changes={uri: [types.TextEdit(range=d.range, new_text=new)]})
        actions.append(types.CodeAction(title=f"Replace with `{suggestion}`", kind=types.CodeActionKind.QuickFix,
                                        diagnostics=[d], edit=edit, is_preferred=True))
    return actions


def _text_in(lines: Lines, r: types.Range) -> str:
    if r.start.line != r.end.line:
        return ""
    text = lines.line(r.start.line + 1)
    start = lines.column(r.start.line, r.start.character) - 1
    end = lines.column(r.end.line, r.end.character) - 1
    return text[start:end]
