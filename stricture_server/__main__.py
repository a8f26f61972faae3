"""``python -m stricture_server``."""

from .cli import main

raise SystemExit(main())
