"""Prometheus metrics (``GET /metrics``) with ``prometheus_client``.

Imported only when ``STRICTURE_SERVER_METRICS`` is on. Under several gunicorn workers each
worker writes its values to files in one directory (``prometheus_client``'s multiprocess mode,
set up by :mod:`.multiprocess` before the workers fork) and a scrape adds them up.
"""
