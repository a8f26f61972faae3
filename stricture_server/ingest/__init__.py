"""The ingest path before storage: reading the body, measuring it, validating it."""
