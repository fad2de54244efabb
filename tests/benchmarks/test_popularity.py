"""Prompt popularity: Zipf rank frequencies, repetition, the rank → id spread, the texts."""

import math

import numpy as np
import pytest

from benchmarks.popularity import MAX_TEMPLATES, PromptCatalogue


def rng(seed=0):
    return np.random.default_rng(seed)


def counts_by_rank(catalogue, samples):
    counts = np.bincount(samples, minlength=catalogue.size)
    return counts[catalogue.id_for_rank(np.arange(catalogue.size))]


def test_samples_are_int32_ids_within_the_catalogue():
    catalogue = PromptCatalogue(templates=3, entities=7)
    ids = catalogue.sample(10_000, rng())
    assert catalogue.size == 21
    assert ids.dtype == np.int32
    assert ids.min() >= 0
    assert ids.max() < 21
    assert len(np.unique(ids)) == 21


def test_same_seed_same_samples_and_another_seed_others():
    catalogue = PromptCatalogue()
    np.testing.assert_array_equal(catalogue.sample(1000, rng(5)), catalogue.sample(1000, rng(5)))
    assert not np.array_equal(catalogue.sample(1000, rng(5)), catalogue.sample(1000, rng(6)))


def test_probabilities_are_zipf_over_ranks():
    catalogue = PromptCatalogue(templates=4, entities=25, skew=1.1)
    ranks = np.arange(1, 101, dtype=np.float64)
    expected = ranks**-1.1 / np.sum(ranks**-1.1)
    np.testing.assert_allclose(catalogue.probabilities(), expected)


def test_rank_frequencies_fall_with_rank():
    catalogue = PromptCatalogue(templates=4, entities=25, skew=1.1)
    by_rank = counts_by_rank(catalogue, catalogue.sample(400_000, rng(1)))
    assert np.all(np.diff(by_rank[:10]) < 0)
    assert by_rank[:20].min() > by_rank[50:].max()


def test_top_one_share_matches_the_analytic_share():
    catalogue = PromptCatalogue(templates=20, entities=500, skew=1.1)
    n = 200_000
    p1 = 1.0 / np.sum(np.arange(1, catalogue.size + 1, dtype=np.float64) ** -1.1)
    top = catalogue.id_for_rank(np.array([0]))[0]
    share = np.mean(catalogue.sample(n, rng(2)) == top)
    assert abs(share - p1) <= 4 * math.sqrt(p1 * (1 - p1) / n)
    assert 0.05 < p1 < 0.2  # a hot prompt, not a monopoly


def test_zero_skew_is_uniform():
    catalogue = PromptCatalogue(templates=5, entities=20, skew=0.0)
    n = 100_000
    counts = np.bincount(catalogue.sample(n, rng(3)), minlength=100)
    expected = n / 100
    chi2 = float(np.sum((counts - expected) ** 2 / expected))
    assert chi2 < 99 + 5 * math.sqrt(2 * 99)
    np.testing.assert_allclose(catalogue.probabilities(), 0.01)


def test_more_skew_repeats_more():
    distinct = [
        len(np.unique(PromptCatalogue(skew=skew).sample(2000, rng(4))))
        for skew in (0.0, 0.6, 1.1, 1.6)
    ]
    assert distinct == sorted(distinct, reverse=True)
    assert len(set(distinct)) == 4


@pytest.mark.parametrize(("templates", "entities"), [(1, 1), (1, 7), (4, 25), (6, 60), (20, 500)])
def test_ranks_map_to_ids_one_to_one(templates, entities):
    catalogue = PromptCatalogue(templates=templates, entities=entities)
    ids = catalogue.id_for_rank(np.arange(catalogue.size))
    np.testing.assert_array_equal(np.sort(ids), np.arange(catalogue.size))


def test_popular_prompts_spread_over_templates_and_entities():
    catalogue = PromptCatalogue()
    pairs = [catalogue.template_and_entity(int(i)) for i in catalogue.id_for_rank(np.arange(20))]
    assert len({template for template, _ in pairs}) >= 12
    assert len({entity for _, entity in pairs}) >= 18


def test_every_id_has_its_own_text():
    catalogue = PromptCatalogue(templates=MAX_TEMPLATES, entities=50)
    texts = {catalogue.text(i) for i in range(catalogue.size)}
    assert len(texts) == catalogue.size


def test_texts_are_copilot_prompts_of_twenty_to_sixty_words():
    catalogue = PromptCatalogue(templates=MAX_TEMPLATES, entities=300)
    for prompt_id in range(0, catalogue.size, 7):
        _, entity = catalogue.template_and_entity(prompt_id)
        text = catalogue.text(prompt_id)
        assert 20 <= len(text.split()) <= 60, text
        assert text.endswith(".")
        assert "{" not in text
        assert f"candidate {1000 + entity}" in text


def test_entities_with_the_same_name_and_role_still_differ():
    catalogue = PromptCatalogue(templates=MAX_TEMPLATES, entities=5000)
    cycle = 17 * 19 * 13  # first names, last names, roles
    for template in range(MAX_TEMPLATES):
        same = catalogue.text(template * 5000), catalogue.text(template * 5000 + cycle)
        assert same[0].split("1000")[0] == same[1].split(str(1000 + cycle))[0]
        assert same[0] != same[1]


def test_texts_are_deterministic():
    assert PromptCatalogue().text(0) == (
        "Summarise the hiring pipeline for candidate 1000 (Priya Shah, applying for Senior"
        " Backend Engineer) in three bullet points, highlighting the current stage and any"
        " blockers."
    )
    assert PromptCatalogue(skew=0.3).text(4711) == PromptCatalogue().text(4711)


def test_template_and_entity_split_the_id():
    catalogue = PromptCatalogue(templates=20, entities=500)
    assert catalogue.template_and_entity(0) == (0, 0)
    assert catalogue.template_and_entity(4711) == (9, 211)
    assert catalogue.template_and_entity(np.int32(9999)) == (19, 499)


@pytest.mark.parametrize("prompt_id", [-1, 10_000])
def test_ids_outside_the_catalogue_are_refused(prompt_id):
    with pytest.raises(ValueError, match=r"prompt_id must be in \[0, 10000\)"):
        PromptCatalogue().text(prompt_id)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"templates": 0}, "templates must be in"),
        ({"templates": MAX_TEMPLATES + 1}, "templates must be in"),
        ({"entities": 0}, "entities must be >= 1"),
        ({"entities": 2**31}, "must fit in int32"),
        ({"skew": -0.1}, "skew"),
        ({"skew": math.nan}, "skew"),
    ],
)
def test_bad_parameters_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PromptCatalogue(**kwargs)
