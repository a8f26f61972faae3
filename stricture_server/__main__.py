"""``python -m stricture_server``."""

from .commands.cli import main

raise SystemExit(main())
