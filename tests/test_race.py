"""A network that cannot catch up with the best fixed map stops training (issue 22, docs/speed.md)."""

import math

import numpy as np
import pytest
from sklearn.datasets import load_iris, make_blobs

from sknas import DARTSFeatureSearch, RandomFeatureSearch
from sknas.config import config_context
from sknas.space.architecture import FIXED_HEADS
from sknas.training.convergence import FixedMapRace

from .test_convergence import Figures  # a monitor whose plateau figures are given


def test_the_race_is_asked_from_the_min_share_on_while_the_figure_still_rises():
    scores = iter([0.40, 0.45, 0.60])
    race = FixedMapRace(lambda encoder: next(scores), bar=0.7, headroom=0.2)
    monitor = Figures([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], budget=60, tol=0.01, min_share=0.5, race=race)
    decisions = [monitor.should_stop(None, u) for u in range(6, 31, 6)]
    # checks at 6..30 updates; the race from 30 (half of 60) on: 0.40 + 0.2 < 0.7 stops at once
    assert decisions == [False, False, False, False, True]
    assert race.trace == [(30, 0.40)]
    assert monitor.raced and not monitor.converged


def test_a_network_within_the_headroom_trains_on_and_a_converged_one_is_not_raced():
    race = FixedMapRace(lambda encoder: 0.55, bar=0.7, headroom=0.2)
    rising = Figures([0.1, 0.2, 0.3, 0.4], budget=40, tol=0.01, min_share=0.0, race=race)
    assert not any(rising.should_stop(None, u) for u in (4, 8, 12, 16))
    assert not rising.raced and [u for u, _ in race.trace] == [12, 16]  # from the first check with two before it
    never = FixedMapRace(lambda encoder: pytest.fail("a converged network is not scored"), bar=0.7, headroom=0.0)
    flat = Figures([0.5] * 4, budget=40, tol=0.01, min_share=0.0, race=never)
    assert [flat.should_stop(None, u) for u in (4, 8, 12)] == [False, False, True]
    assert flat.converged and not flat.raced


def test_the_headroom_comes_from_sknas_config():
    with config_context(race_headroom=0.25):
        assert FixedMapRace(lambda encoder: 0.0, bar=1.0).headroom == 0.25


def _networks(search):
    return [r for r in search.search_history_ if r["status"] == "ok" and r["architecture"].head not in FIXED_HEADS]


@pytest.fixture(scope="module")
def iris_darts():
    X, _ = load_iris(return_X_y=True)
    # iris: the LDA map's bar is ~0.67 and the path network ends ~0.59, within the default headroom (0.1):
    # without headroom the race cuts it short
    with config_context(race_headroom=0.0):
        raced = DARTSFeatureSearch(n_clusters=3, random_state=0, device="cpu").fit(X)
    with config_context(race_headroom=math.inf):
        full = DARTSFeatureSearch(n_clusters=3, random_state=0, device="cpu").fit(X)
    return raced, full


def test_networks_that_lose_to_the_fixed_map_stop_early_and_the_same_map_wins(iris_darts):
    raced, full = iris_darts
    # iris: the LDA map scores ~0.65, the path network ~0.59 (docs/speed.md), so the race cuts it short
    assert any(r["raced"] for r in _networks(raced))
    assert not any(r["raced"] for r in _networks(full))
    for r, f in zip(_networks(raced), _networks(full)):
        assert r["architecture"] == f["architecture"] and r["n_updates"] <= f["n_updates"]
        if r["raced"]:
            assert not r["converged"] and r["n_updates"] < f["n_updates"]
    assert raced.architecture_ == full.architecture_
    np.testing.assert_allclose(raced.transform(load_iris().data), full.transform(load_iris().data), rtol=1e-5)
    # the history keeps the candidates' order (the discretised path first), whatever order they trained in
    assert [r["source"] for r in raced.search_history_] == [r["source"] for r in full.search_history_]


def test_fixed_maps_are_the_same_records_with_or_without_the_race(iris_darts):
    raced, full = iris_darts
    fixed = [(r["architecture"], r["score"]) for r in raced.search_history_ if r["architecture"].head in FIXED_HEADS]
    assert fixed == [(r["architecture"], r["score"]) for r in full.search_history_
                     if r["architecture"].head in FIXED_HEADS]


def test_no_race_on_an_explicit_budget_a_pool_scoring_or_without_a_winnable_fixed_map():
    X, _ = make_blobs(150, n_features=4, centers=3, random_state=0)
    common = {"n_clusters": 3, "max_trials": 4, "random_state": 0, "device": "cpu",
              "search_space": {"widths": (16,), "max_depth": 1}}
    with config_context(race_headroom=0.0):  # no headroom: on these blobs the default search races a network
        assert any(r["raced"] for r in _networks(RandomFeatureSearch(**common).fit(X)))
        explicit = RandomFeatureSearch(max_epochs=20, **common).fit(X)
        consensus = RandomFeatureSearch(scoring="consensus", **common).fit(X)
        no_fixed = RandomFeatureSearch(**{**common, "search_space": {**common["search_space"],
                                                                     "include_identity": False}}).fit(X)
    for search in (explicit, consensus, no_fixed):
        assert not any(r["raced"] for r in _networks(search))


def test_a_fixed_map_that_restates_a_column_sets_no_bar():
    search = RandomFeatureSearch(n_clusters=2)
    flag = np.repeat([0.0, 1.0], 50)
    X = np.column_stack([flag, np.random.default_rng(0).normal(size=100)])
    search._standardizer = type("S", (), {"layout": None})()
    search.n_features_in_, search.is_categorical_ = 2, None
    context = {"X_score": X}
    from sknas.space import Architecture

    restating = {"architecture": Architecture(head="lda"), "status": "ok", "valid": True, "score": 0.9,
                 "labels": flag.astype(int)}
    assert search._race_bar([restating], context) is None
    other = {**restating, "architecture": Architecture(head="identity"), "score": 0.5,
             "labels": np.arange(100) % 2}
    assert search._race_bar([restating, other], context) == pytest.approx(0.5 + 0.02)


def test_a_network_that_reached_the_bar_is_not_scored_again():
    scores = iter([0.72, 0.30])
    race = FixedMapRace(lambda encoder: next(scores), bar=0.7, headroom=0.1)
    assert [race.lagging(None, u) for u in (30, 40, 50)] == [False, False, False]
    assert race.trace == [(30, 0.72)] and race.reached
