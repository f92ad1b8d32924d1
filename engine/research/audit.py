"""Look-ahead audit: no-look-ahead test (a) of docs/semantics.md §3, on a real config and prices.

For each of K random cut dates t among the backtest dates, every bar not yet
complete at the close of t is multiplied by a random walk, and the config is
run again. Nothing decided, held, traded or valued up to and including t may
change. The first thing that does change is reported: its date, and the
aligned signal columns that differ on that date (a signal that reads the
future shows up there first).

Which bars are "not yet complete" is judged by their label dates, never by the
config's `data.close_times` (the audit must not trust the timing it checks):
every bar dated after t, and the bar dated t of a series that trades around
the clock (crypto, `market_calendar.is_crypto`: its UTC day ends after the
equity close) unless a crypto asset is traded, when the close of t is itself
the end of that UTC day. A close-time override that uses a bar before its day
is over (ETH's bar at 16:00 New York on its own date) then shows up as a leak.

External series (`data.series`, docs/series.md) are judged by release: every value
whose release date (its date + lag_days, final at 16:00 New York) is after t is
moved, also one dated before t. As a monthly value is read one release at a time,
a peek of a few days shows only on the dates just before a release: so about half
of the cuts of such a config are drawn from its release eves (the last candidate
date before each release), the rest at random.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine.calendar import decision_mask
from engine.config import Config
from engine.data import MemorySource, PriceSource
from engine.data.market_calendar import is_crypto
from engine.data.series import External, load_series

NOISE_JUMP = 1.0  # std of the log level jump at the first rewritten bar (per ticker)
NOISE_STEP = 0.03  # daily std of the log random walk after it


@dataclass(frozen=True)
class CutResult:
    """What changed up to one cut date t (nothing, when clean)."""

    cut: pd.Timestamp
    clean: bool
    first_date: pd.Timestamp | None = None  # earliest date <= t on which anything changed
    signals: list[str] = field(default_factory=list)  # signal columns differing on first_date
    items: list[str] = field(default_factory=list)  # what differs on first_date
    bars_changed: int = 0  # bars rewritten (a guard that the cut is not vacuous)

    def as_dict(self) -> dict:
        return {
            "cut": str(self.cut.date()),
            "clean": self.clean,
            "first_date": str(self.first_date.date()) if self.first_date is not None else None,
            "signals": self.signals,
            "items": self.items,
            "bars_changed": self.bars_changed,
        }


@dataclass(frozen=True)
class AuditReport:
    """What `rotation audit` found.

    Attributes:
        config: the config audited (its file as given, else its name).
        seed: the seed of the cut dates and the noise.
        cuts: one result per cut date, in date order: clean, or the first date and
            the signals or items that changed up to the cut.
    """

    config: str
    seed: int
    cuts: list[CutResult]

    @property
    def clean(self) -> bool:
        return all(c.clean for c in self.cuts)

    @property
    def first_leak(self) -> CutResult | None:
        """The leaking cut whose change comes earliest (None when clean)."""
        leaks = [c for c in self.cuts if not c.clean]
        return min(leaks, key=lambda c: (c.first_date, c.cut)) if leaks else None

    def as_dict(self) -> dict:
        leak = self.first_leak
        return {
            "config": self.config,
            "seed": self.seed,
            "clean": self.clean,
            "first_leak": leak.as_dict() if leak else None,
            "cuts": [c.as_dict() for c in self.cuts],
        }


def bars_after(
    prices: dict[str, pd.DataFrame], universe: list[str], t: pd.Timestamp
) -> dict[str, np.ndarray]:
    """Per ticker, which bars are not yet complete at the close of cut date `t`, by label date.

    Bars dated after `t`; with no crypto asset traded (the close of `t` is an
    equity close), also a crypto bar dated `t`, whose UTC day is still running.
    """
    crypto_day_running = not any(is_crypto(ticker) for ticker in universe)
    out = {}
    for ticker, frame in prices.items():
        later = frame.index > t
        if crypto_day_running and is_crypto(ticker):
            later = frame.index >= t
        out[ticker] = np.asarray(later)
    return out


def random_walks(later: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per ticker, a log factor for each bar: 0 where `later` is False, a random walk where True.

    A level jump at the first such bar (normal, std NOISE_JUMP, drawn per ticker
    so ratios of two tickers jump too) plus a random walk (daily std NOISE_STEP).
    """
    out = {}
    for ticker, mask in later.items():
        log_factor = np.zeros(len(mask))
        count = int(mask.sum())
        if count:
            walk = np.cumsum(rng.normal(0.0, NOISE_STEP, count)) + rng.normal(0.0, NOISE_JUMP)
            log_factor[mask] = walk
        out[ticker] = log_factor
    return out


def perturbed(prices: dict[str, pd.DataFrame], log_factors: dict[str, np.ndarray], sign: float):
    """Prices with every bar scaled by exp(sign * log factor).

    The whole bar (Open, High, Low, Close) is multiplied by the same positive
    factor, so prices stay positive and Low <= Open, Close <= High still holds.
    """
    out = {}
    for ticker, frame in prices.items():
        factor = np.exp(sign * log_factors[ticker])
        if np.any(factor != 1.0):
            frame = frame.copy()
            for column in ("Open", "High", "Low", "Close"):
                frame[column] = frame[column].to_numpy() * factor
        out[ticker] = frame
    return out


def released_after(series: dict[str, External], t: pd.Timestamp) -> dict[str, np.ndarray]:
    """Per external series, which values are released after the close of cut date `t`:
    release date (date + lag_days, at 16:00 New York) after `t`. Released on `t` itself
    is final by t's close (an equity close is 16:00 New York, a crypto close later)."""
    return {name: np.asarray(s.released > t) for name, s in series.items()}


def shifted(series: dict[str, External], walks: dict[str, np.ndarray], sign: float) -> dict:
    """The series with each value moved by sign * walk * scale, scale the spread of its
    values (their std, else their mean size, else 1): additive, so a rate at zero or
    below moves too."""
    out = {}
    for name, s in series.items():
        values = s.values.to_numpy()
        scale = float(np.std(values)) or float(np.mean(np.abs(values))) or 1.0
        moved = s.values + sign * scale * walks[name]
        out[name] = External(name, moved, s.lag_days, s.sha256, s.file, s.dropped)
    return out


def release_eves(series: dict[str, External], candidates: pd.DatetimeIndex) -> list[int]:
    """Positions in `candidates` of the last candidate before each release date of the
    series that falls after the first candidate and by the last (where a value read a
    day early would first change a decision)."""
    eves: set[int] = set()
    if not len(candidates):
        return []
    for s in series.values():
        before = np.searchsorted(candidates.asi8, s.released.asi8, side="left") - 1
        inside = (before >= 0) & np.asarray(s.released <= candidates[-1])
        eves.update(int(i) for i in before[inside])
    return sorted(eves)


def pick_cuts(count: int, candidates, series: dict, rng: np.random.Generator) -> list[int]:
    """`count` cut positions in `candidates`, seeded, without replacement; with external
    series, (count + 1) // 2 of them among their release eves, the rest among all."""
    if not series:  # the draw every config without external series has always had
        return list(np.sort(rng.choice(len(candidates), size=count, replace=False)))
    eves = release_eves(series, candidates)
    size = min((count + 1) // 2, len(eves))
    chosen = [eves[i] for i in rng.choice(len(eves), size=size, replace=False)]
    rest = np.setdiff1d(np.arange(len(candidates)), chosen)
    size = min(count - len(chosen), len(rest))
    chosen += [int(rest[i]) for i in rng.choice(len(rest), size=size, replace=False)]
    return sorted(chosen)


def _first_difference(a, b, upto: pd.Timestamp) -> pd.Timestamp | None:
    """Earliest index label <= upto where two frames/series (same index) differ, else None."""
    a, b = a.loc[a.index <= upto], b.loc[b.index <= upto]
    if a.shape != b.shape or not a.index.equals(b.index):
        return a.index[0] if len(a) else upto
    left, right = np.asarray(a.to_numpy(), dtype=object), np.asarray(b.to_numpy(), dtype=object)
    same = (left == right) | (pd.isna(a).to_numpy() & pd.isna(b).to_numpy())
    if same.ndim > 1:
        same = same.all(axis=1)
    where = np.flatnonzero(~same)
    return a.index[where[0]] if len(where) else None


def _first_trade_difference(a: pd.DataFrame, b: pd.DataFrame, upto: pd.Timestamp):
    a = a[a["date"] <= upto].reset_index(drop=True)
    b = b[b["date"] <= upto].reset_index(drop=True)
    if a.equals(b):
        return None
    n = min(len(a), len(b))
    for i in range(n):
        if not a.iloc[i].equals(b.iloc[i]):
            return min(a["date"].iloc[i], b["date"].iloc[i])
    return a["date"].iloc[n] if len(a) > n else b["date"].iloc[n]


def compare_upto(
    base, changed, t: pd.Timestamp
) -> tuple[pd.Timestamp | None, list[str], list[str]]:
    """(earliest date <= t where anything differs, differing signals then, differing items then)."""
    found: dict[str, pd.Timestamp] = {}
    for name in base.signals.columns:
        when = _first_difference(base.signals[name], changed.signals[name], t)
        if when is not None:
            found[f"signal {name}"] = when
    for label, a, b in (
        ("regime", base.regimes, changed.regimes),
        ("targets", base.targets, changed.targets),
        ("orders", base.orders, changed.orders),
        # ranked regimes: every candidate's score, eligibility, rank and weight, by date
        ("ranks", base.ranks.set_index("date"), changed.ranks.set_index("date")),
    ):
        when = _first_difference(a, b, t)
        if when is not None:
            found[label] = when
    for name in ("strategy", "benchmark"):
        a, b = getattr(base, name), getattr(changed, name)
        for label, x, y in (
            ("shares", a.shares, b.shares),
            ("cash", a.cash, b.cash),
            ("value", a.value, b.value),
        ):
            when = _first_difference(x, y, t)
            if when is not None:
                found[f"{name} {label}"] = when
        when = _first_trade_difference(a.trades, b.trades, t)
        if when is not None:
            found[f"{name} trades"] = when
    if not found:
        return None, [], []
    first = min(found.values())
    items = [k for k, v in found.items() if v == first]
    signals = [k.removeprefix("signal ") for k in items if k.startswith("signal ")]
    return first, signals, items


def audit(
    config: Config, source: PriceSource, cuts: int = 5, seed: int = 0, origin: str = ""
) -> AuditReport:
    """Rerun `config` with the prices after `cuts` random cut dates replaced by noise.

    "After" a cut t means the bars not yet complete at the close of t by their
    label dates (`bars_after`), whatever `data.close_times` claims. Each cut is
    run twice, with the future scaled by exp(+noise) and by exp(-noise) (an
    antithetic pair), so a signal that peeks at a future bar sees it both far
    above and far below where it was, and flips one way or the other. The cut
    dates are drawn (seeded) without replacement from the backtest dates except
    the last (after which nothing in the backtest could change); under a `decide`
    other than daily from the decision dates among them, since a decision held between
    decision dates reads no new bar (a one-bar peek shows only at a decision date).
    External series are read from their files once; at each cut every value released
    after it is moved too (`released_after`, `shifted`, in the same antithetic pair),
    and half the cuts fall on release eves (`pick_cuts`).
    """
    from engine.runner import run_backtest

    prices = source.load(config.tickers())
    series = load_series(config)
    memory = MemorySource(prices)
    base = run_backtest(config, memory, series)
    rng = np.random.default_rng(seed)
    candidates = base.dates[:-1]
    if config.execution.decide != "daily":
        deciding = decision_mask(base.calendar, config.execution.decide, config.execution.day)
        on = candidates[deciding[base.calendar.get_indexer(candidates)]]
        candidates = on if len(on) else candidates
    count = min(cuts, len(candidates))
    picks = pick_cuts(count, candidates, series, rng) if count else []
    results = []
    for pick in picks:
        t = candidates[pick]
        log_factors = random_walks(bars_after(prices, list(config.universe), t), rng)
        walks = random_walks(released_after(series, t), rng)  # {} without external series
        moves = [*log_factors.values(), *walks.values()]
        changed_bars = sum(int(np.count_nonzero(f)) for f in moves)
        found = []
        for sign in (1.0, -1.0):  # an antithetic pair: the future moved up, then down
            moved = MemorySource(perturbed(prices, log_factors, sign))
            rerun = run_backtest(config, moved, shifted(series, walks, sign))
            first, signals, items = compare_upto(base, rerun, t)
            if first is not None:
                found.append((first, signals, items))
        if found:
            first = min(f[0] for f in found)
            signals = sorted({s for f in found if f[0] == first for s in f[1]})
            items = sorted({i for f in found if f[0] == first for i in f[2]})
            results.append(CutResult(t, False, first, signals, items, changed_bars))
        else:
            results.append(CutResult(t, True, bars_changed=changed_bars))
    return AuditReport(config=origin or config.name, seed=seed, cuts=results)


def audit_table(report: AuditReport):
    """A rich Table: one row per cut, clean or the first thing that changed."""
    from rich.table import Table

    from engine.report import plain  # names and paths as typed, never read as markup

    verdict = "clean" if report.clean else "LEAKS"
    table = Table(
        title=f"Look-ahead audit: {verdict}", caption=plain(f"{report.config}, seed {report.seed}")
    )
    table.add_column("Cut date")
    table.add_column("Bars rewritten", justify="right")
    table.add_column("Up to the cut")
    for cut in report.cuts:
        if cut.clean:
            what = "nothing changed"
        else:
            what = f"changed on {cut.first_date.date()}: {', '.join(cut.items)}"
        table.add_row(str(cut.cut.date()), f"{cut.bars_changed:,}", plain(what))
    return table
