"""The `settings` pass: the ruleset header, resolved once into `RulesetSettings`.

The first header is the ruleset's (a second is `second-ruleset`, its clauses still checked);
its currency and timezone hold for every later check. Groups and attributes are declared by
every header, the first declaration of a name counting.
"""

from __future__ import annotations

import functools
import zoneinfo

from engine.base.money import KNOWN_CURRENCIES, ROUNDING_MODES
from engine.lang import ast
from engine.lang import messages as m
from engine.lang.check.state import State, keyword_span
from engine.lang.checked import RulesetSettings
from engine.lang.schema import ATTRIBUTE_TYPES, BUILTIN, STACKING_MODES, declared_info


def run(st: State) -> None:
    headers = st.of(ast.Ruleset)
    for extra in headers[1:]:
        st.emit(m.second_ruleset(keyword_span(extra), extra.name.value, headers[0].span))
    for header in headers:
        _header(st, header, primary=header is headers[0])
    st.settings = _resolved(st, headers[0] if headers else None)


def _resolved(st: State, header: ast.Ruleset | None) -> RulesetSettings:
    """The settings the primary header gives, with the defaults of `RulesetSettings` for the
    rest. The values are as written once an error is reported: only an error-free ruleset is
    compiled."""
    if header is None:
        return RulesetSettings(currency=st.settings.currency, timezone=st.settings.timezone)
    stacking, rounding, min_payment = (ast.first(header, kind) for kind in (ast.Stacking, ast.Rounding, ast.MinPayment))
    defaults = RulesetSettings()
    return RulesetSettings(
        name=header.name.value,
        currency=st.settings.currency,
        timezone=st.settings.timezone,
        stacking=stacking.mode.value if stacking else defaults.stacking,
        rounding=rounding.mode.value if rounding else defaults.rounding,
        min_payment=min_payment.amount.value if min_payment else defaults.min_payment,
        groups={name: int(g.max.value) for name, g in st.groups.items()},
        declared=dict(st.declared),
    )


def _header(st: State, block: ast.Ruleset, primary: bool) -> None:
    seen = st.singles(block, block.settings, allowed_twice=(ast.GroupDecl, ast.AttributeDecl))
    currency = seen.get(ast.Currency)
    if isinstance(currency, ast.Currency):
        code = currency.code.value
        if code in KNOWN_CURRENCIES:
            if primary:
                st.settings = RulesetSettings(currency=code, timezone=st.settings.timezone)
        else:
            st.emit(m.unknown_currency(currency.code.span, code, KNOWN_CURRENCIES))
    tz = seen.get(ast.Timezone)
    if isinstance(tz, ast.Timezone):
        zone = _zone(tz.name.value)
        if zone is None:
            st.emit(m.unknown_timezone(tz.name.span, tz.name.value, _zones()))
        elif primary:
            st.settings = RulesetSettings(currency=st.settings.currency, timezone=zone)
    for setting in block.settings:
        if isinstance(setting, ast.Stacking):
            st.enum(setting.mode, STACKING_MODES, m.STACKING_MODE)
        elif isinstance(setting, ast.Rounding):
            st.enum(setting.mode, ROUNDING_MODES, m.ROUNDING_MODE)
        elif isinstance(setting, ast.MinPayment):
            st.money(setting.amount)
        elif isinstance(setting, ast.GroupDecl):
            _group(st, setting)
        elif isinstance(setting, ast.AttributeDecl):
            _attribute(st, setting)


def _group(st: State, decl: ast.GroupDecl) -> None:
    st.whole(decl.max, m.GROUP_MAX, minimum=1)
    first = st.groups.get(decl.name.value)
    if first is not None:
        st.emit(m.group_declared_twice(decl.name.span, decl.name.value, first.name.span))
    else:
        st.groups[decl.name.value] = decl


def _attribute(st: State, decl: ast.AttributeDecl) -> None:
    path = decl.path.dotted
    if not st.enum(decl.type, ATTRIBUTE_TYPES, m.ATTRIBUTE_TYPE):
        return
    info = declared_info(path, decl.type.value)
    if info is None:
        st.emit(m.undeclarable(decl.path.span, path))
    elif path in BUILTIN:
        st.emit(m.builtin_declared(decl.path.span, path))
    elif path in st.declared:
        st.emit(m.attribute_declared_twice(decl.path.span, path, st.declared_at[path]))
    else:
        st.declared[path] = info
        st.declared_at[path] = decl.path.span


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _zone(name: str) -> zoneinfo.ZoneInfo | None:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None

