"""Cost from custom prices and litellm's bundled map; unknown stays unknown."""

import pytest

from rlm_tui.lm import PriceTable


def test_a_model_in_litellms_map_has_a_positive_cost():
    cost = PriceTable().cost_usd("gpt-4o-mini", 1000, 1000)

    assert cost is not None and cost > 0


def test_the_provider_prefix_does_not_change_the_price():
    table = PriceTable()

    assert table.cost_usd("openai/gpt-4o-mini", 1000, 500) == table.cost_usd(
        "gpt-4o-mini", 1000, 500
    )


def test_output_tokens_of_a_mapped_model_cost_more_than_input_tokens():
    table = PriceTable()

    assert table.cost_usd("gpt-4o-mini", 0, 1000) > table.cost_usd("gpt-4o-mini", 1000, 0)


@pytest.mark.parametrize("model", ["openai/my-local-model", "no-such-model-anywhere", "foo/bar"])
def test_an_unknown_model_has_unknown_cost(model):
    assert PriceTable().cost_usd(model, 1000, 1000) is None
    assert not PriceTable().is_priced(model)


def test_custom_prices_are_usd_per_million_tokens():
    table = PriceTable({"openai/my-local-model": (0.5, 1.5)})

    assert table.cost_usd("openai/my-local-model", 2_000_000, 1_000_000) == pytest.approx(2.5)


def test_custom_prices_override_litellms_map():
    table = PriceTable({"openai/gpt-4o-mini": (100.0, 100.0)})

    assert table.cost_usd("openai/gpt-4o-mini", 1_000_000, 0) == pytest.approx(100.0)


def test_a_custom_price_without_provider_prefix_applies_to_prefixed_names():
    table = PriceTable({"my-local-model": (1.0, 1.0)})

    assert table.cost_usd("openai/my-local-model", 1_000_000, 1_000_000) == pytest.approx(2.0)


def test_a_custom_endpoint_is_priced_only_by_custom_prices():
    table = PriceTable({"openai/priced-here": (1.0, 1.0)})

    assert table.cost_usd("openai/gpt-4o-mini", 100, 100, custom_endpoint=True) is None
    assert table.cost_usd("openai/priced-here", 1_000_000, 0, custom_endpoint=True) == 1.0


def test_zero_tokens_of_a_priced_model_cost_nothing():
    assert PriceTable().cost_usd("gpt-4o-mini", 0, 0) == 0.0


def test_negative_prices_are_rejected():
    with pytest.raises(ValueError, match="negative"):
        PriceTable({"m": (-1.0, 1.0)})
