"""The root conftest holds only what pytest reads from the root conftest alone: the
registration of firstlayer's plugin (options, fixtures, report), which lives in
``harness/plugin/hooks.py`` so that it is importable, tested and linted like the rest of the code."""

pytest_plugins = ["harness.plugin.hooks"]
