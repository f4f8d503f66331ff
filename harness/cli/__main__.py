"""``python -m harness.cli``: the ``firstlayer`` command."""

import sys

from harness.cli.main import main

sys.exit(main())
