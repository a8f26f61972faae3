"""The audit trail: one event per audited request, sealed per period into a hash chain.

- :mod:`.events`: what an event holds and the keys it is stored under;
- :mod:`.routes`: which requests are audited, as what action and result;
- :mod:`.trail`: writing events and listing them newest first;
- :mod:`.seals`: sealing closed periods (create-if-absent, chained to the previous seal);
- :mod:`.verify`: walking the seal chain and naming what is missing, altered or inserted;
- :mod:`.sealer`: the background task of process mode; :mod:`.command`: ``stricture-server audit``.
"""
