"""sandbox/simulation.py: the demo population, planned without a server."""

from __future__ import annotations

import pytest

from sandbox import simulation

pytestmark = pytest.mark.django_db(transaction=True)


def test_allocation_adds_up_and_keeps_rare_kinds():
    counts = simulation.allocate(60, simulation.DEFAULT_MIX)
    assert sum(counts.values()) == 60
    assert min(counts.values()) >= 1
    assert sum(simulation.allocate(7, {"ordinary": 1, "proxy_farm": 1}).values()) == 7


def test_every_kind_is_labelled_and_the_bench_population_has_both_labels():
    bench = [kind for kind in simulation.KINDS.values() if kind.bench]
    assert {kind.legit for kind in bench} == {True, False}
    assert set(simulation.DEFAULT_MIX) == set(simulation.KINDS)
