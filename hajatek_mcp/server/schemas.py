"""The JSON schemas of the tools, as pydantic generates them and as the model is shown them.

Every byte of ``tools/list`` is in the model's context on every turn of every conversation, so what a tool
publishes is lean (:func:`published`), while what it accepts stays exactly what its signature declares: the
arguments are validated against the full declaration, and a refused value is explained with the full declaration's
bounds and hints (:class:`~hajatek_mcp.server.arguments.StrictTool`). The model is shown each argument's type,
enum, default, array bounds and the numeric bounds a request could plausibly cross; it is not shown what only a
mistake would reach (text lengths, caps of a million) nor per-argument prose: what the arguments mean is said once,
in the tool's description or the server's instructions (paging, categories and confirmation tokens: there, once).
An id's pattern is shown as its prefix (``^prod_``), which is what tells an agent which id goes where.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Final

__all__ = ["EXPLAINED_ONCE", "NATURAL_FLOORS", "SANITY_CAP", "inline_refs", "published", "slim"]

#: A numeric bound at or above this is a sanity cap: checked on every call, not shown.
SANITY_CAP: Final = 1000
#: Arguments several tools share whose form, bounds and default the server's instructions state once: shown by type.
EXPLAINED_ONCE: Final = frozenset({"page", "limit", "category", "confirm_token"})
#: Lower bounds that go without saying (a count or an amount is not negative; a page or a limit is at least 1).
NATURAL_FLOORS: Final = (0, 1)
#: Keys a published argument schema never carries (the full declaration still enforces and explains them).
_UNSHOWN: Final = frozenset({"description", "format", "maxLength", "minLength", "title"})
#: An id pattern (``^prod_[A-Za-z0-9_]+$``, ``^cfm_[A-Za-z0-9_-]{20,64}$``) is shown as its prefix.
_ID_PATTERN: Final = re.compile(r"^\^([a-z]+_)\[")


def published(schema: dict[str, Any]) -> dict[str, Any]:
    """The input schema the model is shown for ``schema`` (a slimmed tool input schema; left unchanged)."""
    lean = copy.deepcopy(schema)
    for name, argument in lean.get("properties", {}).items():
        if name in EXPLAINED_ONCE:
            for key in set(argument) - {"type"}:
                del argument[key]
        _lean_argument(argument)
    return lean


def _lean_argument(schema: Any) -> None:
    if isinstance(schema, list):
        for item in schema:
            _lean_argument(item)
        return
    if not isinstance(schema, dict):
        return
    for key in _UNSHOWN & schema.keys():
        del schema[key]
    for bound in ("maximum", "exclusiveMaximum"):
        if isinstance(schema.get(bound), int | float) and schema[bound] >= SANITY_CAP:
            del schema[bound]
    for floor in ("minimum", "exclusiveMinimum"):
        if schema.get(floor) in NATURAL_FLOORS:
            del schema[floor]
    pattern = schema.get("pattern")
    if isinstance(pattern, str) and (prefix := _ID_PATTERN.match(pattern)):
        schema["pattern"] = f"^{prefix.group(1)}"
    for key in ("items", "anyOf", "oneOf", "allOf"):
        if key in schema:
            _lean_argument(schema[key])


def slim(schema: Any) -> None:
    """Make a generated schema lean without changing what it accepts or promises (in place).

    Drops pydantic's ``title`` keys (they repeat the property names) and writes an optional ``X | None = None``
    as plain ``X``: the property is already optional by not being required.
    """
    if isinstance(schema, dict):
        if isinstance(schema.get("title"), str):
            del schema["title"]
        options = schema.get("anyOf")
        optional = "default" in schema and schema["default"] is None
        if optional and isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
            del schema["default"]
            del schema["anyOf"]
            other = next(o for o in options if o != {"type": "null"})
            for key, value in other.items():
                schema.setdefault(key, value)
        for key, value in schema.items():
            if key == "properties" and isinstance(value, dict):
                for prop in value.values():
                    slim(prop)
            else:
                slim(value)
    elif isinstance(schema, list):
        for item in schema:
            slim(item)


class _Recursive(Exception):
    """A schema that refers to itself cannot be inlined."""


def inline_refs(schema: dict[str, Any]) -> None:
    """Replace each ``$ref`` to the schema's own ``$defs`` by the definition itself, and drop ``$defs`` (in place).

    Same meaning, but a client's validator no longer resolves a reference for every row of a listing (the SDK client
    re-validates each result with ``jsonschema``; see docs/benchmarks.md). A recursive schema is left as it is.
    """
    defs = schema.get("$defs")
    if not isinstance(defs, dict):
        return

    def resolve(node: Any, stack: frozenset[str]) -> Any:
        if isinstance(node, list):
            return [resolve(item, stack) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref.removeprefix("#/$defs/")
            if name in stack or name not in defs:
                raise _Recursive(name)
            target = resolve(defs[name], stack | {name})
            return {**target, **{k: resolve(v, stack) for k, v in node.items() if k != "$ref"}}
        return {k: resolve(v, stack) for k, v in node.items() if k != "$defs"}

    try:
        inlined = resolve(schema, frozenset())
    except _Recursive:
        return
    schema.clear()
    schema.update(inlined)
