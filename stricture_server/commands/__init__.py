"""The ``stricture-server`` command and its subcommands."""
