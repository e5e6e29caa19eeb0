"""Synthetic chains and their analytics: the known smile is recovered and arbitrage is flagged."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from shriven.config import load_settings
from shriven.pricing.analytics import analyse_chain
from shriven.pricing.chain import DAYS_PER_YEAR, synthetic_chain, true_smile
from shriven.pricing.svi import svi_implied_vol
from shriven.schemas import OPTION_ANALYTICS, OPTION_CHAIN, SVI_FITS

DAY_NS = 1_767_571_200_000_000_000  # 2026-01-05


@pytest.fixture(scope="module")
def settings():
    return load_settings(environ={})


@pytest.fixture(scope="module")
def closes():
    return pa.table(
        {"ts": pa.array([DAY_NS, DAY_NS], pa.timestamp("ns", tz="UTC")), "symbol": ["BOLT", "GRID"],
         "open": [240.0, 71.0], "close": [243.1, 71.05]}
    )


@pytest.fixture(scope="module")
def analysed(settings, closes):
    chain = synthetic_chain(closes, settings)
    return chain, analyse_chain(chain, settings.options.rate, settings.options.dividend_yield)


def test_chain_is_deterministic_and_in_schema(settings, closes):
    a, b = synthetic_chain(closes, settings), synthetic_chain(closes, settings)
    assert a.schema == OPTION_CHAIN
    assert a.equals(b)
    assert pc.all(pc.less_equal(a.column("bid"), a.column("ask"))).as_py()
    expected = 2 * len(settings.options.expiries_days) * 2  # symbols x expiries x (call, put)
    assert a.num_rows >= expected * 5


def test_implied_vols_recover_the_true_smile_where_vega_is_large(settings, analysed):
    chain, result = analysed
    opts = result.options
    assert opts.schema == OPTION_ANALYTICS
    t = opts.column("time_to_expiry").to_numpy()
    k = opts.column("log_moneyness").to_numpy()
    iv = opts.column("iv").to_numpy(zero_copy_only=False).astype(float)
    vega = opts.column("vega").to_numpy(zero_copy_only=False).astype(float)
    symbols = opts.column("symbol").to_pylist()
    spot = opts.column("underlying_price").to_numpy()
    open_ = {"BOLT": 240.0, "GRID": 71.0}
    checked = 0
    for i in np.flatnonzero(np.isfinite(iv) & (vega > 0.2 * np.nanmax(vega)) & (t > 0.05)):
        cfg = settings.symbol(symbols[i])
        atm = cfg.volatility * (1 + 0.15 * math.exp(-t[i] / 0.1)) * (1 + 2 * abs(math.log(spot[i] / open_[symbols[i]])))
        truth = svi_implied_vol(np.array([k[i]]), t[i], true_smile(atm, t[i], settings.options.skew))[0]
        assert abs(iv[i] - truth) < 0.01, (symbols[i], t[i] * DAYS_PER_YEAR, k[i])
        checked += 1
    assert checked > 50


def test_smiles_fit_with_the_configured_skew_and_no_arbitrage(settings, analysed):
    _, result = analysed
    smiles = result.smiles
    assert smiles.schema == SVI_FITS
    long_dated = smiles.filter(pc.greater(smiles.column("time_to_expiry"), 0.1))
    # quotes on a 0.01 tick blur cheap, low-vol smiles (GRID): the skew within 0.1
    assert np.allclose(long_dated.column("rho").to_numpy(), settings.options.skew, atol=0.1)
    assert pc.all(long_dated.column("butterfly_ok")).as_py()
    assert pc.all(long_dated.column("calendar_ok")).as_py()
    assert pc.max(long_dated.column("rmse_iv")).as_py() < 0.01


def test_calendar_arbitrage_is_flagged(settings, closes):
    chain = synthetic_chain(closes.slice(0, 1), settings)
    expiry = chain.column("expiry").cast(pa.int64()).to_numpy()
    longest = expiry == expiry.max()
    # quote the longest expiry far too cheap: its total variance falls below the one before
    cheap = pa.array(np.where(longest, chain.column("bid").to_numpy() * 0.2, chain.column("bid").to_numpy()))
    cheap_ask = pa.array(np.where(longest, chain.column("ask").to_numpy() * 0.2, chain.column("ask").to_numpy()))
    chain = chain.set_column(5, "bid", cheap).set_column(6, "ask", cheap_ask)
    smiles = analyse_chain(chain, settings.options.rate, settings.options.dividend_yield).smiles
    last = smiles.slice(smiles.num_rows - 1, 1).to_pylist()[0]
    assert last["calendar_ok"] is False


def test_unpriceable_quotes_get_a_reason_not_an_exception(settings, closes):
    chain = synthetic_chain(closes.slice(0, 1), settings)
    zero = pa.array(np.zeros(chain.num_rows))
    chain = chain.set_column(5, "bid", zero).set_column(6, "ask", zero)
    opts = analyse_chain(chain, settings.options.rate, settings.options.dividend_yield).options
    assert opts.num_rows == chain.num_rows
    reasons = opts.column("reason").to_numpy()
    assert (reasons != 0).any()
    assert opts.column("iv").null_count == int((reasons != 0).sum())


def test_a_day_without_bars_writes_nothing_and_does_not_fail(tmp_path):
    from shriven.lake.writer import Lake
    from shriven.pricing.daily import price_synthetic_chains

    settings = load_settings(environ={"SHRIVEN_DATA_DIR": str(tmp_path)})
    result = price_synthetic_chains(Lake(settings.lake_root), settings, ["2026-01-07"])
    assert (result.options, result.smiles) == (0, 0)
