"""Faults on a link (a Toxiproxy proxy): toxics, one module each, and ``link_down``."""
