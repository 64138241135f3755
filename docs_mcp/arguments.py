"""Why a tool refused its arguments, in words a model can act on. Pure.

The SDK validates tool arguments with pydantic and, left alone, hands the model pydantic's
dump (`1 validation error for search_docsArguments ... https://errors.pydantic.dev/...`).
`explain` turns the same errors into one sentence per argument: which one, what was wrong
with what was sent, and what to send instead, read from the tool's own input schema. It knows
no tool and no argument by name, so a parameter added tomorrow is explained the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MAX_SHOWN_CHARS = 40  # of a rejected value: enough to recognise it, never a pasted page

_WHAT_WAS_WRONG = {"missing": "is required but was not sent"}


def explain(tool: str, schema: Mapping[str, Any], errors: Sequence[Mapping[str, Any]]) -> str:
    """One message for all of a call's argument errors (pydantic's `ValidationError.errors()`)."""
    properties: Mapping[str, Any] = schema.get("properties", {})
    sentences: list[str] = []
    named: set[tuple[Any, ...]] = set()
    for error in errors:
        location = _location(error.get("loc", ()))
        if location in named:  # pydantic reports a value once per arm of a union (str | None)
            continue
        named.add(location)
        sentences.append(_sentence(tool, location, error, properties))
    accepted = ", ".join(f"`{name}`" for name in properties) or "no arguments"
    return (
        f"invalid arguments for {tool}: {' '.join(sentences)} "
        f"Call {tool} again with these corrected ({tool} takes {accepted})."
    )


def _location(loc: Sequence[Any]) -> tuple[Any, ...]:
    """The argument's name, and the index of a list item when the error is about one."""
    if not loc:
        return ()
    return (loc[0], *(part for part in loc[1:2] if isinstance(part, int)))


def _sentence(tool: str, location: tuple[Any, ...], error: Mapping[str, Any], properties: Mapping) -> str:
    if not location:
        return "the arguments must be an object of named values."
    name = str(location[0])
    field = properties.get(name)
    if field is None:
        known = ", ".join(f"`{n}`" for n in properties)
        return f"`{name}` is not an argument of {tool} (it takes {known or 'none'})."
    subject = f"`{name}`"
    if len(location) > 1 and isinstance(location[1], int):
        subject = f"item {location[1]} of `{name}`"
        field = _non_null(field).get("items", {})
    kind = str(error.get("type", ""))
    wrong = _WHAT_WAS_WRONG.get(kind) or f"was {_shown(error.get('input'))}"
    description = str(field.get("description", "")).strip().rstrip(".")
    if description[:1].isupper() and description[1:2].islower():
        description = description[0].lower() + description[1:]
    return f"{subject} {wrong}; send {_expected(field)}" + (f": {description}." if description else ".")


def unknown_arguments(tool: str, schema: Mapping[str, Any], arguments: Mapping[str, Any]) -> str | None:
    """A message naming the arguments `tool` does not take (a misspelt `limt` would otherwise be
    ignored without a word), or None when every one is known."""
    properties: Mapping[str, Any] = schema.get("properties", {})
    unknown = [name for name in arguments if name not in properties]
    if not unknown:
        return None
    shown = ", ".join(f"`{name[:50]}`" for name in unknown[:5])
    accepted = ", ".join(f"`{name}`" for name in properties) or "no arguments"
    verb = "is not an argument" if len(unknown) == 1 else "are not arguments"
    return (
        f"invalid arguments for {tool}: {shown} {verb} of {tool}. "
        f"Call {tool} again with only the arguments it takes: {accepted}."
    )


def _non_null(field: Mapping[str, Any]) -> Mapping[str, Any]:
    arms = [arm for arm in field.get("anyOf", []) if arm.get("type") != "null"]
    return arms[0] if len(arms) == 1 else field


def _expected(field: Mapping[str, Any]) -> str:
    """What the schema accepts, in words: 'text of 1 to 2000 characters', 'a whole number from 1
    to 20 (default 5)', "one of 'prose', 'code'", '... or leave it out'."""
    optional = any(arm.get("type") == "null" for arm in field.get("anyOf", []))
    words = _expected_one(_non_null(field))
    if "default" in field and field["default"] is not None:
        words += f" (default {field['default']!r})"
    if optional or ("default" in field and field["default"] is None):
        words += ", or leave it out"
    return words


def _expected_one(field: Mapping[str, Any]) -> str:
    if "enum" in field or "const" in field:
        values = field["enum"] if "enum" in field else [field["const"]]
        return "one of " + ", ".join(repr(v) for v in values)
    kind = field.get("type")
    if kind == "string":
        return "text" + _range(field.get("minLength"), field.get("maxLength"), "character")
    if kind in ("integer", "number"):
        noun = "a whole number" if kind == "integer" else "a number"
        low = field.get("minimum", field.get("exclusiveMinimum"))
        high = field.get("maximum", field.get("exclusiveMaximum"))
        if low is not None and high is not None:
            return f"{noun} from {low} to {high}"
        if low is not None:
            return f"{noun} of at least {low}"
        return f"{noun} of at most {high}" if high is not None else noun
    if kind == "boolean":
        return "true or false"
    if kind == "array":
        items = _expected_one(field.get("items", {}))
        return "a list" + _range(field.get("minItems"), field.get("maxItems"), "item") + f" of {items}"
    if kind == "object":
        return "an object"
    return "a value of the type its schema gives"


def _range(low: int | None, high: int | None, unit: str) -> str:
    if low is not None and high is not None:
        return f" of {low} to {high} {unit}s"
    if high is not None:
        return f" of at most {high} {unit}s"
    if low:
        return f" of at least {low} {unit}{'s' if low != 1 else ''}"
    return ""


def _shown(value: Any) -> str:
    """A rejected value, described without echoing a long one."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        if not value.strip():
            return "empty" if not value else "only whitespace"
        if len(value) > MAX_SHOWN_CHARS:
            return f"{len(value)} characters long"
        return repr(value)
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)} items"
    if isinstance(value, dict):
        return "an object"
    text = repr(value)
    return text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS] + "…"
