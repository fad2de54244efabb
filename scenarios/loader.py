"""Read scenario files and suites; every error names the file, the line and the field.

A scenario is a YAML file (``*.yaml``, ``*.yml``) validated by ``ScenarioSpec``, or a Python
file (``*.py``) that defines ``SCENARIO``: a ``ScenarioSpec`` or a mapping of the same shape,
for cases YAML cannot express (computed stages, generated fault timelines). A suite is a
folder of scenario files, run in name order. The built-in scenarios live in
``scenarios/suites`` and can be named without a path (``monday_peak``). A scenario for our
gateway is refused, too, when it asks for a model the gateway will not serve
(``served_models``).
"""

from __future__ import annotations

import runpy
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .schema import ScenarioSpec, SuiteError
from .served_models import SETTINGS_LOC, Loc, Problem, gateway_config_of, unserved_models


BUILTIN_SUITE = Path(__file__).parent / "suites"
SUFFIXES = (".yaml", ".yml", ".py")

Lines = dict[Loc, int]


def builtin_names() -> list[str]:
    """The names of the built-in scenarios."""
    return sorted(p.stem for p in BUILTIN_SUITE.iterdir() if p.suffix in SUFFIXES)


def resolve(name_or_path: str) -> list[Path]:
    """The scenario files of a file, a folder (a suite), a built-in name, or ``all``."""
    path = Path(name_or_path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in SUFFIXES)
        if not files:
            raise SuiteError(f"{path}: no scenario files (*.yaml, *.yml, *.py) in this folder")
        return files
    if path.is_file():
        return [path]
    if name_or_path == "all":
        return resolve(str(BUILTIN_SUITE))
    for suffix in SUFFIXES:
        candidate = BUILTIN_SUITE / f"{name_or_path}{suffix}"
        if candidate.is_file():
            return [candidate]
    known = ", ".join(builtin_names())
    raise SuiteError(
        f"{name_or_path}: no such file, folder or built-in scenario; built-in: {known}, all"
    )


def load_scenario(path: Path) -> ScenarioSpec:
    """The scenario in ``path``; ``SuiteError`` names the file, line and field of a mistake,
    including a model the target will not serve."""
    if path.suffix == ".py":
        return _load_python(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"{path}: cannot read the scenario: {exc}") from None
    try:
        lines = _lines(path, yaml.compose(text, Loader=yaml.SafeLoader))
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise SuiteError(f"{where}: not valid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise SuiteError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        raise SuiteError(f"{path}: the file is empty; a scenario needs name, workload, ...")
    if not isinstance(data, Mapping):
        raise SuiteError(f"{path}:1: a scenario must be a mapping of fields (name, workload, ...)")
    try:
        spec = ScenarioSpec.model_validate(data)
    except ValidationError as exc:
        raise SuiteError(_describe(path, _problems(exc), lines)) from None
    return _served(path, spec, lines)


def _load_python(path: Path) -> ScenarioSpec:
    try:
        namespace = runpy.run_path(str(path))
    except Exception as exc:
        raise SuiteError(f"{path}: the scenario module failed: {exc!r}") from exc
    scenario = namespace.get("SCENARIO")
    if isinstance(scenario, ScenarioSpec):
        return _served(path, scenario, {})
    if not isinstance(scenario, Mapping):
        raise SuiteError(f"{path}: define SCENARIO, a ScenarioSpec or a mapping of its fields")
    try:
        spec = ScenarioSpec.model_validate(scenario)
    except ValidationError as exc:
        raise SuiteError(_describe(path, _problems(exc), {})) from None
    return _served(path, spec, {})


def _served(path: Path, spec: ScenarioSpec, lines: Lines) -> ScenarioSpec:
    """``spec``, once its gateway settings are valid and it serves every model asked for
    (a foreign ``url`` target is taken on trust: meltproof cannot know what it serves)."""
    if spec.target.gateway is None:
        return spec
    try:
        config = gateway_config_of(spec.target.gateway)
    except ValidationError as exc:
        raise SuiteError(_describe(path, _problems(exc, SETTINGS_LOC), lines)) from None
    problems = unserved_models(spec, config)
    if problems:
        raise SuiteError(_describe(path, problems, lines))
    return spec


def _lines(file: Path, node: yaml.Node | None) -> Lines:
    """The 1-based line of every key and item of a YAML document, by path.

    A key given twice in one mapping (YAML would silently keep the last) and an alias that
    contains itself are errors.
    """
    lines: Lines = {}

    def walk(node: yaml.Node, path: tuple[str | int, ...], inside: frozenset[int]) -> None:
        if id(node) in inside:
            raise SuiteError(f"{file}:{node.start_mark.line + 1}: an alias contains itself")
        inside |= {id(node)}
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                name = str(key.value)
                if name in seen and name != "<<":
                    line = key.start_mark.line + 1
                    raise SuiteError(f"{file}:{line}: {name!r} is given twice in one mapping")
                seen.add(name)
                walk(value, (*path, name), inside)
                lines[(*path, name)] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, (*path, index), inside)

    if node is not None:
        walk(node, (), frozenset())
    return lines


def _problems(error: ValidationError, within: Loc = ()) -> list[Problem]:
    """Each of pydantic's errors as a field (below ``within``) and a message."""
    return [((*within, *item["loc"]), _message(item)) for item in error.errors(include_url=False)]


def _describe(path: Path, problems: Iterable[Problem], lines: Lines) -> str:
    """One line per problem: ``file:line: field.path: message``."""
    described = []
    for loc, message in problems:
        found: Loc = ()
        shown: list[str] = []
        for depth, part in enumerate(loc):
            candidate = (*found, part)
            if candidate not in lines and (*found, str(part)) in lines:
                candidate = (*found, str(part))  # a mapping key YAML read as a number
            if candidate in lines or not lines:
                found = candidate
                shown.append(str(part))
            elif depth == len(loc) - 1:
                shown.append(str(part))  # a missing key: reported at its parent's line
            # otherwise a union's tag (e.g. the fault kind), not a key of the file
        line = lines.get(found, 1)
        field = ".".join(shown) or "(top level)"
        where = f"{path}:{line}" if lines else str(path)
        described.append(f"{where}: {field}: {message}")
    return "\n".join(described)


def _message(item: Any) -> str:
    """Pydantic's message, without the "Value error, " its validators' messages start with."""
    if item["type"] == "extra_forbidden":
        return "unknown field"
    return str(item["msg"]).removeprefix("Value error, ")
