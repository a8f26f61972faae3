"""Query-string parsing of the read API, where the platforms cannot all say it.

A repeated parameter reaches the app only on runtimes that keep every value (an ALB without
multi-value headers keeps the last one, API Gateway HTTP APIs join them with commas), so
it is checked here rather than in the conformance table.
"""

from __future__ import annotations

import pytest

from stricture_server.errors import InvalidInput
from stricture_server.reads.query_params import CHANGES, NONE, RUNS, SEVERITY_VALUES, parse
from stricture_server.runstore.entries import SEVERITIES, format_ms


def test_a_repeated_parameter_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse({"limit": ["1", "2"]}, RUNS)
    assert [p.path for p in caught.value.problems] == ["?limit"]


def test_days_are_whole_utc_days_inclusive() -> None:
    query = parse({"from": ["2026-02-28"], "to": ["2026-03-01"]}, RUNS)
    assert query.start_ms is not None
    assert query.end_ms is not None
    assert format_ms(query.start_ms) == "2026-02-28T00:00:00.000Z"
    assert format_ms(query.end_ms) == "2026-03-01T23:59:59.999Z"
    assert query.in_range(query.start_ms)
    assert not query.in_range(query.end_ms + 1)


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse({"severity": ["high,urgent"], "commit_sha": ["abc"], "x": ["1"]}, CHANGES)
    assert {p.path for p in caught.value.problems} == {"?severity", "?commit_sha", "?x"}


def test_the_last_day_ends_at_the_last_millisecond_there_is() -> None:
    query = parse({"from": ["0001-01-01"], "to": ["9999-12-31"]}, RUNS)
    assert query.start_ms == 0
    assert query.end_ms is not None
    assert format_ms(query.end_ms) == "9999-12-31T23:59:59.999Z"


def test_a_record_read_takes_no_parameter() -> None:
    assert parse({}, NONE).limit > 0
    with pytest.raises(InvalidInput) as caught:
        parse({"foo": ["1"], "limit": ["1"]}, NONE)
    assert {p.path: p.message for p in caught.value.problems} == {
        "?foo": "unknown parameter; this endpoint takes none",
        "?limit": "unknown parameter; this endpoint takes none",
    }


def test_the_severity_filter_takes_the_diff_schemas_enum_which_the_index_counts() -> None:
    assert SEVERITY_VALUES == SEVERITIES
    with pytest.raises(InvalidInput):
        parse({"severity": ["bogus"]}, CHANGES)
