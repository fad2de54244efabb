"""Perturbations on a timeline: Toxiproxy toxics, provider faults, process faults."""
