"""``python -m llmops`` is the ``llmops`` command."""

from llmops.cli import main

raise SystemExit(main())
