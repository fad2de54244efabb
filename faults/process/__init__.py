"""Faults on a server process of the stack (Redis, PostgreSQL), one module each."""
