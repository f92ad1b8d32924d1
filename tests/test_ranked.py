"""Ranked allocations and the decision schedule (issue 12; docs/semantics.md §7-9).

1. Bad rank blocks, scores and schedules stop `rotation run` with one `Error:` line
   naming the field, exit code 2.
2. The decision schedule on hand-picked dates (engine.calendar.decision_mask,
   engine.targets.decision_schedule and scheduled).
3. strategies.ranking.rank_assets on cases computed by hand, and many parameter sets
   at once equal to one at a time.

Sweeps, no look-ahead, walk-forward and the audit on ranked configs:
tests/test_ranked_engine.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from engine.calendar import decision_mask
from engine.cli import main
from engine.targets import decision_schedule, scheduled
from strategies.ranking import rank_assets

NAN = float("nan")

# ---------------------------------------------------------------- 1. bad input


def write_prices(folder: Path, tickers, days: int = 120, seed: int = 0) -> Path:
    """Random-walk CSVs (Yahoo's columns) for `tickers` on weekdays from 2022-01-03."""
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2022-01-03", periods=days)
    for ticker in tickers:
        close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, days)))
        frame = pd.DataFrame(
            {
                "Date": dates.strftime("%Y-%m-%d"),
                "Open": close,
                "High": close * 1.005,
                "Low": close * 0.995,
                "Close": close,
                "Adj Close": close,
                "Volume": 1000.0,
            }
        )
        frame.to_csv(folder / f"{ticker}.csv", index=False)
    return folder


def ranked_raw() -> dict:
    """A valid ranked config: top 1 of SPY, EFA, EEM by 20-bar momentum, else AGG."""
    return {
        "name": "ranked",
        "data": {"source": "csv", "start": "2022-03-01"},
        "universe": ["SPY", "EFA", "EEM", "AGG"],
        "signals": {"trend": {"type": "sma", "series": "SPY", "window": 10}},
        "scores": {"mom": {"type": "momentum", "lookback": 20}},
        "regimes": [
            {
                "name": "stocks",
                "when": "trend",
                "rank": {"assets": ["SPY", "EFA", "EEM"], "score": "mom", "top": 1},
            },
            {"name": "bonds", "weights": {"AGG": 1.0}},
        ],
        "execution": {"decide": "monthly"},
    }


@pytest.fixture(scope="module")
def price_dir(tmp_path_factory) -> Path:
    return write_prices(tmp_path_factory.mktemp("prices"), ["SPY", "EFA", "EEM", "AGG"])


def run_cli(raw: dict, tmp_path: Path, price_dir: Path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    out = tmp_path / "runs" / "run"
    result = CliRunner().invoke(
        main, ["run", str(path), "--data-dir", str(price_dir), "--out", str(out)]
    )
    return result, out


def assert_one_error_line(result, out: Path, *needles: str) -> str:
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = result.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert not out.exists()
    return lines[0]


def test_the_valid_ranked_config_runs(tmp_path, price_dir):
    """The base of the bad-input cases below is itself good (each case breaks one thing)."""
    result, out = run_cli(ranked_raw(), tmp_path, price_dir)
    assert result.exit_code == 0, result.output
    assert (out / "stats.json").is_file()


def _both(raw):
    raw["regimes"][0]["weights"] = {"SPY": 1.0}


def _neither(raw):
    del raw["regimes"][0]["rank"]


def _asset_outside(raw):
    raw["regimes"][0]["rank"]["assets"] = ["SPY", "QQQ"]


def _fallback_outside(raw):
    raw["regimes"][0]["rank"]["fallback"] = "IEF"


def _top_zero(raw):
    raw["regimes"][0]["rank"]["top"] = 0


def _top_above_assets(raw):
    raw["regimes"][0]["rank"]["top"] = 4


def _unknown_score(raw):
    raw["regimes"][0]["rank"]["score"] = "mon"


def _inverse_vol_without_window(raw):
    raw["regimes"][0]["rank"]["weighting"] = "inverse_vol"


def _unknown_decide(raw):
    raw["execution"]["decide"] = "hourly"


def _unknown_score_type(raw):
    raw["scores"]["mom"]["type"] = "momentun"


def _filter_with_series(raw):
    raw["regimes"][0]["rank"]["filter"] = {"type": "sma", "series": "SPY", "window": 10}


BAD = {
    "weights-and-rank": (_both, ["regimes[0]:", "both `weights` and `rank`"]),
    "neither": (_neither, ["regimes[0]:", "neither `weights` and `rank`"]),
    "asset-outside-universe": (_asset_outside, ["regimes[0].rank.assets", "'QQQ'"]),
    "fallback-outside-universe": (_fallback_outside, ["regimes[0].rank.fallback", "'IEF'"]),
    "top-below-1": (_top_zero, ["regimes[0].rank.top"]),
    "top-above-assets": (_top_above_assets, ["regimes[0].rank.top", "3 assets"]),
    "unknown-score": (_unknown_score, ["regimes[0].rank.score", "did you mean 'mom'"]),
    "inverse-vol-without-window": (_inverse_vol_without_window, ["regimes[0].rank.vol_window"]),
    "unknown-decide": (_unknown_decide, ["execution.decide"]),
    "unknown-score-type": (_unknown_score_type, ["scores.mom.type", "did you mean 'momentum'"]),
    "filter-with-series": (_filter_with_series, ["regimes[0].rank.filter", "series"]),
}


@pytest.mark.parametrize("case", BAD)
def test_a_bad_ranked_config_is_one_error_line_naming_the_field(case, tmp_path, price_dir):
    edit, needles = BAD[case]
    raw = ranked_raw()
    edit(raw)
    result, out = run_cli(raw, tmp_path, price_dir)
    assert_one_error_line(result, out, "bad.yaml", *needles)


def test_a_min_score_ticker_without_data_is_one_error_line_naming_it(tmp_path, price_dir):
    raw = ranked_raw()
    raw["regimes"][0]["rank"] |= {"min_score": "BIL", "fallback": "AGG"}
    result, out = run_cli(raw, tmp_path, price_dir)
    # Names the field, the ticker and its missing file.
    assert_one_error_line(result, out, "regimes[0].rank.min_score:", "'BIL'", "BIL.csv")


def test_a_correlation_filter_paired_with_a_ranked_asset_is_refused(tmp_path, price_dir):
    raw = ranked_raw()
    raw["regimes"][0]["rank"]["filter"] = {
        "type": "correlation",
        "other": "SPY",  # SPY is also a candidate: its correlation with itself
        "window": 5,
        "above": 0.1,
    }
    result, out = run_cli(raw, tmp_path, price_dir)
    assert_one_error_line(result, out, "regimes[0].rank.filter.other:", "also a ranked asset")


def test_a_boolean_min_score_is_one_error_naming_the_field(tmp_path, price_dir):
    raw = ranked_raw()
    raw["regimes"][0]["rank"]["min_score"] = True
    result, out = run_cli(raw, tmp_path, price_dir)
    line = assert_one_error_line(result, out, "regimes[0].rank.min_score:", "true")
    assert "function-after" not in line


# ---------------------------------------------------------------- 2. decision schedule


def us_dates(*spans: tuple[str, str], closed=()) -> pd.DatetimeIndex:
    """Weekdays of the spans without the dates `closed` (exchange holidays)."""
    dates = pd.DatetimeIndex([])
    for first, last in spans:
        dates = dates.union(pd.bdate_range(first, last))
    return dates.difference(pd.DatetimeIndex(closed))


YEAR_END = us_dates(("2024-12-16", "2025-01-10"), closed=["2024-12-25", "2025-01-01", "2025-01-09"])


def decided(dates: pd.DatetimeIndex, decide: str) -> list[str]:
    return [str(d.date()) for d in dates[decision_mask(dates, decide)]]


def test_weekly_decisions_follow_iso_weeks_across_a_year_end():
    # Mon 2024-12-30 and Tue 2024-12-31 are in ISO week 1 of 2025, with Thu 2025-01-02
    # and Fri 2025-01-03: the week ends on Friday 2025-01-03, not on 2024-12-31.
    # 2025-01-10 is the last date of the data: never the end of a week.
    assert decided(YEAR_END, "weekly") == ["2024-12-20", "2024-12-27", "2025-01-03"]


def test_monthly_decisions_are_the_last_date_of_each_month():
    assert decided(YEAR_END, "monthly") == ["2024-12-31"]  # not 2025-01-10: the last date
    dates = us_dates(("2024-05-20", "2024-06-07"), closed=["2024-05-27"])
    assert decided(dates, "monthly") == ["2024-05-31"]


def test_a_holiday_friday_moves_the_weekly_decision_to_thursday():
    # Good Friday 2024-03-29: Thursday 2024-03-28 ends ISO week 13.
    dates = us_dates(("2024-03-18", "2024-04-09"), closed=["2024-03-29"])
    assert decided(dates, "weekly") == ["2024-03-22", "2024-03-28", "2024-04-05"]


def test_daily_decides_on_every_date_including_the_last():
    assert decision_mask(YEAR_END, "daily").all()


@pytest.mark.parametrize("decide", ["weekly", "monthly"])
def test_the_final_date_is_never_a_weekly_or_monthly_decision(decide):
    # Data ending exactly on a Friday that is also a month end still has no next date.
    dates = us_dates(("2024-05-01", "2024-05-31"), closed=["2024-05-27"])
    mask = decision_mask(dates, decide)
    assert not mask[-1]
    assert decision_mask(dates[:1], decide).tolist() == [False]


def test_an_unknown_schedule_is_refused():
    with pytest.raises(ValueError, match="hourly"):
        decision_mask(YEAR_END, "hourly")


def test_decision_schedule_points_each_row_at_its_latest_decision():
    cal = us_dates(("2024-01-22", "2024-03-08"))  # decisions: 2024-01-31, 2024-02-29
    jan31, feb29 = cal.get_loc(pd.Timestamp("2024-01-31")), cal.get_loc(pd.Timestamp("2024-02-29"))
    rows = np.arange(len(cal))
    schedule = decision_schedule(cal, "monthly", rows)
    assert schedule.decisions.tolist() == [jan31, feb29]
    expected = np.where(rows < jan31, -1, np.where(rows < feb29, 0, 1))
    assert schedule.source.tolist() == expected.tolist()

    # Rows after 2024-02-29 only read the decision taken before them, also before start.
    later = np.arange(feb29 + 1, len(cal))
    schedule = decision_schedule(cal, "monthly", later)
    assert schedule.decisions.tolist() == [feb29]
    assert schedule.source.tolist() == [0] * len(later)


def test_scheduled_holds_decisions_and_the_default_before_the_first():
    cal = us_dates(("2024-03-18", "2024-04-09"), closed=["2024-03-29"])
    schedule = decision_schedule(cal, "weekly", np.arange(len(cal)))
    assert [str(d.date()) for d in cal[schedule.decisions]] == [
        "2024-03-22",
        "2024-03-28",
        "2024-04-05",
    ]
    codes = np.array([[0, 1, 0], [1, 1, 0]])  # two combinations, regime per decision
    out = scheduled(codes, schedule, default=2)
    # rows: Mar 18-21 (before any decision), 22 | 25-27, 28 | Apr 1-4, 5 | 8, 9
    first = [2, 2, 2, 2]
    assert out[0].tolist() == first + [0, 0, 0, 0] + [1, 1, 1, 1, 1] + [0, 0, 0]
    assert out[1].tolist() == first + [1, 1, 1, 1] + [1, 1, 1, 1, 1] + [0, 0, 0]
    none = decision_schedule(cal[:3], "weekly", np.arange(3))  # no decision date at all
    assert scheduled(np.zeros((2, 0), dtype=np.int64), none, 1).tolist() == [[1, 1, 1]] * 2


# ---------------------------------------------------------------- 3. rank_assets


def test_equal_scores_keep_the_order_of_assets():
    ranking = rank_assets(np.array([[1.0, 2.0, 2.0, 0.0]]), top=2)
    assert ranking.rank.tolist() == [[3, 1, 2, 4]]
    assert ranking.selected.tolist() == [[False, True, True, False]]
    assert ranking.weight.tolist() == [[0.0, 0.5, 0.5, 0.0]]
    lowest = rank_assets(np.array([[2.0, 1.0, 1.0, 3.0]]), top=1, lowest=True)
    assert lowest.rank.tolist() == [[3, 1, 2, 4]]
    assert lowest.weight.tolist() == [[0.0, 1.0, 0.0, 0.0]]


def test_fewer_eligible_than_top_leaves_empty_slots_to_the_fallback():
    ranking = rank_assets(np.array([[NAN, 0.1, NAN]]), top=2)
    assert ranking.eligible.tolist() == [[False, True, False]]
    assert ranking.rank.tolist() == [[0, 1, 0]]
    assert ranking.weight.tolist() == [[0.0, 0.5, 0.0]]
    assert ranking.fallback.tolist() == [0.5]
    nothing = rank_assets(np.array([[NAN, NAN, NAN]]), top=2)
    assert nothing.weight.sum() == 0 and nothing.fallback.tolist() == [1.0]


# The worked example of docs/semantics.md §8: SPY, EFA, EEM, VNQ; top 2, inverse_vol.
SCORES = np.array([[0.120, 0.015, 0.010, NAN]])
VOLS = np.array([[0.0100, 0.0150, 0.0200, 0.0120]])


def test_inverse_vol_splits_the_filled_slots_by_one_over_volatility():
    ranking = rank_assets(SCORES, top=2, vol=VOLS)
    assert ranking.selected.tolist() == [[True, True, False, False]]
    np.testing.assert_allclose(ranking.weight, [[0.6, 0.4, 0.0, 0.0]], rtol=1e-12)
    assert ranking.fallback == pytest.approx([0.0])


def test_the_worked_example_min_score_ticker_and_exposure():
    ranking = rank_assets(SCORES, top=2, vol=VOLS, threshold=np.array([0.020]))
    assert ranking.failed.tolist() == [[False, True, False, False]]  # EFA 0.015 <= 0.020
    np.testing.assert_allclose(ranking.weight, [[0.6, 0.0, 0.0, 0.0]], rtol=1e-12)
    assert ranking.fallback == pytest.approx([0.4])  # EEM does not move up
    scaled = rank_assets(SCORES, top=2, exposure=0.8, vol=VOLS, threshold=np.array([0.020]))
    np.testing.assert_allclose(scaled.weight, [[0.48, 0.0, 0.0, 0.0]], rtol=1e-12)
    assert scaled.fallback == pytest.approx([0.32])
    equal = rank_assets(SCORES, top=2, threshold=np.array([0.020]))
    assert equal.weight.tolist() == [[0.5, 0.0, 0.0, 0.0]] and equal.fallback == [0.5]


def test_a_lone_eligible_asset_keeps_one_slot_whatever_its_volatility():
    vols = np.array([[0.0100, NAN, 0.0, 0.0120]])  # EFA undefined, EEM zero: not eligible
    ranking = rank_assets(SCORES, top=2, vol=vols)
    assert ranking.eligible.tolist() == [[True, False, False, False]]
    assert ranking.weight.tolist() == [[0.5, 0.0, 0.0, 0.0]]
    assert ranking.fallback.tolist() == [0.5]


def test_a_number_min_score_passes_only_strictly_above_it():
    score = np.array([[0.03, 0.02, 0.01]])
    ranking = rank_assets(score, top=3, threshold=0.02)
    assert ranking.failed.tolist() == [[False, True, True]]  # 0.02 <= 0.02 fails
    np.testing.assert_allclose(ranking.weight, [[1 / 3, 0, 0]])
    assert ranking.fallback == pytest.approx([2 / 3])


def test_a_per_date_threshold_and_an_undefined_one_fail_every_pick():
    score = np.array([[0.05, 0.01], [0.05, 0.01], [0.05, 0.01]])
    ranking = rank_assets(score, top=2, threshold=np.array([0.0, 0.03, NAN]))
    assert ranking.failed.tolist() == [[False, False], [False, True], [True, True]]
    assert ranking.weight.tolist() == [[0.5, 0.5], [0.5, 0.0], [0.0, 0.0]]
    assert ranking.fallback.tolist() == [0.0, 0.5, 1.0]


def test_a_failed_filter_keeps_its_slot_and_the_next_asset_stays_out():
    score = np.array([[0.3, 0.2, 0.1]])
    passed = np.array([[False, True, True]])
    ranking = rank_assets(score, top=1, passed=passed)
    assert ranking.selected.tolist() == [[True, False, False]]
    assert ranking.failed.tolist() == [[True, False, False]]
    assert ranking.weight.tolist() == [[0.0, 0.0, 0.0]] and ranking.fallback.tolist() == [1.0]
    # a failing filter on an unselected asset changes nothing
    other = rank_assets(score, top=1, passed=np.array([[True, False, False]]))
    assert other.weight.tolist() == [[1.0, 0.0, 0.0]] and other.fallback.tolist() == [0.0]


def test_exposure_below_one_scales_every_slot_and_leaves_the_rest_in_cash():
    score = np.array([[0.3, NAN, 0.1, 0.2]])
    ranking = rank_assets(score, top=2, exposure=0.6, threshold=0.15)
    # slots 0.3 each: asset 0 (0.3) passes, asset 3 (0.2) passes, asset 2 is third
    np.testing.assert_allclose(ranking.weight, [[0.3, 0, 0, 0.3]])
    assert ranking.fallback == pytest.approx([0.0])
    three = rank_assets(score, top=4, exposure=0.6, threshold=0.15)  # one failed, one empty
    np.testing.assert_allclose(three.weight, [[0.15, 0, 0, 0.15]])
    assert three.fallback == pytest.approx([0.3])


def test_order_lowest_still_fails_a_score_at_or_below_min_score():
    score = np.array([[0.05, -0.01, 0.02]])
    ranking = rank_assets(score, top=1, lowest=True, threshold=0.0)
    assert ranking.selected.tolist() == [[False, True, False]]  # lowest score first
    assert ranking.failed.tolist() == [[False, True, False]]  # -0.01 <= 0: fails
    assert ranking.fallback.tolist() == [1.0]
    two = rank_assets(score, top=2, lowest=True, threshold=0.0)
    assert two.rank.tolist() == [[3, 1, 2]]
    assert two.weight.tolist() == [[0.0, 0.0, 0.5]] and two.fallback.tolist() == [0.5]


def test_many_parameter_sets_at_once_equal_one_at_a_time():
    rng = np.random.default_rng(7)
    dates, assets = 40, 5
    score = rng.normal(0, 0.05, (dates, assets))
    score[rng.random((dates, assets)) < 0.15] = NAN
    score[:, 3] = score[:, 1]  # ties
    vol = rng.uniform(0.005, 0.03, (dates, assets))
    vol[rng.random((dates, assets)) < 0.1] = NAN
    vol[0, 2] = 0.0
    passed = rng.random((dates, assets)) < 0.8
    sets = [(1, 1.0, 0.0), (2, 0.5, NAN), (3, 0.9, -0.02), (5, 1.0, 0.01), (2, 0.75, 0.0)]
    top = np.array([s[0] for s in sets])
    exposure = np.array([s[1] for s in sets])
    threshold = np.array([np.full(dates, s[2]) for s in sets])  # [sets, D]
    threshold[2, ::3] = NAN  # a per-date threshold undefined on some dates
    for lowest in (False, True):
        for v in (None, vol):
            many = rank_assets(
                np.broadcast_to(score, (len(sets), dates, assets)),
                top,
                exposure,
                lowest=lowest,
                vol=v,
                threshold=threshold,
                passed=passed,
            )
            total = many.weight.sum(axis=-1) + many.fallback
            np.testing.assert_allclose(total, np.broadcast_to(exposure[:, None], total.shape))
            for s in range(len(sets)):
                one = rank_assets(
                    score,
                    int(top[s]),
                    float(exposure[s]),
                    lowest=lowest,
                    vol=v,
                    threshold=threshold[s],
                    passed=passed,
                )
                for field in ("eligible", "rank", "selected", "failed"):
                    assert np.array_equal(getattr(many, field)[s], getattr(one, field)), field
                np.testing.assert_allclose(many.weight[s], one.weight, rtol=0, atol=1e-15)
                np.testing.assert_allclose(many.fallback[s], one.fallback, rtol=0, atol=1e-15)
