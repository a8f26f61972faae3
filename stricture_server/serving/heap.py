"""The cyclic garbage collector's settings for a worker: made once, after its app is built.

Reference counting frees an ingest's objects when the request ends; the cyclic collector is
only needed for the few cycles left behind. With CPython's defaults it runs far more often:
a pass over the youngest objects every 700 container allocations, so about twice during each
110 KB ingest, each looking at the parsed body's thousands of live dicts and lists (and
promoting them, to be looked at again by the older generations), and now and then a pass over
every object of the process, about 20 ms here. Together about 0.35 ms of CPU per 110 KB
ingest, the full passes landing on single requests (docs/performance.md, "Server CPU per
110 KB ingest").
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000
"""Container allocations (net of those freed) between passes over the youngest objects: more
than a 110 KB ingest holds at its peak, so its objects are mostly freed before any pass."""


def settle() -> None:
    """Leave the objects built so far to live for good, and collect the young less often.

    :func:`gc.freeze` moves every object the worker holds at start (modules, the app, its
    schemas and routes) out of the collector's passes: they live as long as the process.
    """
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
