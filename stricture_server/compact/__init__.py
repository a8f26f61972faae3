"""Compact index artifacts: one immutable object per service and closed day (docs/compaction.md)."""
