"""The endpoints, one module per area of the API; ``app.py`` routes requests to them.

- :mod:`.ingest`: ``POST /v1/artifacts``.
- :mod:`.runs`: a run, ``latest``, the listings of names and runs, the change feeds.
- :mod:`.lineage`: blast radius, the graph, escalation, the system registry.
- :mod:`.audit`: the audit events and the seal chain's check.
- :mod:`.alerts`: the alerts and their redelivery.
- :mod:`.operations`: health, readiness, metrics, the OpenAPI document, whoami, replication.
- :mod:`.requests`: what every area's endpoints share: the caller, the query helpers.
- :mod:`.read_views`: the read API's queries and listings, built on first use.

Each area is a class built with only the collaborators it needs; every endpoint takes the
request, the log line's fields and the route's arguments, and returns the response.
"""
