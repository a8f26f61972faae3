"""The organization's lineage graph: who consumes a system, who a change hits, who to call.

Pure domain logic over parsed documents: no storage, no HTTP. ``edges`` turns one artifact
into a per-run ``RunGraph``; ``graph`` assembles the org graph from the latest ``RunGraph`` of
each service; ``walk`` answers blast radius, escalation chains and narrowed views;
``escalation`` adds owners to a chain; ``impact`` classifies the changes of a lineage-diff;
``registry`` reads a system registry; ``render`` selects a graph view and draws it as
Graphviz DOT; ``documents`` gives every answer as JSON-ready data.
docs/lineage.md describes the rules.
"""
