"""sandbox/api/common.py: the parameters the sandbox APIs share: times, booleans, cursors,
search filters (whatever the API refuses is a BadRequestError, a 400)."""

from __future__ import annotations

import pytest

from sandbox.api import common
from sandbox.routing import Request


def req(**query: str) -> Request:
    return Request("GET", "/v4/events", {k: [v] for k, v in query.items()}, {})


def test_times_are_epoch_ms_or_rfc_3339_with_a_zone():
    assert common.parse_time("1700000000000") == 1_700_000_000_000
    assert common.parse_time("2023-11-14T22:13:20Z") == 1_700_000_000_000
    assert common.parse_time("2023-11-14T23:13:20+01:00") == 1_700_000_000_000
    for bad in ("2023-11-14T22:13:20", "yesterday", "-5"):
        with pytest.raises(common.BadRequestError):
            common.parse_time(bad)


def test_booleans_are_spelled_true_false_1_or_0():
    assert [common.parse_bool(v, "vpn") for v in ("true", "TRUE", "1", "false", "0", None)] == [
        True,
        True,
        True,
        False,
        False,
        None,
    ]
    with pytest.raises(common.BadRequestError, match="vpn must be true or false"):
        common.parse_bool("yes", "vpn")


def test_a_cursor_round_trips_and_a_forged_one_is_refused():
    key = common.encode_cursor(1_700_000_000_000, "1700000000000.abcdef")
    assert "=" not in key
    assert common.decode_cursor(key) == (1_700_000_000_000, "1700000000000.abcdef")
    for forged in ("!!!", "bm90IGpzb24", common.encode_cursor(1, "x")[:-3]):
        with pytest.raises(common.BadRequestError, match="pagination key"):
            common.decode_cursor(forged)


def test_a_search_filter_from_its_parameters():
    key = common.encode_cursor(1_700_000_000_500, "1700000000500.zzzzzz")
    flt, limit = common.search_filter(
        req(
            limit="50",
            start="1700000000000",
            end="1700000001000",
            bot="bad",
            vpn="true",
            min_suspect_score="7.9",
            pagination_key=key,
        ),
        "pagination_key",
    )
    assert limit == 50 and (flt.start, flt.end) == (1_700_000_000_000, 1_700_000_001_000)
    assert (flt.bot, flt.vpn, flt.min_suspect_score) == ("bad", True, 7)
    assert flt.before == (1_700_000_000_500, "1700000000500.zzzzzz")
    default, ten = common.search_filter(req(), "pagination_key")
    assert ten == 10 and default.end - default.start == common.DEFAULT_WINDOW_MS


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"limit": "0"}, "between 1 and 100"),
        ({"limit": "101"}, "between 1 and 100"),
        ({"limit": "ten"}, "must be an integer"),
        ({"start": "1700000001000", "end": "1700000000000"}, "start must not be after end"),
        ({"bot": "evil"}, "bot must be one of"),
        ({"min_suspect_score": "high"}, "must be a number"),
        ({"suspect": "maybe"}, "suspect must be true or false"),
    ],
)
def test_search_parameters_the_api_refuses(query, message):
    with pytest.raises(common.BadRequestError, match=message):
        common.search_filter(req(**query), "pagination_key")


def test_a_body_that_is_not_json_is_a_bad_request():
    assert common.json_body(Request("POST", "/", {}, {}, body=b'{"a": 1}')) == {"a": 1}
    with pytest.raises(common.BadRequestError, match="not JSON"):
        common.json_body(Request("POST", "/", {}, {}, body=b"{"))
