"""``stricture-server push``: send one CI run's lineage outputs to a server.

Light on imports by design: the standard library and the core dependencies only, so a CI job
installs the package without the object-store SDK and runs this command quickly.
"""
