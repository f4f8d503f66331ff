"""Intervals over runs, one check per claim, controls, and how a verdict is reached. Knows nothing
of pytest or the report."""
