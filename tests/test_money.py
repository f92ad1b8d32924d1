"""SPEC 11, the money half: cash yield, a risk-free series, quarterly and annual
rebalancing, the no-trade band and the benchmark's own rebalance rule, computed by hand.

Each scenario is a tiny market run through `run_backtest` (tests/test_spec_timing.py's
helpers), with the expected numbers written out and a comment per row; each is also
checked against the plain-loop reference (tests/reference.py) and the numba kernel
(`grid_inputs_from_result`). Bad values of every key are refused in one line.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.config import config_from_dict
from engine.pipeline import grid_inputs_from_result
from engine.report import run_frames
from engine.sim.fastsim import simulate_grid
from tests.reference import reference_backtest
from tests.test_hardening_config import assert_one_error_line
from tests.test_spec_timing import BASE, REL, assert_fills, bars, day, merge, run, trade_rows

P = 252


def write_market(folder, frames: dict[str, pd.DataFrame]) -> None:
    """The frames as CSV files (Date, OHLC, Volume), for the reference and the CLI."""
    for ticker, frame in frames.items():
        out = frame.reset_index().rename(columns={"date": "Date"})
        out["Date"] = out["Date"].dt.strftime("%Y-%m-%d")
        out.to_csv(folder / f"{ticker}.csv", index=False)


def agrees_with_reference_and_kernel(result, frames, changes, tmp_path) -> None:
    """The run equals tests/reference.py (values, trades, statistics) and its G = 1 kernel
    simulation (values, trade dates, cash interest)."""
    write_market(tmp_path, frames)
    raw = merge(BASE, changes)
    raw["data"]["dir"] = str(tmp_path)
    expected = reference_backtest(copy.deepcopy(raw), tmp_path)
    np.testing.assert_allclose(result.strategy.value, expected["strategy"], rtol=1e-12)
    np.testing.assert_allclose(result.benchmark.value, expected["benchmark"], rtol=1e-12)
    for part in ("strategy", "benchmark", "relative"):
        for key, value in expected["stats"][part].items():
            if isinstance(value, dict):
                continue
            ours = result.stats[part][key]
            if isinstance(value, float) and math.isnan(value):
                assert ours is None or math.isnan(ours), (part, key)
            else:
                assert ours == pytest.approx(value, rel=1e-10, abs=1e-9), (part, key)
    kernel = simulate_grid(**grid_inputs_from_result(result))
    np.testing.assert_allclose(kernel.values[:, 0], result.strategy.value, rtol=1e-12)
    assert kernel.trade_dates[0] == result.stats["strategy"]["trade_dates"]
    if "cash_interest" in result.stats["strategy"]:
        interest = result.stats["strategy"]["cash_interest"]
        assert kernel.interest[0] == pytest.approx(interest, rel=1e-10, abs=1e-9)


D4 = pd.bdate_range("2024-01-02", periods=4)  # Tue Jan 2 .. Fri Jan 5
FLAT = {"AAA": bars(D4, [10.0] * 4), "BBB": bars(D4, [20.0] * 4)}
HALF = {
    "regimes": [{"name": "half", "weights": {"AAA": 0.5}}],  # half the money stays cash
    "benchmark": {"AAA": 0.5},
}


# ---------------------------------------------------------------- cash yield


def test_idle_cash_earns_a_number_yield_from_the_second_date_on(tmp_path):
    result = run(FLAT, **HALF, portfolio={"cash_yield": 0.10})
    c = 1.10 ** (1 / P) - 1  # per-date rate of 10% a year
    values = [
        100000.0,  # Jan 2: 5000 AAA @10 + 50000 cash; no accrual on the first date
        50000 + 50000 * (1 + c),  # Jan 3: the cash of Jan 2's close earns c
        50000 + 50000 * (1 + c) ** 2,  # Jan 4
        50000 + 50000 * (1 + c) ** 3,  # Jan 5
    ]
    assert result.strategy.value.tolist() == pytest.approx(values, rel=REL)
    assert result.benchmark.value.tolist() == pytest.approx(values, rel=REL)  # same cash, same c
    interest = 50000 * ((1 + c) ** 3 - 1)  # c on 50000, then on 50000(1+c), on 50000(1+c)^2
    assert result.stats["strategy"]["cash_interest"] == pytest.approx(interest, rel=REL)
    assert result.stats["benchmark"]["cash_interest"] == pytest.approx(interest, rel=REL)
    assert result.stats["strategy"]["trade_dates"] == 1  # accrual is no trade
    agrees_with_reference_and_kernel(
        result, FLAT, HALF | {"portfolio": {"cash_yield": 0.1}}, tmp_path
    )


TBL = bars(D4, [100.0, 101.0, 102.01, 103.0301])  # +1% a day, outside the universe


def test_a_ticker_yield_is_the_previous_steps_return_known_before_the_orders(tmp_path):
    frames = FLAT | {"TBL": TBL}
    result = run(frames, **HALF, portfolio={"cash_yield": "TBL"})
    values = [
        100000.0,  # Jan 2: first date, no accrual
        100000.0,  # Jan 3: c = 0, C has no date before Jan 2 (the step into Jan 2 is unknown)
        50000 + 50000 * 1.01,  # Jan 4: c = TBL Jan 3 / TBL Jan 2 - 1 = 1%
        50000 + 50000 * 1.01**2,  # Jan 5: c = TBL Jan 4 / TBL Jan 3 - 1 = 1%
    ]
    assert result.strategy.value.tolist() == pytest.approx(values, rel=REL)
    assert result.stats["strategy"]["cash_interest"] == pytest.approx(500 + 505, rel=REL)
    assert result.calendar.equals(D4)  # a rate ticker is not part of C
    changes = HALF | {"portfolio": {"cash_yield": "TBL"}}
    agrees_with_reference_and_kernel(result, frames, changes, tmp_path)


def test_a_ticker_yield_from_a_later_start_reads_the_date_before_the_first(tmp_path):
    frames = FLAT | {"TBL": TBL}
    result = run(frames, **HALF, portfolio={"cash_yield": "TBL"}, data={"start": "2024-01-03"})
    values = [
        100000.0,  # Jan 3: first backtest date, no accrual
        50000 + 50000 * 1.01,  # Jan 4: c = TBL Jan 3 / TBL Jan 2 (the date of C before) - 1
        50000 + 50000 * 1.01**2,  # Jan 5
    ]
    assert result.strategy.value.tolist() == pytest.approx(values, rel=REL)
    # without TBL's price on Jan 2 the second date earns nothing
    gap = {"TBL": TBL.drop(day("2024-01-02"))}
    short = run(FLAT | gap, **HALF, portfolio={"cash_yield": "TBL"}, data={"start": "2024-01-03"})
    assert short.strategy.value.iloc[1] == pytest.approx(100000.0, rel=REL)  # Jan 4: c = 0
    changes = HALF | {"portfolio": {"cash_yield": "TBL"}, "data": {"start": "2024-01-03"}}
    agrees_with_reference_and_kernel(result, frames, changes, tmp_path)


def test_without_a_cash_yield_nothing_new_appears():
    result = run(FLAT, **HALF)
    assert "cash_interest" not in result.stats["strategy"]
    assert result.cash_yield is None and result.skipped is None
    assert "tolerance" not in result.config.resolved()["execution"]
    assert "cash_yield" not in result.config.resolved()["portfolio"]


# ---------------------------------------------------------------- risk-free series


def test_a_risk_free_ticker_is_a_per_date_series_for_sharpe_sortino_and_alpha(tmp_path):
    aaa = bars(D4, [10.0, 10.5, 10.2, 10.8])
    frames = {"AAA": aaa, "BBB": bars(D4, [20.0, 20.2, 19.0, 20.5]), "TBL": TBL}
    changes = {"regimes": [{"name": "all", "weights": {"AAA": 1.0}}], "benchmark": {"BBB": 1.0}}
    result = run(frames, **changes, stats={"risk_free": "TBL"})
    r = np.array([0.0, 10.5 / 10 - 1, 10.2 / 10.5 - 1, 10.8 / 10.2 - 1])  # all in AAA at Jan 2
    b = np.array([0.0, 20.2 / 20 - 1, 19.0 / 20.2 - 1, 20.5 / 19.0 - 1])
    rf = np.array([0.0, 0.01, 0.01, 0.01])  # Jan 2 is C's first date: 0; then TBL's return
    excess = r - rf
    sharpe = excess.mean() / excess.std(ddof=1) * math.sqrt(P)
    sortino = excess.mean() / math.sqrt(np.mean(np.minimum(excess, 0) ** 2)) * math.sqrt(P)
    beta = np.cov(r, b, ddof=1)[0, 1] / np.var(b, ddof=1)
    alpha = (excess.mean() - beta * (b - rf).mean()) * P
    assert result.stats["strategy"]["sharpe"] == pytest.approx(sharpe, rel=1e-10)
    assert result.stats["strategy"]["sortino"] == pytest.approx(sortino, rel=1e-10)
    assert result.stats["relative"]["alpha"] == pytest.approx(alpha, rel=1e-10)
    assert result.stats["period"]["risk_free"] == "TBL"
    assert run_frames(result)["values.csv"]["risk_free"].tolist() == pytest.approx(rf)
    agrees_with_reference_and_kernel(
        result, frames, changes | {"stats": {"risk_free": "TBL"}}, tmp_path
    )


# ---------------------------------------------------------------- longer schedules

# AAA rises 1% a day, BBB is flat
DY = pd.bdate_range("2023-12-18", "2024-07-05")
DRIFT = {"AAA": bars(DY, 10 * 1.01 ** np.arange(len(DY))), "BBB": bars(DY, [20.0] * len(DY))}


@pytest.mark.parametrize(
    "rule, dates",
    [
        # the first date, then the first backtest date of each new quarter (Mon Jan 1 is a
        # date of this synthetic calendar)
        ("quarterly", ["2023-12-18", "2024-01-01", "2024-04-01", "2024-07-01"]),
        ("annual", ["2023-12-18", "2024-01-01"]),  # ... of each new year
        # ... of each new month (Jun 1 is a Saturday: Mon Jun 3)
        (
            "monthly",
            [
                "2023-12-18",
                "2024-01-01",
                "2024-02-01",
                "2024-03-01",
                "2024-04-01",
                "2024-05-01",
                "2024-06-03",
                "2024-07-01",
            ],
        ),
    ],
)
def test_calendar_rebalance_trades_on_the_first_backtest_date_of_each_new_period(rule, dates):
    result = run(DRIFT, data={"start": "2023-12-18"}, execution={"rebalance": rule})
    assert sorted(set(result.strategy.trades["date"])) == [day(d) for d in dates]
    assert result.orders.notna().all(axis=1).sum() == len(dates)


def test_the_benchmark_rebalances_with_its_own_rule_and_names_it(tmp_path):
    changes = {
        "data": {"start": "2023-12-18"},
        "benchmark": {"weights": {"AAA": 0.6, "BBB": 0.3}, "rebalance": "quarterly"},
    }
    result = run(DRIFT, **changes)  # the strategy never rebalances (rebalance: none)
    assert sorted(set(result.strategy.trades["date"])) == [day("2023-12-18")]
    aaa = DRIFT["AAA"]["Close"]
    cash = 100000 - 60000 - 30000  # 10% cash
    q = {"AAA": 60000 / aaa[day("2023-12-18")], "BBB": 30000 / 20}
    expected = []
    for date in result.dates:
        p = aaa[date]
        if date in (day("2024-01-01"), day("2024-04-01"), day("2024-07-01")):  # new quarters
            V = cash + q["AAA"] * p + q["BBB"] * 20
            q = {"AAA": 0.6 * V / p, "BBB": 0.3 * V / 20}  # back to 60/30 at the close
            cash = V - q["AAA"] * p - q["BBB"] * 20
        expected.append(cash + q["AAA"] * p + q["BBB"] * 20)
    assert result.benchmark.value.tolist() == pytest.approx(expected, rel=REL)
    assert sorted(set(result.benchmark.trades["date"])) == [
        day("2023-12-18"),
        day("2024-01-01"),
        day("2024-04-01"),
        day("2024-07-01"),
    ]
    from engine.report.tearsheet_run import benchmark_label, benchmark_rebalance_text

    config = result.config.resolved()
    assert config["benchmark"] == {"weights": {"AAA": 0.6, "BBB": 0.3}, "rebalance": "quarterly"}
    label = benchmark_label(config["benchmark"]) + benchmark_rebalance_text(config)
    assert label == "AAA 60.00% + BBB 30.00%, rebalanced quarterly"
    agrees_with_reference_and_kernel(result, DRIFT, changes, tmp_path)


def test_a_long_form_benchmark_without_a_rule_keeps_the_strategys():
    short = run(DRIFT, benchmark={"AAA": 0.6, "BBB": 0.4}, execution={"rebalance": "monthly"})
    long = run(
        DRIFT, benchmark={"weights": {"AAA": 0.6, "BBB": 0.4}}, execution={"rebalance": "monthly"}
    )
    assert long.benchmark.value.tolist() == short.benchmark.value.tolist()
    from engine.report.tearsheet_run import benchmark_rebalance_text

    assert benchmark_rebalance_text(long.config.resolved()) == ""


# ---------------------------------------------------------------- no-trade band

D5 = pd.bdate_range("2024-01-02", periods=4)
SWITCH = {
    #                     Jan 2 Jan 3 Jan 4 Jan 5
    "AAA": bars(D5, [10.0, 10.0, 10.0, 10.0]),
    "BBB": bars(D5, [20.0, 20.0, 20.0, 20.0]),
    "CCC": bars(D5, [40.0, 40.0, 40.0, 40.0]),
    "DDD": bars(D5, [50.0, 50.0, 50.0, 50.0]),
    "SIG": bars(D5, [1.0, 1.0, 2.0, 2.0]),  # donchian(2, 2) on at Jan 4 -> trade Jan 5
}
SIGNAL = {"brk": {"type": "donchian", "series": "SIG", "entry": 2, "exit": 2}}
BAND = {
    "universe": ["AAA", "BBB", "CCC", "DDD"],
    "signals": SIGNAL,
    "regimes": [
        {"name": "new", "when": "brk", "weights": {"AAA": 0.5, "BBB": 0.46, "DDD": 0.02}},
        {"name": "old", "weights": {"AAA": 0.5, "BBB": 0.47, "CCC": 0.03}},
    ],
    "execution": {"tolerance": 0.05},
}


def test_the_band_skips_small_orders_but_always_places_an_exit_and_an_entry(tmp_path):
    result = run(SWITCH, **BAND)
    assert_fills(
        trade_rows(result.strategy, "2024-01-05"),
        [
            # V = 100000, held 50% / 47% / 3% / 0%; targets 50% / 46% / 0% / 2%:
            # AAA |0.50 - 0.50| = 0 and BBB |0.46 - 0.47| = 0.01 <= 0.05: skipped, held;
            # CCC 3% -> 0: an exit, placed though 0.03 <= 0.05: sell all 75 @40
            ("2024-01-05", "CCC", -75.0, 40.0, 0.0),
            # DDD 0% -> 2%: an entry, placed though 0.02 <= 0.05: 0.02 * 100000 / 50 = 40
            ("2024-01-05", "DDD", 40.0, 50.0, 0.0),
        ],
    )
    # skipped assets keep their shares; cash absorbs the rest: 3000 - 2000 = 1000
    assert result.strategy.shares.loc[day("2024-01-05")].tolist() == pytest.approx(
        [5000, 2350, 0, 40]
    )
    assert result.strategy.cash.loc[day("2024-01-05")] == pytest.approx(1000.0, rel=REL)
    assert result.skipped.loc[day("2024-01-05")].tolist() == [True, True, False, False]
    trades = run_frames(result)["trades.csv"]
    skipped = trades[trades["reason"].str.startswith("skipped")]
    # AAA's order would move nothing: only BBB's skipped order is listed
    assert skipped[["ticker", "quantity", "reason"]].values.tolist() == [
        ["BBB", 0.0, "skipped by tolerance: held 47.00%, target 46.00%"]
    ]
    agrees_with_reference_and_kernel(result, SWITCH, BAND, tmp_path)


def test_a_date_on_which_the_band_skips_every_order_is_no_trade_date(tmp_path):
    changes = BAND | {
        "regimes": [
            {"name": "new", "when": "brk", "weights": {"AAA": 0.52, "BBB": 0.48}},
            {"name": "old", "weights": {"AAA": 0.5, "BBB": 0.5}},
        ]
    }
    frames = {k: SWITCH[k] for k in ("AAA", "BBB", "SIG")}
    result = run(frames, **changes | {"universe": ["AAA", "BBB"]})
    # Jan 5: the target changes (orders are placed), but |0.52 - 0.50| and |0.48 - 0.50| are
    # both <= 0.05 and nothing enters or exits: every order is skipped
    assert result.orders.loc[day("2024-01-05")].tolist() == [0.52, 0.48]
    assert set(result.strategy.trades["date"]) == {day("2024-01-02")}
    assert result.stats["strategy"]["trade_dates"] == 1
    assert result.strategy.shares.iloc[-1].tolist() == pytest.approx([5000, 2500])
    agrees_with_reference_and_kernel(
        result, frames, changes | {"universe": ["AAA", "BBB"]}, tmp_path
    )


def test_the_benchmark_ignores_the_band():
    result = run(
        DRIFT,
        data={"start": "2023-12-18"},
        execution={"rebalance": "monthly", "tolerance": 0.9},
        benchmark={"AAA": 0.5, "BBB": 0.5},
    )
    # a 90% band skips every strategy rebalance; the benchmark trades every month
    assert sorted(set(result.strategy.trades["date"])) == [day("2023-12-18")]
    assert len(set(result.benchmark.trades["date"])) == 8


# ---------------------------------------------------------------- SPEC 6 cash floor, kernel


def test_the_kernel_also_cuts_a_buy_a_hair_beyond_the_cash_left():
    f = 1e-10
    dates = pd.bdate_range("2024-01-02", periods=2)
    frames = {"AAA": bars(dates, [10.0, 10.0]), "BBB": bars(dates, [20.0, 20.0])}
    result = run(frames, execution={"fees_bps": f * 1e4})
    grid = simulate_grid(**grid_inputs_from_result(result), hints=True)
    bbb = (100000 - 5000 * 10 * (1 + f)) / (1 + f) / 20  # what the cash left pays
    assert grid.caps[0].tolist()[1] == pytest.approx(bbb, rel=1e-15)  # handed to vectorbt
    assert np.isnan(grid.caps[0][0])  # AAA is paid in full
    np.testing.assert_allclose(grid.values[:, 0], result.strategy.value, rtol=1e-15)


# ---------------------------------------------------------------- errors


def _cli(tmp_path, changes, frames=None):
    """`rotation run` on BASE with `changes` over CSV prices in tmp_path: one Error line."""
    import yaml

    write_market(tmp_path, frames if frames is not None else FLAT | {"TBL": TBL})
    raw = merge(BASE, changes)
    raw["data"]["dir"] = str(tmp_path)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(raw))
    out = tmp_path / "runs"
    out.mkdir()
    result = CliRunner().invoke(main, ["run", str(path), "--out", str(out / "o")])
    return assert_one_error_line(result.exit_code, result.stdout, result.stderr, out)


@pytest.mark.parametrize(
    "changes, needle",
    [
        ({"portfolio": {"cash_yield": "NOPE"}}, "portfolio.cash_yield: "),
        ({"stats": {"risk_free": "NOPE"}}, "stats.risk_free: "),
        ({"execution": {"tolerance": 1}}, "execution.tolerance: must be below 1"),
        ({"execution": {"tolerance": -0.01}}, "execution.tolerance: must be at least 0"),
        ({"portfolio": {"cash_yield": -0.5}}, "portfolio.cash_yield: must be above -0.5"),
        ({"portfolio": {"cash_yield": 1.5}}, "portfolio.cash_yield: must be at most 1"),
        ({"portfolio": {"cash_yield": "bil"}}, "portfolio.cash_yield: write 'bil' in capitals"),
        ({"benchmark": {"weights": {"AAA": 1.0}, "rebalnce": "monthly"}}, "benchmark.rebalnce"),
        ({"benchmark": {"rebalance": "monthly"}}, "benchmark.weights: required"),
        (
            {"execution": {"rebalance": "weekly"}},
            "execution.rebalance: must be none, monthly, quarterly, annual or {threshold: x}, "
            "not 'weekly'",
        ),
        ({"execution": {"rebalance": 7}}, "execution.rebalance: must be none, monthly, quarte"),
        (
            {"benchmark": {"weights": {"AAA": 1.0}, "rebalance": "biweekly"}},
            "benchmark.rebalance: must be none, monthly, quarterly, annual or {threshold: x}",
        ),
    ],
)
def test_bad_money_keys_are_one_line_naming_the_field(tmp_path, changes, needle):
    line = _cli(tmp_path, changes)
    assert needle in line, line


def test_a_rate_ticker_without_a_price_on_a_backtest_date_is_refused(tmp_path):
    late = TBL.iloc[2:]  # from Jan 4: no price on Jan 2 and 3 (gaps inside are filled)
    line = _cli(tmp_path, {"portfolio": {"cash_yield": "TBL"}}, FLAT | {"TBL": late})
    assert "portfolio.cash_yield: TBL has no price on 2 of the dates it is read on, first " in line
    assert "2024-01-02; a cash-yield ticker needs a price on every backtest date" in line


def test_a_risk_free_ticker_needs_the_date_before_the_first(tmp_path):
    late = TBL.iloc[1:]  # from Jan 3, the first backtest date: not on Jan 2, the date before
    changes = {"stats": {"risk_free": "TBL"}, "data": {"start": "2024-01-03"}}
    line = _cli(tmp_path, changes, FLAT | {"TBL": late})
    assert (
        "stats.risk_free: TBL has no price on 1 of the dates it is read on, first 2024-01-02"
        in line
    )
    assert "and on the trading date before the first" in line


def test_errors_do_not_hide_behind_each_other():
    raw = merge(BASE, {"execution": {"tolerance": 2}, "portfolio": {"cash_yield": 3}})
    with pytest.raises(Exception) as caught:
        config_from_dict(raw, "<t>")
    text = str(caught.value)
    assert "execution.tolerance" in text and "portfolio.cash_yield" in text
