"""Open-loop load, measurement, run history, reports and comparisons."""
