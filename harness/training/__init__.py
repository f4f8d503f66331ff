"""One training trajectory of a ``RunSpec``, the run cache that trains each once and continues it,
the training fingerprint, provenance, and the launchers. Knows nothing of what a run is used for."""
