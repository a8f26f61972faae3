"""The lineage graph wired to storage: the derived objects of each run, the org graph assembled
from an append-only feed and snapshots, and the answers of the lineage endpoints.

``keys`` names every object; ``state`` is the org graph's inputs (the latest ``RunGraph`` of
each service) and how feed entries and snapshots merge into it; ``feed`` reads and writes the
feed and the snapshots; ``derive`` is the ingest step; ``answers`` serves the endpoints;
``registry_store`` keeps the system registry's versions. docs/lineage.md says how they fit.
"""
