"""risk/fingerprint/suspect_score.py: the score as the weighted sum of the signals present, and
its breakdown for reviewers, heaviest first."""

from risk.fingerprint.suspect_score import SIGNAL_WEIGHTS, score_breakdown, suspect_score


def test_the_score_adds_the_weights_of_the_signals_present_and_ignores_others():
    assert suspect_score(set()) == 0
    assert suspect_score({"vpn", "tampering"}) == 5 + 7
    assert suspect_score({"vpn", "not_a_signal"}) == 5


def test_the_breakdown_names_each_signal_heaviest_first():
    assert score_breakdown({"incognito", "bot", "vpn"}) == [
        ("bot", 10),
        ("VPN", 5),
        ("incognito mode", 1),
    ]
    assert score_breakdown({"nothing_known"}) == []


def test_every_signal_has_a_positive_weight_and_a_label():
    for name, (weight, label) in SIGNAL_WEIGHTS.items():
        assert weight > 0 and label, name
    assert suspect_score(set(SIGNAL_WEIGHTS)) == sum(w for w, _ in SIGNAL_WEIGHTS.values())
