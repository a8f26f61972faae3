"""Platform adapters: each turns one platform's request into :meth:`App.handle` and back.

A function's process exists for its entry alone: before the entry imports the app, werkzeug is
registered without the development server and test client its package ``__init__`` loads
(:mod:`.lean_werkzeug`), which a cold start would otherwise pay for. Process mode and programs
that import the package for their own use keep werkzeug as it is.
"""

from .lean_werkzeug import install

install()
