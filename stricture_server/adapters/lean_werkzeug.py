"""werkzeug's package without the development server and test client its ``__init__`` loads.

``werkzeug/__init__.py`` imports ``werkzeug.serving`` (``run_simple``: http.server, socketserver)
and ``werkzeug.test`` (``Client``: tempfile, the multipart encoder) so that ``from werkzeug import
run_simple`` works, and Python runs it before any ``werkzeug.*`` module. The app uses neither: on
a function's cold start they are a third of werkzeug's import time. :func:`install` registers the
package module itself, with werkzeug's own spec and search path but without running its
``__init__``; every ``werkzeug.*`` import works as before, and the four names the package exports
are imported when first asked for (PEP 562), so code that does use them loses nothing.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any

EXPORTS = {
    "run_simple": "werkzeug.serving",
    "Client": "werkzeug.test",
    "Request": "werkzeug.wrappers",
    "Response": "werkzeug.wrappers",
}
"""What ``werkzeug/__init__.py`` exports, and the module each name comes from."""


def install() -> None:
    """Register the lean ``werkzeug`` package, unless werkzeug is imported already."""
    if "werkzeug" in sys.modules:
        return
    spec = importlib.util.find_spec("werkzeug")
    if spec is None or spec.submodule_search_locations is None:
        return  # not installed as a package: the ordinary import reports it
    package = importlib.util.module_from_spec(spec)  # the module, its __init__ not run

    def exported(name: str) -> Any:
        if name not in EXPORTS:
            raise AttributeError(f"module 'werkzeug' has no attribute {name!r}")
        value = getattr(importlib.import_module(EXPORTS[name]), name)
        setattr(package, name, value)
        return value

    setattr(package, "__getattr__", exported)  # noqa: B010 (a module attribute, PEP 562)
    sys.modules["werkzeug"] = package
