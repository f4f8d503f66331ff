"""The pytest plugin: options, fixtures, the stop rule, prefill, plan, the report row of each claim.
Its registrar is ``harness.plugin.hooks`` (the root conftest names it); its shared state is the
leaf ``harness.plugin.state``."""
