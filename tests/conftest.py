"""Shared fixtures: the real stack, started once per session (see stack.pytest_plugin)."""

pytest_plugins = ["stack.pytest_plugin"]
