"""One row per claim -> ``results.json`` -> pages, figures, history, compare. Knows nothing of
how rows were measured."""
