"""Cached prompt tokens: read from every shape a provider (or litellm) reports them in, and
priced at the cache prices of the map or the config."""

from types import SimpleNamespace

import pytest

from rlm_tui.events import Usage
from rlm_tui.lm import PriceTable
from rlm_tui.lm.completion import ReportedTokens, reported_tokens
from rlm_tui.lm.pricing import _litellm_cost
from rlm_tui.units import format_cached_share, format_token_counts


def test_openai_usage_reports_cached_tokens_inside_the_prompt_tokens():
    usage = {"prompt_tokens": 10_000, "completion_tokens": 50, "total_tokens": 10_050,
             "prompt_tokens_details": {"cached_tokens": 8_192, "audio_tokens": 0}}

    assert reported_tokens(usage) == ReportedTokens(10_000, 50, 10_050, 8_192, 0)


def test_a_report_without_details_has_no_cached_tokens():
    assert reported_tokens({"prompt_tokens": 10, "completion_tokens": 2}) == (10, 2, 12, 0, 0)
    assert reported_tokens({"prompt_tokens": 10, "prompt_tokens_details": None}).cached == 0
    assert reported_tokens(None) is None


def test_litellms_normalised_anthropic_usage_gives_reads_and_writes():
    # litellm's Usage for Anthropic: prompt_tokens counts input + cache reads + cache writes
    usage = SimpleNamespace(prompt_tokens=5_000, completion_tokens=10, total_tokens=5_010,
                            prompt_tokens_details=SimpleNamespace(cached_tokens=3_000,
                                                                  cache_creation_tokens=1_500),
                            cache_read_input_tokens=3_000, cache_creation_input_tokens=1_500)

    assert reported_tokens(usage) == ReportedTokens(5_000, 10, 5_010, 3_000, 1_500)


def test_anthropic_top_level_fields_alone_are_read():
    usage = {"prompt_tokens": 5_000, "completion_tokens": 10,
             "cache_read_input_tokens": 3_000, "cache_creation_input_tokens": 1_000}

    assert reported_tokens(usage)[3:] == (3_000, 1_000)


def test_a_report_whose_cached_part_exceeds_the_prompt_is_capped():
    usage = {"prompt_tokens": 100, "completion_tokens": 1,
             "prompt_tokens_details": {"cached_tokens": 500}}

    assert reported_tokens(usage).cached == 100


def test_cached_tokens_cost_the_maps_cache_read_price():
    table = PriceTable()
    full = table.cost_usd("openai/gpt-5-mini", 10_000, 100)
    cached = table.cost_usd("openai/gpt-5-mini", 10_000, 100, cached_tokens=8_000)

    # gpt-5-mini: $0.25 / M input, $0.025 / M cached, $2 / M output
    assert full == pytest.approx(10_000 * 0.25e-6 + 100 * 2e-6)
    assert cached == pytest.approx(2_000 * 0.25e-6 + 8_000 * 0.025e-6 + 100 * 2e-6)


def test_our_cached_cost_is_litellms_for_the_same_counts():
    table = PriceTable()
    ours = table.cost_usd("openai/gpt-5-mini", 10_000, 100, cached_tokens=8_000)

    assert ours == pytest.approx(_litellm_cost("openai/gpt-5-mini", 10_000, 100, 8_000))


def test_anthropic_reads_and_writes_are_priced_by_litellm():
    model = "anthropic/claude-sonnet-4-5-20250929"
    cost = PriceTable().cost_usd(model, 10_000, 0, cached_tokens=6_000, cache_write_tokens=2_000)

    # $3 / M input, $0.30 / M cache read, $3.75 / M cache write
    assert cost == pytest.approx(2_000 * 3e-6 + 6_000 * 0.3e-6 + 2_000 * 3.75e-6)


def test_a_model_with_no_cache_price_pays_its_input_price_for_cached_tokens():
    table = PriceTable({"openai/local": (1.0, 2.0)})

    assert table.cost_usd("openai/local", 1_000_000, 0, cached_tokens=900_000,
                          cache_write_tokens=50_000) == pytest.approx(1.0)


def test_custom_cache_prices_are_usd_per_million_tokens():
    table = PriceTable({"openai/local": (1.0, 2.0, 0.1, 1.25)})

    cost = table.cost_usd("openai/local", 1_000_000, 1_000_000, cached_tokens=600_000,
                          cache_write_tokens=200_000)

    assert cost == pytest.approx(0.2 * 1.0 + 0.6 * 0.1 + 0.2 * 1.25 + 2.0)


def test_an_unpriced_model_with_cached_tokens_stays_unknown():
    assert PriceTable().cost_usd("openai/no-such-model", 100, 1, cached_tokens=50) is None


def test_config_prices_take_cached_input_and_cache_write():
    from rlm_tui.config import Price

    price = Price(input=1.0, output=2.0, cached_input=0.1)

    assert price.per_million() == (1.0, 2.0, 0.1, None)
    with pytest.raises(ValueError):
        Price(input=1.0, output=2.0, cached_input=-1)


def test_usage_sums_cached_tokens_and_says_the_share():
    a = Usage.of_call(1_000, 10, 0.01, cached_tokens=800)
    b = Usage.of_call(3_000, 10, 0.01, cached_tokens=2_600, cache_write_tokens=100)

    total = a + b

    assert (total.cached_tokens, total.cache_write_tokens) == (3_400, 100)
    assert format_cached_share(total) == "85% cached"
    assert format_cached_share(Usage.of_call(10, 1, 0.0)) == ""
    assert format_token_counts(total) == (
        "4,000 in (3,400 cached, 100 written to cache) / 20 out")
