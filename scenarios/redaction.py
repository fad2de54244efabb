"""What of a scenario is stored with its run: everything but the secrets a target is given.

A command target's client keys (``auth.key``, ``auth.keys``) and the values of its environment
variables and headers whose names say they hold a secret (key, token, secret, password,
authorization, credential) are replaced with ``NOT_STORED``, so that run folders and reports
can be shared. The stored scenario still validates, so ``meltproof check`` can judge the run
again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .schema import ScenarioSpec


NOT_STORED = "(not stored)"
_SECRET_NAME = re.compile(r"key|token|secret|passw|authori[sz]ation|credential", re.IGNORECASE)


def stored_scenario(spec: ScenarioSpec) -> dict[str, Any]:
    """``spec`` as JSON, its command target's secrets left out."""
    document: dict[str, Any] = spec.model_dump(mode="json")
    command = document["target"].get("command")
    if command:
        auth = command["auth"]
        if auth.get("key") is not None:
            auth["key"] = NOT_STORED
        auth["keys"] = dict.fromkeys(auth.get("keys") or {}, NOT_STORED)
        command["env"] = _without_secrets(command.get("env") or {})
        command["headers"] = _without_secrets(command.get("headers") or {})
    return document


def _without_secrets(values: Mapping[str, str]) -> dict[str, str]:
    return {
        name: NOT_STORED if _SECRET_NAME.search(name) else value for name, value in values.items()
    }
