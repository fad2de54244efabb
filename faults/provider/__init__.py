"""Faults of the simulated provider, set through its control API, one module each."""
