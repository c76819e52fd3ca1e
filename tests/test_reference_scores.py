"""Published reference scores: complete, named by prime's benchmarks, and consistent with their own averages."""

from __future__ import annotations

import pytest

from benchmarks.references import reference_sets
from benchmarks.registry import registry


def test_every_score_names_a_known_benchmark_and_a_source():
    known = set(registry()) | {"avg"}
    for ref in reference_sets().values():
        assert ref.source and ref.settings
        for model, scores in ref.models.items():
            assert set(scores) <= known, (ref.name, model)
            assert all(0 <= v <= 100 for v in scores.values())


@pytest.mark.parametrize("name", ["eurus2", "eurus2_readme"])
def test_published_averages_match_the_scores(name):
    ref = reference_sets()[name]
    for model, scores in ref.models.items():
        agrees = ref.average(model) == pytest.approx(scores["avg"], abs=0.06)
        assert agrees is (model not in ref.inconsistent_averages), model


def test_headline_result():
    assert reference_sets()["eurus2"].models["Eurus-2-7B-PRIME"]["aime24"] == 26.7
    assert reference_sets()["eurus2_readme"].models["Eurus-2-7B-SFT"]["math500"] == 65.1
