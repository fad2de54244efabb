"""Structured answers: check a JSON-schema answer with pydantic, and ask once for a repair.

A request with ``response_format: {"type": "json_schema", "json_schema": {"schema": ...}}``
expects an answer that is JSON valid against that schema. ``validator_for`` turns the
schema into pydantic models (``create_model``) and validates strictly (no coercion: the
string ``"1"`` is not an integer). Built validators are cached by the schema's canonical
JSON text, so a schema sent with every request is translated once.

The supported subset: ``type`` (one or a list, ``null`` included), ``properties``,
``required``, ``additionalProperties`` (``false`` forbids extra fields; a schema is allowed
when there are no ``properties``), ``items``, ``enum``, ``const``, ``anyOf``, ``$ref`` to
``#/$defs/...`` or ``#/definitions/...`` (not recursive), string lengths and ``pattern``,
number bounds and ``multipleOf``, array lengths. Annotations (``title``, ``description``,
``format``, ``default``...) are accepted and not checked. Anything else raises
``UnsupportedSchema`` naming the keyword: the caller then passes the answer through
unchecked and logs why, never fails the request.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Final, Literal, Union, cast

from pydantic import (
    ConfigDict,
    Field,
    PydanticSchemaGenerationError,
    PydanticUserError,
    TypeAdapter,
    ValidationError,
    create_model,
)
from pydantic_core import SchemaError


MAX_DEPTH: Final = 32
MAX_PROBLEMS: Final = 10
CACHED_VALIDATORS: Final = 128

_ANNOTATIONS = frozenset(
    {
        "$comment", "$id", "$schema", "default", "deprecated", "description", "examples",
        "format", "readOnly", "title", "writeOnly", "$defs", "definitions",
    }
)  # fmt: skip
_STRING = {"minLength": "min_length", "maxLength": "max_length", "pattern": "pattern"}
_NUMBER = {
    "minimum": "ge",
    "maximum": "le",
    "exclusiveMinimum": "gt",
    "exclusiveMaximum": "lt",
    "multipleOf": "multiple_of",
}
_ARRAY = {"minItems": "min_length", "maxItems": "max_length"}
_OBJECT = frozenset({"properties", "required", "additionalProperties"})
_TYPED = {"string": _STRING, "integer": _NUMBER, "number": _NUMBER, "array": _ARRAY}
_SUPPORTED = (
    _ANNOTATIONS
    | _OBJECT
    | set(_STRING)
    | set(_NUMBER)
    | set(_ARRAY)
    | {"type", "items", "enum", "const", "anyOf", "$ref"}
)
_SIMPLE_TYPES: Mapping[str, Any] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "null": None,
    "any": Any,
}
_SCALARS = (str, int, float, bool, type(None))
_REF = re.compile(r"#/(?:\$defs|definitions)/(?P<name>[^/]+)")


class UnsupportedSchema(ValueError):  # noqa: N818 - reads as a verdict on the schema
    """The schema uses a keyword (or a form) this module does not check."""


class AnswerValidator:
    """Checks answers against one JSON schema."""

    def __init__(self, adapter: TypeAdapter[Any]) -> None:
        self._adapter = adapter

    def problems(self, content: str | None) -> list[str]:
        """``[]`` when ``content`` is JSON valid against the schema, else short descriptions."""
        if content is None:
            return ["no content: the answer has no text"]
        try:
            self._adapter.validate_json(content, strict=True)
        except ValidationError as exc:
            return _describe(exc)
        return []


def requested_schema(body: Mapping[str, Any]) -> dict[str, Any] | None:
    """The JSON schema a chat request asks its answer to follow, if it asks for one."""
    response_format = body.get("response_format")
    if not isinstance(response_format, Mapping) or response_format.get("type") != "json_schema":
        return None
    spec = response_format.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, Mapping) else None
    return dict(schema) if isinstance(schema, Mapping) else None


def validator_for(schema: Mapping[str, Any]) -> AnswerValidator:
    """The (cached) validator of ``schema``, or ``UnsupportedSchema`` saying why not."""
    try:
        canonical = json.dumps(schema, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise UnsupportedSchema(f"the schema is not plain JSON: {exc}") from exc
    built = _build(canonical)
    if isinstance(built, str):
        raise UnsupportedSchema(built)
    return built


def repair_messages(
    messages: Sequence[Mapping[str, Any]], *, bad_answer: str, problems: Sequence[str]
) -> list[dict[str, Any]]:
    """The conversation again, plus the bad answer and a request to answer with JSON only."""
    listed = "\n".join(f"- {problem}" for problem in problems)
    return [
        *(dict(message) for message in messages),
        {"role": "assistant", "content": bad_answer},
        {
            "role": "user",
            "content": (
                "Your previous answer does not match the required JSON schema:\n"
                f"{listed}\n"
                "Answer again with only the JSON that matches the schema: "
                "no other text, no Markdown code fences."
            ),
        },
    ]


def answer_content(completion: Mapping[str, Any]) -> str | None:
    """``choices[0].message.content`` of a ``chat.completion``, or ``None``."""
    choices = completion.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
        return None
    message = choices[0].get("message")
    content = message.get("content") if isinstance(message, Mapping) else None
    return content if isinstance(content, str) else None


@functools.lru_cache(maxsize=CACHED_VALIDATORS)
def _build(canonical: str) -> AnswerValidator | str:
    """A validator for the schema in ``canonical`` JSON, or why there is none."""
    root = json.loads(canonical)
    try:
        annotation = _Builder(root).annotation(root, path="$", depth=0)
        return AnswerValidator(TypeAdapter(annotation))
    except UnsupportedSchema as exc:
        return str(exc)
    except (
        SchemaError,
        PydanticSchemaGenerationError,
        PydanticUserError,
        TypeError,
        ValueError,
    ) as exc:
        return "pydantic cannot check this schema: " + " ".join(str(exc).split())


class _Builder:
    """Translates one JSON schema into a type annotation pydantic validates."""

    def __init__(self, root: Any) -> None:
        defs = root.get("$defs", root.get("definitions", {})) if isinstance(root, dict) else {}
        self._defs: Mapping[str, Any] = defs if isinstance(defs, Mapping) else {}
        self._refs: dict[str, Any] = {}
        self._resolving: set[str] = set()

    def annotation(self, schema: Any, *, path: str, depth: int) -> Any:
        """The annotation for ``schema`` found at ``path`` (for messages)."""
        if schema is True:
            return Any
        if not isinstance(schema, Mapping):
            raise UnsupportedSchema(f"{path}: a schema must be an object or true")
        if depth > MAX_DEPTH:
            raise UnsupportedSchema(f"{path}: nested deeper than {MAX_DEPTH} levels")
        unknown = sorted(set(schema) - _SUPPORTED)
        if unknown:
            raise UnsupportedSchema(f"{path}: unsupported keyword {unknown[0]!r}")
        checks = set(schema) - _ANNOTATIONS
        for combinator in ("$ref", "anyOf"):
            if combinator in checks and checks != {combinator}:
                others = ", ".join(sorted(checks - {combinator}))
                raise UnsupportedSchema(f"{path}: {combinator} combined with {others}")
        if "$ref" in schema:
            return self._ref(schema["$ref"], path=path, depth=depth)
        if "anyOf" in schema:
            return self._any_of(schema["anyOf"], path=path, depth=depth)
        if "const" in schema or "enum" in schema:
            return self._literal(schema, path=path)
        members = [
            self._typed(json_type, schema, path=path, depth=depth)
            for json_type in self._types(schema, path=path)
        ]
        return members[0] if len(members) == 1 else cast(Any, Union)[tuple(members)]

    def _types(self, schema: Mapping[str, Any], *, path: str) -> list[str]:
        declared = schema.get("type")
        if declared is None:
            if _OBJECT & set(schema):
                return ["object"]
            if "items" in schema or set(_ARRAY) & set(schema):
                return ["array"]
            constrained = sorted((set(_STRING) | set(_NUMBER)) & set(schema))
            if constrained:
                raise UnsupportedSchema(f"{path}: {constrained[0]!r} without a type")
            return ["any"]
        types = [declared] if isinstance(declared, str) else declared
        known = {"string", "integer", "number", "boolean", "null", "array", "object"}
        if not isinstance(types, list) or not types or not set(types) <= known:
            raise UnsupportedSchema(f"{path}: unsupported type {declared!r}")
        return types

    def _typed(self, json_type: str, schema: Mapping[str, Any], *, path: str, depth: int) -> Any:
        base: Any
        if json_type == "object":
            return self._object(schema, path=path, depth=depth)
        if json_type == "array":
            if isinstance(schema.get("items"), list):
                raise UnsupportedSchema(f"{path}: 'items' as a list (tuple validation)")
            items = self.annotation(schema.get("items", True), path=f"{path}[]", depth=depth + 1)
            base = list[items]  # type: ignore[valid-type]
        else:
            base = _SIMPLE_TYPES[json_type]
        constraints: dict[str, Any] = {}
        for keyword, option in _TYPED.get(json_type, {}).items():
            if keyword not in schema:
                continue
            value = schema[keyword]
            expected = str if keyword == "pattern" else int | float
            if isinstance(value, bool) or not isinstance(value, expected):
                raise UnsupportedSchema(f"{path}: {keyword} {value!r} has the wrong type")
            constraints[option] = value
        if not constraints:
            return base
        return cast(Any, Annotated)[base, Field(**constraints)]

    def _object(self, schema: Mapping[str, Any], *, path: str, depth: int) -> Any:
        properties = schema.get("properties", {})
        required = schema.get("required", [])
        additional = schema.get("additionalProperties", True)
        if not isinstance(properties, Mapping) or not isinstance(required, list):
            raise UnsupportedSchema(f"{path}: properties must be an object, required a list")
        if not isinstance(additional, bool):
            if properties:
                raise UnsupportedSchema(f"{path}: additionalProperties as a schema with properties")
            values = self.annotation(additional, path=f"{path}.*", depth=depth + 1)
            return dict[str, values]  # type: ignore[valid-type]
        fields: dict[str, Any] = {}
        for name, subschema in properties.items():
            annotation = self.annotation(subschema, path=f"{path}.{name}", depth=depth + 1)
            default = ... if name in required else None
            fields[f"field_{len(fields)}"] = (annotation, Field(default, alias=name))
        for name in required:
            if name not in properties:
                fields[f"field_{len(fields)}"] = (Any, Field(..., alias=str(name)))
        title = schema.get("title")
        model_name = re.sub(r"\W", "_", title) if isinstance(title, str) and title else "Object"
        config = ConfigDict(extra="forbid" if additional is False else "ignore")
        return create_model(model_name, __config__=config, **fields)

    def _any_of(self, options: Any, *, path: str, depth: int) -> Any:
        if not isinstance(options, list) or not options:
            raise UnsupportedSchema(f"{path}: anyOf must be a non-empty list")
        members = tuple(
            self.annotation(option, path=f"{path}.anyOf[{index}]", depth=depth + 1)
            for index, option in enumerate(options)
        )
        return cast(Any, Union)[members]

    def _literal(self, schema: Mapping[str, Any], *, path: str) -> Any:
        values = [schema["const"]] if "const" in schema else schema["enum"]
        if not isinstance(values, list) or not values:
            raise UnsupportedSchema(f"{path}: enum must be a non-empty list")
        if not all(isinstance(value, _SCALARS) for value in values):
            raise UnsupportedSchema(f"{path}: enum or const with non-scalar values")
        return cast(Any, Literal)[tuple(values)]

    def _ref(self, ref: Any, *, path: str, depth: int) -> Any:
        match = _REF.fullmatch(ref) if isinstance(ref, str) else None
        if match is None or match["name"] not in self._defs:
            raise UnsupportedSchema(f"{path}: $ref {ref!r} is not a #/$defs/<name> of this schema")
        name = match["name"]
        if name in self._refs:
            return self._refs[name]
        if name in self._resolving:
            raise UnsupportedSchema(f"{path}: recursive $ref {ref!r}")
        self._resolving.add(name)
        annotation = self.annotation(self._defs[name], path=f"#/$defs/{name}", depth=depth + 1)
        self._resolving.discard(name)
        self._refs[name] = annotation
        return annotation


def _describe(error: ValidationError) -> list[str]:
    """One short line per validation error, at most ``MAX_PROBLEMS`` of them."""
    problems = []
    for detail in error.errors(include_url=False):
        if detail["type"] == "json_invalid":
            problems.append(f"not JSON: {detail.get('ctx', {}).get('error', detail['msg'])}")
        elif detail["loc"]:
            problems.append(f"field '{_location(detail['loc'])}': {detail['msg']}")
        else:
            problems.append(f"the answer: {detail['msg']}")
    if len(problems) > MAX_PROBLEMS:
        more = len(problems) - MAX_PROBLEMS
        problems = [*problems[:MAX_PROBLEMS], f"... and {more} more problems"]
    return problems


def _location(loc: tuple[int | str, ...]) -> str:
    """``('items', 0, 'name')`` as ``items[0].name``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".")
