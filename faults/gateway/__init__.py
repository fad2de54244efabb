"""Faults on the gateway's own inputs: its flags file."""
