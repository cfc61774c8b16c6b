"""risk/fingerprint/parsing.py: lenient readers and strict JSON; a wrong type is None, never a
crash."""

import pytest

from risk.fingerprint.drn import parse_drn
from risk.fingerprint.events import normalise_event
from risk.fingerprint.parsing import NonStandardJSONError, strict_json_loads


def test_huge_integers_and_wrong_shapes_parse_to_nothing():
    event = normalise_event({"event_id": "1.a", "timestamp": 10**400, "suspect_score": 10**400})
    assert event.timestamp is None and event.suspect_score is None
    result = parse_drn(
        {"data": {"regionalActivity": {"countries": 5}, "suspectScore": {"maximum": []}}},
        visitor_id="v",
    )
    assert result.countries == () and result.max_score is None


@pytest.mark.parametrize("text", ["NaN", "-Infinity", "Infinity", "1e400", "[1.5e999]"])
def test_strict_json_refuses_non_standard_numbers(text):
    with pytest.raises(NonStandardJSONError):
        strict_json_loads('{"a": ' + text + "}")
    assert strict_json_loads('{"a": 1.5e300, "b": 12345678901234567890}')["b"] > 2**63


def test_strict_json_refuses_nesting_deeper_than_the_parser_with_a_value_error():
    with pytest.raises(ValueError, match="nested too deeply"):
        strict_json_loads("[" * 5000 + "]" * 5000)
