"""Tool arguments are strict, and a wrong one gets one sentence the model can act on.

An agent's first guess is often an argument the tool does not have (``list_orders(stauts=...)``,
``list_orders(customer_id=...)``); ignoring it would answer a different question than the one asked, so unknown
arguments are refused, naming the closest known one, and every input schema says ``additionalProperties: false``.
A value the schema refuses is described per argument: what was given and what is accepted, with no library text,
class names or links. Given values are quoted under the text policy (:func:`hajatek_mcp.server.safety.quote`).
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from pydantic import Field, ValidationError
from pydantic_core import ErrorDetails

from hajatek_mcp.server.safety import quote

__all__ = ["StrictTool", "describe"]


class StrictTool(Tool):
    """A tool that refuses unknown arguments and explains refused values in plain words."""

    declared: dict[str, Any] = Field(default_factory=dict, exclude=True)
    """The input schema as declared, with every bound and hint; ``parameters`` is what the model is shown, which
    may be leaner (:func:`hajatek_mcp.server.schemas.published`). Refusals are explained from this one."""

    async def run(self, arguments: dict[str, Any], context: Context[Any, Any], convert_result: bool = False) -> Any:
        properties: dict[str, Any] = (self.declared or self.parameters).get("properties", {})
        unknown = [name for name in arguments if name not in properties]
        if unknown:
            raise ToolError(f"Error executing tool {self.name}: {_unknown(unknown, properties)}")
        try:
            return await super().run(arguments, context, convert_result)
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):  # the arguments failed the input schema
                raise ToolError(f"Error executing tool {self.name}: {describe(exc.__cause__, properties)}") from None
            raise


def _unknown(names: list[str], properties: dict[str, Any]) -> str:
    known = sorted(properties)
    sentences = []
    for name in names:
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else "."
        sentences.append(f"Unknown argument {quote(name, 40)}{hint}")
    accepted = ", ".join(known) if known else "none"
    return " ".join(sentences) + f" This tool takes: {accepted}. Nothing was done."


def describe(error: ValidationError, properties: dict[str, Any]) -> str:
    """One sentence per refused argument: its name, what was given, what is accepted."""
    seen: dict[str, str] = {}
    for detail in error.errors(include_url=False):
        name = str(detail["loc"][0]) if detail["loc"] else "arguments"
        if name not in seen:
            seen[name] = _sentence(name, detail, properties.get(name, {}))
    return " ".join(seen.values()) + " Nothing was done: correct the arguments and call again."


def _given(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return quote(text, 40)


def _accepted_values(schema: dict[str, Any]) -> list[Any] | None:
    if "enum" in schema:
        return list(schema["enum"])
    for option in schema.get("anyOf", ()):
        if isinstance(option, dict) and "enum" in option:
            return list(option["enum"])
    return None


def _sentence(name: str, detail: ErrorDetails, schema: dict[str, Any]) -> str:  # noqa: PLR0911  # one per kind
    kind, given, ctx = detail["type"], _given(detail.get("input")), detail.get("ctx") or {}
    hint = f" ({schema['description']})" if isinstance(schema.get("description"), str) else ""
    if kind == "missing":
        return f"Argument '{name}' is required{hint}."
    if kind in ("literal_error", "enum"):
        values = _accepted_values(schema) or []
        return f"{name} {given} is not one of {', '.join(map(str, values))}."
    if kind == "string_pattern_mismatch":
        return f"{name} {given} is not in the expected form{hint or ' (' + str(ctx.get('pattern')) + ')'}."
    if kind in ("string_too_long", "string_too_short"):
        limit = ctx.get("max_length") if kind == "string_too_long" else ctx.get("min_length")
        most = "at most" if kind == "string_too_long" else "at least"
        return f"{name} is too {kind.split('_')[-1]}: {most} {limit} characters."
    if kind in ("too_long", "too_short"):  # a list: counted in items, not characters
        limit = ctx.get("max_length") if kind == "too_long" else ctx.get("min_length")
        most = "at most" if kind == "too_long" else "at least"
        return f"{name} has {ctx.get('actual_length', 'the wrong number of')} items: {most} {limit} are accepted."
    if kind == "decimal_max_places":
        return f"{name} {given} has too many decimals: at most {ctx.get('decimal_places')}."
    if kind in _BOUNDS:
        return f"{name} {given} {_BOUNDS[kind]} {next(iter(ctx.values()), '')}."
    return f"{name} {given} {_KINDS.get(kind, _plain(detail['msg']))}{hint}."


_BOUNDS = {
    "greater_than": "must be more than",
    "greater_than_equal": "must be at least",
    "less_than": "must be less than",
    "less_than_equal": "must be at most",
}
_KINDS = {
    "int_parsing": "is not a whole number",
    "int_type": "is not a whole number",
    "int_from_float": "is not a whole number",
    "decimal_parsing": "is not a number",
    "decimal_type": "is not a number",
    "decimal_max_digits": "has too many digits",
    "float_parsing": "is not a number",
    "bool_parsing": "is not true or false",
    "bool_type": "is not true or false",
    "string_type": "is not text",
    "datetime_parsing": "is not a date and time: use ISO 8601, e.g. 2026-11-27T08:00:00Z",
    "datetime_from_date_parsing": "is not a date and time: use ISO 8601, e.g. 2026-11-27T08:00:00Z",
    "datetime_type": "is not a date and time: use ISO 8601, e.g. 2026-11-27T08:00:00Z",
    "date_parsing": "is not a date: use YYYY-MM-DD",
    "date_from_datetime_parsing": "is not a date: use YYYY-MM-DD",
    "list_type": "is not a list",
    "dict_type": "is not an object",
}


def _plain(message: str) -> str:
    """Pydantic's own message, lower-cased, as a last resort (it names no class and carries no link)."""
    text = message.removeprefix("Value error, ")
    return "is refused: " + text[:1].lower() + text[1:]
