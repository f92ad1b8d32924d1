"""Independent reference implementation of the rotation backtest contract.

Written from /work/shared/SPEC.md alone (it imports nothing from the engine).
It is deliberately plain: explicit Python loops over days, no vectorisation
tricks, so that each line can be checked against a sentence of the SPEC.
The test suite compares the engine's numbers against these.

Entry point: ``reference_backtest(config, data_dir, config_dir)``.

Readings of points the SPEC leaves open (also listed in the module's report):
- ``donchian``: ``on`` is False until ``hi`` (``entry`` prior values) is defined;
  while ``lo`` (``exit`` prior values) is not yet defined the exit test cannot fire.
- ``sma``: the mean is computed with ``math.fsum`` (exactly rounded).
- On the first backtest date, when it is also the first date of ``C``, the
  "target decided on the previous date" is the default regime's weights; on the
  second backtest date this default counts as "the one before" for switch
  detection.
- ``data.close_times`` entries may omit ``tz`` (America/New_York) and
  ``day_offset`` (0). An unquoted YAML ``16:00`` arrives as the integer 960
  (YAML 1.1 base 60): integers below 1440 are minutes after midnight, larger ones
  seconds after midnight. A key may also name a ratio series ``A/B`` exactly.
- An order moving less than 1e-9 of V (the floating-point residue of
  rebalancing to the weights already held) is not a fill: it is neither
  executed, recorded nor counted in ``trade_dates``.
- ``time_in_regime`` lists every configured regime in config order (0.0 for
  regimes never decided).
- A statistic whose denominator is 0 (or which needs two returns where there is
  one) is NaN.
- Section 8 kinds are a value ``y`` (None where undefined) and two fixed bounds,
  run through one loop (``bounds_rule``): an undefined ``y`` keeps the state.
  ``correlation``'s "all n returns equal" is exact float equality of the computed
  returns; its bars are final at the later of the two legs' close times, or at an
  explicit ``close_times`` entry for the key ``series/other``.
- Sections 9 and 10 (scores, ranked allocations, decision schedule):
  - A score is aligned like a signal: the value of the latest bar whose close
    instant is <= the close instant of ``t``; that bar's value undefined, or no
    such bar, is NaN (an earlier defined bar is not used instead).
  - ``volatility`` is the two-pass sample standard deviation (mean first, then
    the sum of squared deviations / (n - 1)) of the n returns, in plain floats.
  - ``min_score``: an int or float is a fixed threshold; a string is always a
    ticker (also one that looks like a number). The threshold ticker's score is
    computed on its own calendar with the same score spec and aligned like any
    score. ``filter`` is the signal spec with ``series`` set to the asset
    (``correlation``: ``series`` = the asset, ``other`` as given); a filter with
    no usable bar yet is False (fails), like any signal (section 4).
  - Both filters are checked for every selected asset; ``failed`` lists the ones
    that fail (``min_score`` first). Unselected assets are not tested.
  - Empty slots and failed slots go to ``fallback`` one slot at a time (failed
    selected slots in rank order first, then the empty slots), each added to
    whatever the fallback already has as a selected asset.
  - ``vol_window`` without ``inverse_vol`` is ignored; ``inverse_vol`` without
    ``vol_window`` is an error. A regime with both ``weights`` and ``rank`` is an
    error; one with neither is all cash (as before).
  - Every ranked regime is evaluated on every decision date (the decided one
    or not) for ``result["ranks"]``; only the decided regime's allocation is the
    target. ``result["ranks"]`` lists the decision dates of ``C`` up to the last
    backtest date, also those before ``start``.
  - The decided regime reported in ``result["regimes"]`` for a non-decision date
    is the one of the latest decision date (the default before the first one);
    ``switches`` and ``time_in_regime`` count these held regimes.
  - ISO weeks: ``datetime.date.isocalendar()``; "later" compares (ISO year,
    ISO week) / (year, month) tuples.
  - Two targets are the same when no weight differs by more than 1e-12 (the
    benchmark's fixed target is compared the same way).
- Section 11 (decision day, rank buffer, volatility target):
  - Quarters are (year, (month - 1) // 3); the periods of ``decide_day`` are walked
    one by one over C (``decision_flags``).
  - The rank buffer's "assets that held slots" are the previous decision date's
    selected assets, failed ones included; "kept" in the candidate rows marks an asset
    selected by the buffer alone (held before, ranked beyond ``top``, at most ``keep``).
  - The volatility target's sigma is the two-pass sample standard deviation of the n
    portfolio returns ``sum_i w_i r_i`` in plain floats, times sqrt(P).

- Section 11, the money keys:
  - Cash yield: ``c_j`` multiplies the cash at the start of backtest date j >= 1,
    before the date's orders; a ticker's c reads its closes on dates of C (``t-`` and
    ``t--``), 0 on the second date when C has no date before the first or the ticker
    no price there. ``cash_interest`` sums ``cash * c_j`` where the cash is more than
    1e-9 of the previous date's value (below it, the float residue of a fully
    invested portfolio). ``avg_exposure`` (with a cash yield or a volatility target)
    is the mean over the backtest dates of ``1 - cash / V`` at the close.
  - Risk-free ticker: ``rf_t = T_t / T(t-) - 1`` per backtest date, ``rf_d`` replaced
    by that list in every statistic that subtracts it.
  - No-trade band: ``h_i = q_i p_i / V`` at the execution prices; an asset whose order
    is not placed is left out of the sort (its shares held); exits (``w_i == 0``) and
    entries (``q_i == 0``, exact zeros) are placed when ``|w_i - h_i| > 1e-10``.
  - Benchmark long form: ``{weights, rebalance}``; without ``rebalance`` the
    strategy's rule. The benchmark ignores the band and earns the same cash yield.
- Section 12 (external series, ``data.series``):
  - ``file`` is relative to ``config_dir`` (the folder of the config file; the
    current folder when not given); without ``file``, ``<data_dir>/<NAME>.csv``.
  - The header row names the columns; ``Date`` and the value column (``column``,
    default ``Value``) are found by exact name, else ignoring letter case. A date
    cell's first 10 characters are the date.
  - An empty value cell (blank, ``null``, ``nan``, ``none``, ``n/a`` or ``.``, any
    letter case) drops its row before anything else; dates must then be strictly
    increasing (checked on the kept rows).
  - A value dated d is final at 16:00 America/New_York on d + ``lag_days`` (default 1).
  - An external series is a ``Series`` like a ticker's (no opens): a ratio with it
    uses the one ratio rule of section 1.

Outputs besides the values, trades and statistics:
- ``result["targets"]``: one dict per backtest date ``u``, keys ``date``
  (pd.Timestamp), ``decision`` (``u`` is a decision date), ``regime`` (decided
  regime of ``u``, held between decision dates), ``decided`` (the target decided
  at ``u``, held between decision dates: {ticker: weight} over the whole
  universe, cash is the rest), ``scale`` (the volatility target's scale of that
  target, 1.0 without one or before the first decision), ``traded_to`` (the
  target decided on the previous date of ``C``, or the before-first-decision
  target when there is none: what the portfolio trades to on ``u`` if it trades).
- ``result["ranks"]``: one dict per (decision date, ranked regime), in date
  then config order, keys ``date``, ``regime``, ``decided`` (this regime is the
  decided regime of the date), ``threshold`` (min_score threshold at the date:
  a float, NaN when the threshold ticker's score is undefined, None without
  ``min_score``), ``candidates`` (one dict per asset of ``assets`` in their
  order: ``ticker``, ``score`` (NaN if undefined), ``vol`` (the inverse-vol
  sigma, None without ``inverse_vol``), ``eligible``, ``rank`` (1-based among
  the eligible, None if not eligible), ``selected`` (holds a slot: in the first
  ``top``, or kept by the rank buffer), ``kept`` (holds it by the buffer alone),
  ``failed`` (list of "min_score" / "filter" that fail, [] if it passes, None if
  not selected), ``weight`` (the slot weight it carries, 0.0 if not selected)),
  ``weights`` ({ticker: weight} over the universe, fallback included).
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import math
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

NY = "America/New_York"


# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------


def _to_date(value) -> dt.date:
    """Accept 'YYYY-MM-DD' strings, datetime.date, datetime.datetime, pd.Timestamp."""
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value).strip())


def _is_crypto(ticker: str) -> bool:
    return ticker.endswith("-USD")


def _parse_time(value) -> dt.time:
    """'16:00' / '16:00:00' / datetime.time / YAML-1.1 sexagesimal integer."""
    if isinstance(value, dt.time):
        return value
    if isinstance(value, bool):
        raise ValueError(f"bad close time {value!r}")
    if isinstance(value, int):
        # PyYAML reads an unquoted 16:00 as 16*60 = 960 and 16:00:00 as 57600.
        seconds = value * 60 if value < 24 * 60 else value
        if not 0 <= seconds < 24 * 3600:
            raise ValueError(f"bad close time {value!r}")
        return dt.time(seconds // 3600, (seconds % 3600) // 60, seconds % 60)
    parts = [int(p) for p in str(value).strip().split(":")]
    while len(parts) < 3:
        parts.append(0)
    return dt.time(parts[0], parts[1], parts[2])


# --------------------------------------------------------------------------
# 1. Data
# --------------------------------------------------------------------------


class Series:
    """A daily series: its dates (ascending), adjusted open and close, and the
    close instant (UTC epoch seconds) of each bar."""

    def __init__(self, dates, open_, close, close_ts):
        self.dates = list(dates)  # list[datetime.date]
        self.open = list(open_)  # adjusted opens (None for ratios)
        self.close = list(close)  # adjusted closes
        self.close_ts = list(close_ts)  # UTC epoch seconds when the bar is final
        self.index = {d: i for i, d in enumerate(self.dates)}


def _load_csv(path: Path):
    """Return (dates, adjusted open, adjusted close) from one CSV file."""
    frame = pd.read_csv(path)
    dates = [dt.date.fromisoformat(str(s)[:10]) for s in frame["Date"]]
    close = [float(v) for v in frame["Close"]]
    open_ = [float(v) for v in frame["Open"]]
    if "Adj Close" in frame.columns:
        adj = [float(v) for v in frame["Adj Close"]]
        # adjusted close = Adj Close; Open scaled by Adj Close / Close
        adj_open = [o * (a / c) for o, a, c in zip(open_, adj, close, strict=False)]
        adj_close = adj
    else:  # already adjusted
        adj_open, adj_close = open_, close
    for i in range(1, len(dates)):
        if dates[i] <= dates[i - 1]:
            raise ValueError(f"{path}: dates not strictly ascending at {dates[i]}")
    return dates, adj_open, adj_close


EMPTY_CELLS = {"", "null", "nan", "none", "n/a", "."}


def _column(header: list[str], wanted: str) -> int:
    """Position of the column `wanted`: exact name, else ignoring letter case."""
    if wanted in header:
        return header.index(wanted)
    folded = [i for i, h in enumerate(header) if h.strip().lower() == wanted.lower()]
    if len(folded) != 1:
        raise ValueError(f"no column {wanted!r} in {header}")
    return folded[0]


def load_external(path: Path, column: str):
    """(dates, values) of an external series file (SPEC 12), empty cells dropped."""
    import csv

    with open(path, newline="", encoding="utf-8") as stream:
        rows = list(csv.reader(stream))
    header = [h.strip() for h in rows[0]]
    d_col, v_col = _column(header, "Date"), _column(header, column)
    dates, values = [], []
    for row in rows[1:]:
        if not row:
            continue
        cell = row[v_col].strip()
        if cell.lower() in EMPTY_CELLS:  # an empty value: the row is dropped
            continue
        value = float(cell)
        if not math.isfinite(value):
            raise ValueError(f"{path}: value {cell!r} is not finite")
        day = dt.date.fromisoformat(row[d_col].strip()[:10])
        if dates and day <= dates[-1]:
            raise ValueError(f"{path}: dates not strictly increasing at {day}")
        dates.append(day)
        values.append(value)
    return dates, values


class Data:
    """Loads tickers lazily from the data directory and knows close times."""

    def __init__(
        self,
        data_dir,
        close_time_overrides: dict | None,
        series: dict | None = None,
        config_dir=None,
    ):
        self.data_dir = Path(data_dir)
        self.overrides = dict(close_time_overrides or {})
        self.series = {str(k): dict(v or {}) for k, v in (series or {}).items()}
        self.config_dir = Path(config_dir) if config_dir is not None else Path(".")
        self._cache: dict[str, Series] = {}

    def _external(self, name: str) -> Series:
        """An external series (SPEC 12): the value dated d is final at 16:00 New York on
        d + lag_days."""
        spec = self.series[name]
        given = spec.get("file")
        path = self.config_dir / given if given else self.data_dir / f"{name}.csv"
        dates, values = load_external(path, str(spec.get("column") or "Value"))
        lag = int(spec.get("lag_days", 1))
        release = [d + dt.timedelta(days=lag) for d in dates]
        stamps = self._instants(release, (dt.time(16, 0), NY, 0))
        return Series(dates, [None] * len(dates), values, stamps)

    def _close_rule(self, name: str):
        """(time, tz, day_offset) for a ticker (never a ratio)."""
        if name in self.overrides:
            o = self.overrides[name]
            return (_parse_time(o["time"]), str(o.get("tz", NY)), int(o.get("day_offset", 0)))
        if _is_crypto(name):
            # yfinance labels a UTC day: bar d is final at 00:00 UTC of d+1
            return (dt.time(0, 0), "UTC", 1)
        # US equities / ETFs: 16:00 New York on the label date
        return (dt.time(16, 0), NY, 0)

    @staticmethod
    def _instants(dates, rule):
        t, tz, offset = rule
        zone = ZoneInfo(tz)
        return [
            dt.datetime.combine(d + dt.timedelta(days=offset), t, tzinfo=zone).timestamp()
            for d in dates
        ]

    def get(self, name: str) -> Series:
        """A ticker or a ratio 'A/B'."""
        if name in self._cache:
            return self._cache[name]
        if "/" in name:
            a_name, b_name = (s.strip() for s in name.split("/"))
            a, b = self.get(a_name), self.get(b_name)
            dates, closes, stamps = [], [], []
            for d in a.dates:  # exists on the dates both legs exist
                j = b.index.get(d)
                if j is None:
                    continue
                i = a.index[d]
                dates.append(d)
                closes.append(a.close[i] / b.close[j])
                # final at the later of the two legs' close times
                stamps.append(max(a.close_ts[i], b.close_ts[j]))
            if name in self.overrides:  # an explicit override of the ratio itself
                stamps = self._instants(dates, self._close_rule(name))
            series = Series(dates, [None] * len(dates), closes, stamps)
        elif name in self.series:
            series = self._external(name)
        else:
            path = self.data_dir / f"{name}.csv"
            if not path.exists():
                raise FileNotFoundError(f"no price file for {name}: {path}")
            dates, adj_open, adj_close = _load_csv(path)
            series = Series(
                dates, adj_open, adj_close, self._instants(dates, self._close_rule(name))
            )
        self._cache[name] = series
        return series


# --------------------------------------------------------------------------
# 3. Signals (boolean lists on the series' own calendar)
# --------------------------------------------------------------------------


def donchian(x: list[float], entry: int, exit: int) -> list[bool]:
    n, m = int(entry), int(exit)
    if n < 1 or m < 1:
        raise ValueError("donchian entry and exit must be >= 1")
    out: list[bool] = []
    prev = False
    for t in range(len(x)):
        if t < n:  # hi_t not defined: False
            on = False
        else:
            hi = max(x[t - n : t])  # x_{t-n} .. x_{t-1}
            if x[t] > hi:
                on = True
            elif t >= m and x[t] < min(x[t - m : t]):  # lo_t = min(x_{t-m} .. x_{t-1})
                on = False
            else:
                on = prev
        out.append(on)
        prev = on
    return out


def sma(x: list[float], window: int, band: float = 0.0) -> list[bool]:
    n, b = int(window), float(band)
    if n < 1:
        raise ValueError("sma window must be >= 1")
    out: list[bool] = []
    prev = False
    for t in range(len(x)):
        if t < n - 1:  # s_t not defined: False
            on = False
        else:
            s = math.fsum(x[t - n + 1 : t + 1]) / n  # mean(x_{t-n+1} .. x_t)
            if x[t] > s * (1 + b):
                on = True
            elif x[t] < s * (1 - b):
                on = False
            else:
                on = prev
        out.append(on)
        prev = on
    return out


# --------------------------------------------------------------------------
# 8. More signal kinds: a value y (None where undefined) and two fixed bounds
# --------------------------------------------------------------------------


def bounds_rule(y: list, upper: float, lower: float) -> list[bool]:
    """on_t = True if y_t > upper; False if y_t < lower; else on_{t-1}. Starts False;
    an undefined y (None) keeps the previous state."""
    out: list[bool] = []
    prev = False
    for value in y:
        if value is None:
            on = prev
        elif value > upper:
            on = True
        elif value < lower:
            on = False
        else:
            on = prev
        out.append(on)
        prev = on
    return out


def momentum_values(x: list[float], lookback, weights=None) -> list:
    """y_t = sum_j c_j (x_t / x_{t-L_j} - 1) / sum_j c_j; None until t >= max L_j."""
    lbs = [int(v) for v in lookback] if isinstance(lookback, (list, tuple)) else [int(lookback)]
    cs = [1.0] * len(lbs) if weights is None else [float(c) for c in weights]
    if len(cs) != len(lbs) or min(lbs) < 1 or min(cs) < 0 or sum(cs) <= 0:
        raise ValueError("momentum: bad lookback/weights")
    y: list = []
    for t in range(len(x)):
        if t < max(lbs):  # needs max L_j bars before t
            y.append(None)
            continue
        total = 0.0
        for L, c in zip(lbs, cs, strict=True):
            total += c * (x[t] / x[t - L] - 1.0)
        y.append(total / sum(cs))
    return y


def momentum(x, lookback, weights=None, threshold=0.0, band=0.0) -> list[bool]:
    theta, b = float(threshold), float(band)
    return bounds_rule(momentum_values(x, lookback, weights), theta + b, theta - b)


def rsi_values(x: list[float], window: int) -> list:
    """Wilder's RSI: first averages are plain means of the first n changes (bars 1..n),
    then AU_t = (AU_{t-1} (n-1) + U_t) / n; y = 100 - 100 / (1 + AU/AD), 100 when
    AD = 0 < AU, 50 when both are 0. None before bar n."""
    n = int(window)
    if n < 1:
        raise ValueError("rsi window must be >= 1")
    y: list = [None] * min(n, len(x))
    au = ad = 0.0
    for t in range(1, len(x)):
        d = x[t] - x[t - 1]
        up, down = max(d, 0.0), max(-d, 0.0)
        if t < n:  # still collecting the first n changes
            au += up
            ad += down
            continue
        if t == n:
            au, ad = (au + up) / n, (ad + down) / n
        else:
            au, ad = (au * (n - 1) + up) / n, (ad * (n - 1) + down) / n
        if ad == 0.0:
            y.append(100.0 if au > 0.0 else 50.0)
        else:
            y.append(100.0 - 100.0 / (1.0 + au / ad))
    return y


def rsi(x, window, enter, exit=None) -> list[bool]:
    a = float(enter)
    c = a if exit is None else float(exit)
    return bounds_rule(rsi_values(x, window), a, c)


def level(x, above, below=None) -> list[bool]:
    a = float(above)
    c = a if below is None else float(below)
    return bounds_rule(list(x), a, c)


def common_dates(a: Series, b: Series) -> list[dt.date]:
    """The dates D on which both series have a bar, ascending."""
    return [d for d in a.dates if d in b.index]


def correlation_values(x: list[float], z: list[float], window: int) -> list:
    """x, z: closes on the dates D. y at d_k: Pearson correlation of the last n paired
    returns; None before the (n+1)-th date and where all n returns of x or of z are equal."""
    n = int(window)
    if n < 2:
        raise ValueError("correlation window must be >= 2")
    y: list = []
    for k in range(len(x)):
        if k < n:
            y.append(None)
            continue
        rx = [x[i] / x[i - 1] - 1.0 for i in range(k - n + 1, k + 1)]
        rz = [z[i] / z[i - 1] - 1.0 for i in range(k - n + 1, k + 1)]
        if len(set(rx)) == 1 or len(set(rz)) == 1:
            y.append(None)
            continue
        mx, mz = sum(rx) / n, sum(rz) / n
        cov = sum((p - mx) * (q - mz) for p, q in zip(rx, rz, strict=True))
        vx = sum((p - mx) ** 2 for p in rx)
        vz = sum((q - mz) ** 2 for q in rz)
        y.append(cov / (math.sqrt(vx) * math.sqrt(vz)))
    return y


def correlation(x, z, window, above, below=None) -> list[bool]:
    a = float(above)
    c = a if below is None else float(below)
    return bounds_rule(correlation_values(x, z, window), a, c)


def moving_average_values(x: list[float], n: int, average: str) -> list:
    """The `average` of x over n bars, None before bar n-1. sma: mean of the last n values.
    ema: alpha = 2/(n+1), E_{n-1} = mean(x_0 .. x_{n-1}), E_t = E_{t-1} + alpha (x_t - E_{t-1})."""
    out: list = []
    previous = None
    for t in range(len(x)):
        if t < n - 1:
            out.append(None)
        elif average == "sma" or t == n - 1:
            out.append(math.fsum(x[t - n + 1 : t + 1]) / n)
        else:
            out.append(previous + 2.0 / (n + 1) * (x[t] - previous))
        previous = out[-1]
    return out


def crossover_values(x: list[float], fast: int, slow: int, average: str = "sma") -> list:
    """y_t = F_t / S_t - 1 (SPEC 8 `crossover`); None before bar slow-1."""
    f, s = int(fast), int(slow)
    if not 1 <= f < s or average not in ("sma", "ema"):
        raise ValueError("crossover: needs 1 <= fast < slow and average sma or ema")
    fast_line = moving_average_values(x, f, average)
    slow_line = moving_average_values(x, s, average)
    return [None if b is None else a / b - 1.0 for a, b in zip(fast_line, slow_line, strict=True)]


def crossover(x, fast, slow, average="sma", band=0.0) -> list[bool]:
    b = float(band)
    return bounds_rule(crossover_values(x, fast, slow, average), b, -b)


def _correlation_signal(spec: dict, data: Data):
    """(close instants, booleans) on D; each bar final at the later leg's close time."""
    first, other = str(spec["series"]), str(spec["other"])
    a, b = data.get(first), data.get(other)
    dates = common_dates(a, b)
    x = [a.close[a.index[d]] for d in dates]
    z = [b.close[b.index[d]] for d in dates]
    stamps = [max(a.close_ts[a.index[d]], b.close_ts[b.index[d]]) for d in dates]
    key = f"{first}/{other}"
    if key in data.overrides:
        stamps = data._instants(dates, data._close_rule(key))
    values = correlation(x, z, spec["window"], spec["above"], spec.get("below"))
    return stamps, values


def compute_signal(spec: dict, data: Data):
    """Return (close instants, boolean values) of one configured signal."""
    kind = spec["type"]
    if kind == "correlation":
        return _correlation_signal(spec, data)
    series = data.get(str(spec["series"]))
    if kind == "donchian":
        values = donchian(series.close, spec["entry"], spec["exit"])
    elif kind == "sma":
        values = sma(series.close, spec["window"], spec.get("band", 0.0))
    elif kind == "momentum":
        values = momentum(
            series.close,
            spec["lookback"],
            spec.get("weights"),
            spec.get("threshold", 0.0),
            spec.get("band", 0.0),
        )
    elif kind == "rsi":
        values = rsi(series.close, spec["window"], spec["enter"], spec.get("exit"))
    elif kind == "level":
        values = level(series.close, spec["above"], spec.get("below"))
    elif kind == "crossover":
        values = crossover(
            series.close,
            spec["fast"],
            spec["slow"],
            spec.get("average", "sma"),
            spec.get("band", 0.0),
        )
    else:
        raise ValueError(f"unknown signal type {kind!r}")
    return series.close_ts, values


def align(signal_ts: list[float], signal_values: list[bool], t_close: float) -> bool:
    """Value of the latest bar whose close instant is <= t_close; False if none."""
    k = bisect.bisect_right(signal_ts, t_close)  # number of bars final by t_close
    return bool(signal_values[k - 1]) if k > 0 else False


# --------------------------------------------------------------------------
# 9. Scores (real-valued lists on the asset's own calendar; None where undefined)
# --------------------------------------------------------------------------


def volatility_values(x: list[float], window: int) -> list:
    """std (ddof 1) of the last n returns x_t / x_{t-1} - 1; None until t >= n (n+1 bars)."""
    n = int(window)
    if n < 2:
        raise ValueError("volatility window must be >= 2")
    y: list = []
    for t in range(len(x)):
        if t < n:  # needs n+1 bars
            y.append(None)
            continue
        r = [x[i] / x[i - 1] - 1.0 for i in range(t - n + 1, t + 1)]
        mean = sum(r) / n
        var = sum((v - mean) ** 2 for v in r) / (n - 1)
        y.append(math.sqrt(var))
    return y


def score_values(spec: dict, x: list[float]) -> list:
    kind = spec.get("type")
    if kind == "momentum":
        return momentum_values(x, spec["lookback"], spec.get("weights"))
    if kind == "volatility":
        return volatility_values(x, spec["window"])
    raise ValueError(f"unknown score type {kind!r}")


def align_value(ts: list[float], values: list, t_close: float) -> float:
    """Score at t: value of the latest bar whose close instant is <= t_close; NaN if
    there is none or its value is undefined."""
    k = bisect.bisect_right(ts, t_close)
    if k == 0:
        return float("nan")
    v = values[k - 1]
    return float("nan") if v is None else float(v)


def parse_rank(name: str, rank: dict, universe: list[str], scores_cfg: dict) -> dict:
    """Validate a regime's `rank` block and fill in the defaults (SPEC 9)."""
    assets = [str(a) for a in rank["assets"]]
    if not assets or len(set(assets)) != len(assets):
        raise ValueError(f"regime {name!r}: rank.assets empty or with a duplicate")
    for a in assets:
        if a not in universe:
            raise ValueError(f"regime {name!r}: {a} is not in the universe")
    score = str(rank["score"])
    if score not in scores_cfg:
        raise ValueError(f"regime {name!r}: unknown score {score!r}")
    order = rank.get("order", "highest")
    if order not in ("highest", "lowest"):
        raise ValueError(f"regime {name!r}: order must be highest or lowest")
    top = rank["top"]
    if isinstance(top, bool) or int(top) != top or not 1 <= int(top) <= len(assets):
        raise ValueError(f"regime {name!r}: top must be 1 .. number of assets")
    weighting = rank.get("weighting", "equal")
    if weighting not in ("equal", "inverse_vol"):
        raise ValueError(f"regime {name!r}: weighting must be equal or inverse_vol")
    vol_window = None
    if weighting == "inverse_vol":
        if rank.get("vol_window") is None or int(rank["vol_window"]) < 2:
            raise ValueError(f"regime {name!r}: inverse_vol needs vol_window >= 2")
        vol_window = int(rank["vol_window"])
    min_score = rank.get("min_score")
    if isinstance(min_score, bool):
        raise ValueError(f"regime {name!r}: min_score must be a number or a ticker")
    if isinstance(min_score, (int, float)):
        min_score = float(min_score)
    elif min_score is not None:
        min_score = str(min_score)  # a ticker
    flt = rank.get("filter")
    if flt is not None:
        if "series" in flt:
            raise ValueError(f"regime {name!r}: a filter has no `series`")
        flt = dict(flt)
    fallback = rank.get("fallback")
    if fallback is not None:
        fallback = str(fallback)
        if fallback not in universe:
            raise ValueError(f"regime {name!r}: fallback {fallback} is not in the universe")
    exposure = float(rank.get("exposure", 1.0))
    if not 0.0 < exposure <= 1.0:
        raise ValueError(f"regime {name!r}: exposure must be in (0, 1]")
    keep = rank.get("keep")
    if keep is not None and not int(top) <= int(keep) <= len(assets):
        raise ValueError(f"regime {name!r}: keep must be top .. number of assets")
    return {
        "keep": None if keep is None else int(keep),
        "assets": assets,
        "score": score,
        "order": order,
        "top": int(top),
        "weighting": weighting,
        "vol_window": vol_window,
        "min_score": min_score,
        "filter": flt,
        "fallback": fallback,
        "exposure": exposure,
    }


def rank_allocation(rank: dict, universe, score, sigma, threshold, passes, held=None):
    """One ranked allocation at one date t (SPEC 9; the rank buffer of SPEC 11).

    score[a]: the asset's score at t (NaN if undefined); sigma[a]: its inverse-vol
    volatility at t (only read with inverse_vol); threshold: None without min_score,
    else the threshold at t (NaN if undefined); passes[a]: the filter at t (only read
    with a filter); held: None for section 9, else the assets that held slots at the
    previous decision date, which decided this same regime (`keep` set). Returns
    (weights {ticker: w} over the universe, candidate rows); the rows' `selected`
    assets are the slot holders the next decision date reads.
    """
    assets, k, E = rank["assets"], rank["top"], rank["exposure"]
    inverse_vol = rank["weighting"] == "inverse_vol"
    # eligible: score defined (and, for inverse_vol, volatility defined and > 0)
    eligible = []
    for a in assets:
        ok = not math.isnan(score[a])
        if inverse_vol:
            ok = ok and not math.isnan(sigma[a]) and sigma[a] > 0.0
        if ok:
            eligible.append(a)
    # sorted by score, highest (or lowest) first; the sort is stable: ties keep `assets` order
    if rank["order"] == "highest":
        ranked = sorted(eligible, key=lambda a: -score[a])
    else:
        ranked = sorted(eligible, key=lambda a: score[a])
    if held is None:
        selected = ranked[:k]  # the first k fill the slots
        kept = []
    else:
        # SPEC 11: holders still eligible and ranked <= keep keep their slots (best rank
        # first, up to k); the remaining slots go to the best-ranked others
        kept = [a for a in ranked if a in held and ranked.index(a) + 1 <= rank["keep"]][:k]
        others = [a for a in ranked if a not in kept]
        selected = kept + others[: k - len(kept)]
    f = len(selected)
    # slot weights: E/k each, or the filled total E*f/k split in proportion to 1/sigma
    slot_weight = {}
    if inverse_vol:
        inv_total = sum(1.0 / sigma[a] for a in selected)
        for a in selected:
            slot_weight[a] = E * f / k * (1.0 / sigma[a]) / inv_total
    else:
        for a in selected:
            slot_weight[a] = E / k
    weights = {t: 0.0 for t in universe}
    to_fallback = []  # slot weights given to the fallback (or left in cash)
    failed_of = {}
    for a in selected:
        failed = []
        if threshold is not None:
            # fails when its score <= threshold (also for `lowest`) or threshold undefined
            if math.isnan(threshold) or score[a] <= threshold:
                failed.append("min_score")
        if rank["filter"] is not None and not passes[a]:
            failed.append("filter")
        failed_of[a] = failed
        if failed:
            to_fallback.append(slot_weight[a])  # keeps its slot, gives its weight away
        else:
            weights[a] += slot_weight[a]
    for _ in range(k - f):  # every empty slot
        to_fallback.append(E / k)
    if rank["fallback"] is not None:
        for w in to_fallback:
            weights[rank["fallback"]] += w  # weights of the same ticker add
    rows = []
    for a in assets:
        rows.append(
            {
                "ticker": a,
                "score": score[a],
                "vol": sigma[a] if inverse_vol else None,
                "eligible": a in eligible,
                "rank": ranked.index(a) + 1 if a in eligible else None,
                "selected": a in selected,
                # holds its slot by the buffer alone: kept while ranked beyond top
                "kept": a in kept and ranked.index(a) + 1 > k,
                "failed": failed_of[a] if a in selected else None,
                "weight": slot_weight.get(a, 0.0),
            }
        )
    return weights, rows


# --------------------------------------------------------------------------
# 10. Decision schedule
# --------------------------------------------------------------------------


def decision_flags(C: list[dt.date], decide: str, day: int = -1) -> list[bool]:
    """daily: every date of C. weekly / monthly / quarterly / annual: in each ISO week /
    calendar month / quarter / year, the day-th date of C (day >= 1) or the |day|-th from
    the last (day <= -1; -1 = the last date); a period with fewer than |day| dates decides
    on its last date (day >= 1) or its first (day <= -1). A choice that needs the
    period's last date is made only when the next date of C falls in a later period, so
    the final, incomplete period has none (SPEC 10, 11)."""
    if decide == "daily":
        return [True] * len(C)
    if day == 0:
        raise ValueError("decide_day must not be 0")

    def period(d):
        if decide == "weekly":
            iso = d.isocalendar()
            return (iso[0], iso[1])  # (ISO year, ISO week)
        if decide == "monthly":
            return (d.year, d.month)
        if decide == "quarterly":
            return (d.year, (d.month - 1) // 3)
        if decide == "annual":
            return (d.year,)
        raise ValueError(f"unknown decide {decide!r}")

    flags = [False] * len(C)
    k = 0
    while k < len(C):
        members = [k]  # the dates of C in this period
        while members[-1] + 1 < len(C) and period(C[members[-1] + 1]) == period(C[k]):
            members.append(members[-1] + 1)
        complete = members[-1] + 1 < len(C)  # the next date of C is in a later period
        if day >= 1 and len(members) >= day:
            flags[members[day - 1]] = True  # known without seeing the period's end
        elif day >= 1 and complete:
            flags[members[-1]] = True  # fewer than day dates: the last one
        elif day <= -1 and complete:
            flags[members[day] if len(members) >= -day else members[0]] = True
        k = members[-1] + 1
    return flags


def vol_scale(weights, k: int, C, assets, universe, target_vol: dict, P: float) -> float:
    """SPEC 11's volatility target at C[k] for the decided target `weights` (a tuple in
    universe order): min(m, annual / sigma), m when sigma = 0, min(1, m) while sigma is
    undefined (fewer than n + 1 dates of C up to C[k])."""
    n = int(target_vol["window"])
    annual = float(target_vol["annual"])
    m = float(target_vol.get("max_exposure", 1.0))
    if k < n:  # C[k] has only k dates of C before it: fewer than n returns
        return min(1.0, m)
    daily = []
    for s in range(k - n + 1, k + 1):  # the last n dates s <= t, each from the date before
        r = 0.0
        for i, t in enumerate(universe):
            series = assets[t]
            now = series.close[series.index[C[s]]]
            before = series.close[series.index[C[s - 1]]]
            r += weights[i] * (now / before - 1.0)
        daily.append(r)
    mean = sum(daily) / n
    sigma = math.sqrt(sum((x - mean) ** 2 for x in daily) / (n - 1)) * math.sqrt(P)
    if sigma == 0.0:
        return m
    return min(m, annual / sigma)


# --------------------------------------------------------------------------
# 5. `when` expressions: a tiny recursive-descent parser (no eval)
#    expr := term ('or' term)* ; term := factor ('and' factor)* ;
#    factor := 'not' factor | '(' expr ')' | NAME
# --------------------------------------------------------------------------


def _tokenize(text: str) -> list[str]:
    tokens, i = [], 0
    while i < len(text):
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "()":
            tokens.append(c)
            i += 1
        elif c.isalnum() or c == "_":
            j = i
            while j < len(text) and (text[j].isalnum() or text[j] in "_-."):
                j += 1
            tokens.append(text[i:j])
            i = j
        else:
            raise ValueError(f"unexpected character {c!r} in expression {text!r}")
    return tokens


def parse_when(text) -> tuple:
    """Parse into a tree: ('name', n) | ('not', a) | ('and', a, b) | ('or', a, b)
    | ('const', bool)."""
    if isinstance(text, bool):
        return ("const", text)
    tokens = _tokenize(str(text))
    pos = 0

    def peek():
        return tokens[pos] if pos < len(tokens) else None

    def take(expected=None):
        nonlocal pos
        tok = peek()
        if tok is None or (expected is not None and tok != expected):
            raise ValueError(f"expected {expected or 'a token'} in {text!r}, got {tok!r}")
        pos += 1
        return tok

    def expr():
        node = term()
        while peek() == "or":
            take("or")
            node = ("or", node, term())
        return node

    def term():
        node = factor()
        while peek() == "and":
            take("and")
            node = ("and", node, factor())
        return node

    def factor():
        tok = peek()
        if tok == "not":
            take("not")
            return ("not", factor())
        if tok == "(":
            take("(")
            node = expr()
            take(")")
            return node
        if tok is None or tok in ("and", "or", ")"):
            raise ValueError(f"unexpected {tok!r} in {text!r}")
        take()
        if tok in ("true", "True"):
            return ("const", True)
        if tok in ("false", "False"):
            return ("const", False)
        return ("name", tok)

    tree = expr()
    if pos != len(tokens):
        raise ValueError(f"trailing tokens {tokens[pos:]} in {text!r}")
    return tree


def eval_when(tree: tuple, values: dict[str, bool]) -> bool:
    kind = tree[0]
    if kind == "const":
        return tree[1]
    if kind == "name":
        if tree[1] not in values:
            raise ValueError(f"unknown signal {tree[1]!r}")
        return bool(values[tree[1]])
    if kind == "not":
        return not eval_when(tree[1], values)
    if kind == "and":
        return eval_when(tree[1], values) and eval_when(tree[2], values)
    if kind == "or":
        return eval_when(tree[1], values) or eval_when(tree[2], values)
    raise ValueError(f"bad node {tree!r}")


def _tree_names(tree: tuple) -> set[str]:
    if tree[0] == "name":
        return {tree[1]}
    if tree[0] == "const":
        return set()
    return set().union(*(_tree_names(child) for child in tree[1:]))


# --------------------------------------------------------------------------
# 6. Portfolio accounting
# --------------------------------------------------------------------------


def simulate(
    tickers,
    close,
    exec_px,
    targets,
    trade_flags_base,
    dates,
    initial_cash,
    fee,
    slip,
    rebalance,
    label,
    tolerance=0.0,
    cash_rates=None,
    interest=None,
    exposure=None,
):
    """Run one portfolio.

    tickers: asset order (universe order; used for tie-breaking).
    close[j][i], exec_px[j][i]: adjusted close / execution price of asset i on backtest date j.
    targets[j]: weight tuple traded to on date j (decided on the previous date of C);
                targets[j + 1] is the target decided at date j (the last one may be None).
    trade_flags_base[j]: True where the schedule (first date, target change, calendar
                rule) says trade.
    rebalance: 'none' | 'monthly' | 'quarterly' | 'annual' | {'threshold': x} (the calendar
               rules are already in trade_flags_base).
    tolerance: the no-trade band x of SPEC 11 (0: none).
    cash_rates[j]: cash yield c_j earned on date j before its orders (None: none).
    interest: a list that receives the cash interest earned (sum of cash_{j-1} * c_j).
    exposure: a list that receives the average exposure (mean over the dates of
              1 - cash / V at the close).
    Returns (values, trades).
    """
    n_assets = len(tickers)
    cash = float(initial_cash)
    q = [0.0] * n_assets
    values: list[float] = []
    trades: list[dict] = []
    earned = 0.0
    invested: list[float] = []  # 1 - cash / V at each close
    threshold = None
    if isinstance(rebalance, dict) and "threshold" in rebalance:
        threshold = float(rebalance["threshold"])
    drift_flag = False  # set by the threshold check at the close of the previous date

    for j, day in enumerate(dates):
        # SPEC 11: the cash held since the previous close earns c_j before any order
        if cash_rates is not None and j > 0:
            if abs(cash) > 1e-9 * values[-1]:  # cash_interest leaves residue cash out
                earned += cash * cash_rates[j]
            cash = cash * (1.0 + cash_rates[j])
        if trade_flags_base[j] or drift_flag:
            w = targets[j]
            p = exec_px[j]
            # V computed once, before any fill, at execution prices
            V = cash + sum(q[i] * p[i] for i in range(n_assets))
            # value each order moves, at the pre-slippage price
            moves = [w[i] * V - q[i] * p[i] for i in range(n_assets)]
            placed = [i for i in range(n_assets) if _placed(w[i], q[i], p[i], V, tolerance)]
            # ascending: sells first (largest first), then buys (smallest first);
            # Python's sort is stable, so ties keep universe order
            order = sorted(placed, key=lambda i: moves[i])
            for i in order:
                target_shares = w[i] * V / p[i]
                qty = target_shares - q[i]
                if abs(qty) * p[i] <= 1e-9 * V:
                    continue
                if qty < 0:  # sell
                    fill = p[i] * (1 - slip)
                    proceeds = -qty * fill
                    fee_paid = fee * -qty * fill
                    cash = cash + proceeds - fee_paid
                    q[i] += qty
                else:  # buy, as far as the cash left pays (fees included)
                    fill = p[i] * (1 + slip)
                    cost = qty * fill
                    fee_paid = fee * qty * fill
                    if cost + fee_paid <= cash:
                        cash = cash - cost - fee_paid
                    else:
                        qty = cash / (fill * (1 + fee))
                        if qty <= 0:
                            continue
                        fee_paid = fee * qty * fill
                        cash = 0.0  # cash never goes below zero
                    q[i] += qty
                trades.append(
                    {
                        "date": pd.Timestamp(day),
                        "ticker": tickers[i],
                        "quantity": qty,
                        "fill_price": fill,
                        "fees": fee_paid,
                        "portfolio": label,
                    }
                )
        # daily value at the adjusted close
        c = close[j]
        held = [q[i] * c[i] for i in range(n_assets)]
        V_t = cash + sum(held)
        values.append(V_t)
        invested.append(1.0 - cash / V_t)
        # threshold rule: drift at the close of t against the target decided at t
        drift_flag = False
        if threshold is not None and j + 1 < len(dates):
            w_t = targets[j + 1]
            if V_t > 0:
                for i in range(n_assets):
                    if abs(held[i] / V_t - w_t[i]) > threshold:
                        drift_flag = True
                        break
    if interest is not None:
        interest.append(earned)
    if exposure is not None:
        exposure.append(sum(invested) / len(invested))
    return values, trades


def _placed(w: float, q: float, p: float, V: float, tolerance: float) -> bool:
    """SPEC 11 no-trade band: the order for an asset is placed when |w - h| > x (h = q p / V
    at the execution price); an exit (w = 0 < h) or an entry (h = 0 < w) is placed unless
    it moves at most 1e-10 V (float noise). No band: every order."""
    if tolerance <= 0 or V <= 0:
        return True
    gap = abs(w - q * p / V)
    return gap > tolerance or (gap > 1e-10 and (w == 0.0 or q == 0.0))


# --------------------------------------------------------------------------
# 7. Statistics
# --------------------------------------------------------------------------


def _div(a: float, b: float) -> float:
    return a / b if b != 0 and not math.isnan(b) else float("nan")


def _std(x: np.ndarray) -> float:
    return float(np.std(x, ddof=1)) if len(x) >= 2 else float("nan")


def returns_of(values, initial_cash) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    prev = np.concatenate([[float(initial_cash)], v[:-1]])
    return v / prev - 1.0


def drawdown_stats(values, dates, initial_cash):
    """Max drawdown and the longest under-water durations (steps, calendar days)."""
    pts = [float(initial_cash)] + [float(v) for v in values]
    pdates = [dates[0]] + list(dates)  # initial_cash dated the first backtest date
    max_dd = 0.0
    peak_val, peak_idx = pts[0], 0
    longest_steps, longest_days = 0, 0
    underwater = False
    for k in range(1, len(pts)):
        v = pts[k]
        if v >= peak_val:
            if underwater:  # back at or above the peak: the stretch ends here
                longest_steps = max(longest_steps, k - peak_idx)
                longest_days = max(longest_days, (pdates[k] - pdates[peak_idx]).days)
                underwater = False
            peak_val, peak_idx = v, k
        else:
            underwater = True
            max_dd = min(max_dd, v / peak_val - 1.0)
    if underwater:  # still under water at the last date
        last = len(pts) - 1
        longest_steps = max(longest_steps, last - peak_idx)
        longest_days = max(longest_days, (pdates[last] - pdates[peak_idx]).days)
    return max_dd, longest_steps, longest_days


def _rf_per_date(rf, P):
    """SPEC 7: rf_d = (1 + rf)^(1/P) - 1 for an annual number; SPEC 11: a ticker's per-date
    series (a list, one rate per backtest date) as it is."""
    if isinstance(rf, (list, tuple, np.ndarray)):
        return np.asarray(rf, dtype=float)
    return (1.0 + rf) ** (1.0 / P) - 1.0


def portfolio_stats(values, dates, trades, initial_cash, P, rf, regimes=None, regime_names=None):
    r = returns_of(values, initial_cash)
    rf_d = _rf_per_date(rf, P)
    ex = r - rf_d
    V_N = float(values[-1])
    years = (dates[-1] - dates[0]).days / 365.25
    total_return = V_N / initial_cash - 1.0
    cagr = (V_N / initial_cash) ** (1.0 / years) - 1.0 if years > 0 else float("nan")
    volatility = _std(r) * math.sqrt(P)
    sharpe = _div(float(np.mean(ex)), _std(ex)) * math.sqrt(P)
    downside = math.sqrt(float(np.mean(np.minimum(ex, 0.0) ** 2)))
    sortino = _div(float(np.mean(ex)), downside) * math.sqrt(P)
    max_dd, dd_steps, dd_days = drawdown_stats(values, dates, initial_cash)
    calmar = _div(cagr, abs(max_dd))

    if regimes is not None:
        switches = sum(1 for j in range(1, len(regimes)) if regimes[j] != regimes[j - 1])
        time_in_regime = {name: 0.0 for name in regime_names}
        for name in regimes:
            time_in_regime[name] += 1.0
        time_in_regime = {k: v / len(regimes) for k, v in time_in_regime.items()}
    else:
        switches, time_in_regime = 0, {}

    trade_dates = len({t["date"] for t in trades})
    fees_paid = float(sum(t["fees"] for t in trades))
    traded_value = float(sum(abs(t["quantity"] * t["fill_price"]) for t in trades))
    turnover = _div(traded_value / 2.0 / float(np.mean(values)), years)

    return {
        "total_return": total_return,
        "cagr": cagr,
        "volatility": volatility,
        "sharpe": sharpe,
        "sortino": sortino,
        "max_drawdown": max_dd,
        "max_drawdown_duration_days": dd_steps,
        "max_drawdown_duration_calendar_days": dd_days,
        "calmar": calmar,
        "switches": switches,
        "time_in_regime": time_in_regime,
        "trade_dates": trade_dates,
        "fees_paid": fees_paid,
        "turnover": turnover,
        "final_value": V_N,
    }


def relative_stats(r, b, cagr_s, cagr_b, P, rf):
    rf_d = _rf_per_date(rf, P)
    if len(r) >= 2:
        cov = float(np.cov(r, b, ddof=1)[0, 1])
        var_b = float(np.var(b, ddof=1))
        beta = _div(cov, var_b)
        correlation = _div(cov, math.sqrt(float(np.var(r, ddof=1)) * var_b))
    else:
        beta = correlation = float("nan")
    alpha = (float(np.mean(r - rf_d)) - beta * float(np.mean(b - rf_d))) * P
    tracking_error = _std(r - b) * math.sqrt(P)
    information_ratio = _div(float(np.mean(r - b)) * P, tracking_error)
    return {
        "excess_cagr": cagr_s - cagr_b,
        "beta": beta,
        "alpha": alpha,
        "tracking_error": tracking_error,
        "information_ratio": information_ratio,
        "correlation": correlation,
    }


# --------------------------------------------------------------------------
# 11. Money: rebalance periods, cash yield, risk-free series
# --------------------------------------------------------------------------

PERIOD_OF = {
    "monthly": lambda d: (d.year, d.month),
    "quarterly": lambda d: (d.year, (d.month - 1) // 3),
    "annual": lambda d: d.year,
}


def _check_rule(rule) -> None:
    if isinstance(rule, dict):
        if set(rule) != {"threshold"} or not 0.0 < float(rule["threshold"]) < 1.0:
            raise ValueError(f"bad threshold rule {rule!r}")
    elif rule != "none" and rule not in PERIOD_OF:
        raise ValueError(f"unknown rebalance rule {rule!r}")


def _rate_close(data: Data, ticker: str, day: dt.date, required: bool):
    """T's adjusted close on a date of C (None when it has none and it is not required)."""
    series = data.get(ticker)
    i = series.index.get(day)
    if i is None and required:
        raise ValueError(f"rate ticker {ticker} has no price on {day}")
    return None if i is None else series.close[i]


def cash_yields(spec, data: Data, C: list, k0: int, N: int, P: float):
    """c_j for each backtest date j (None without a cash yield). A number y:
    (1 + y)^(1/P) - 1; a ticker T: T(t-) / T(t--) - 1 with t- the date of C before
    date j; 0 on the first date, and on the second when C has no date before the first
    or T no price there. T needs a price on every backtest date."""
    if spec is None:
        return None
    if not isinstance(spec, str):
        y = float(spec)
        if not -0.5 < y <= 1.0:
            raise ValueError(f"cash_yield {y} outside (-0.5, 1]")
        return [0.0] + [(1.0 + y) ** (1.0 / P) - 1.0] * (N - 1)
    closes = [_rate_close(data, spec, C[k0 + j], True) for j in range(N)]
    before = _rate_close(data, spec, C[k0 - 1], False) if k0 > 0 else None
    rates = [0.0] * N
    for j in range(1, N):
        previous = closes[j - 2] if j >= 2 else before
        rates[j] = 0.0 if previous is None else closes[j - 1] / previous - 1.0
    return rates


def risk_free_rates(spec, data: Data, C: list, k0: int, N: int):
    """An annual number as it is; a ticker T: rf_t = T_t / T(t-) - 1 per backtest date
    (t- the date of C before t, where T needs a price too; 0 on C's first date)."""
    if not isinstance(spec, str):
        return float(spec)
    rates = []
    for j in range(N):
        k = k0 + j
        if k == 0:
            rates.append(0.0)
            continue
        now = _rate_close(data, spec, C[k], True)
        rates.append(now / _rate_close(data, spec, C[k - 1], True) - 1.0)
    return rates


# --------------------------------------------------------------------------
# the whole backtest
# --------------------------------------------------------------------------


def reference_backtest(config: dict, data_dir: str | Path, config_dir=None) -> dict:
    """config is the YAML config parsed with yaml.safe_load; `config_dir` the folder of
    its file (external series' `file`s are relative to it)."""
    data = reference_data(config, data_dir, config_dir)
    return reference_money(config, data, reference_decisions(config, data))


def reference_data(config: dict, data_dir: str | Path, config_dir=None) -> Data:
    """The prices and external series a config reads (CSV files only)."""
    data_cfg = config.get("data") or {}
    source = data_cfg.get("source", "csv")
    if source != "csv":
        raise ValueError(f"the reference reads CSV files only (source {source!r})")
    return Data(data_dir, data_cfg.get("close_times"), data_cfg.get("series"), config_dir)


def reference_decisions(config: dict, data: Data) -> dict:
    """The calendar C, the backtest dates and the decided regime and target of every date
    of C (SPEC 5, 9, 10, 11), with what the money part reads of them."""
    data_cfg = config.get("data") or {}

    universe = [str(t) for t in config["universe"]]
    if len(set(universe)) != len(universe):
        raise ValueError("duplicate ticker in universe")

    # ---- regimes -------------------------------------------------------
    regimes_cfg = config["regimes"]
    if not regimes_cfg:
        raise ValueError("no regimes")
    scores_cfg = {str(name): dict(spec) for name, spec in (config.get("scores") or {}).items()}
    regime_names, regime_trees, regime_weights, regime_ranks = [], [], [], []
    for k, reg in enumerate(regimes_cfg):
        last = k == len(regimes_cfg) - 1
        if last and "when" in reg and reg["when"] is not None:
            raise ValueError("the last regime is the default and has no `when`")
        if not last and reg.get("when") is None:
            raise ValueError(f"regime {reg.get('name')!r} needs a `when`")
        if reg.get("rank") is not None:  # a ranked allocation (SPEC 9)
            if reg.get("weights") is not None:
                raise ValueError(f"regime {reg['name']!r} has both `weights` and `rank`")
            regime_names.append(str(reg["name"]))
            regime_trees.append(None if last else parse_when(reg["when"]))
            regime_weights.append(None)
            regime_ranks.append(parse_rank(str(reg["name"]), reg["rank"], universe, scores_cfg))
            continue
        weights = {str(t): float(w) for t, w in (reg.get("weights") or {}).items()}
        for t, w in weights.items():
            if t not in universe:
                raise ValueError(f"regime {reg['name']!r}: {t} is not in the universe")
            if not 0.0 <= w <= 1.0:
                raise ValueError(f"regime {reg['name']!r}: weight {w} outside [0, 1]")
        if sum(weights.values()) > 1.0 + 1e-12:
            raise ValueError(f"regime {reg['name']!r}: weights sum above 1")
        regime_names.append(str(reg["name"]))
        regime_trees.append(None if last else parse_when(reg["when"]))
        regime_weights.append(tuple(weights.get(t, 0.0) for t in universe))
        regime_ranks.append(None)
    # the target before the first decision date (and on a first backtest date with no
    # earlier date in C): the default's fixed weights, or all cash if it is ranked
    if regime_weights[-1] is not None:
        default_weights = regime_weights[-1]
    else:
        default_weights = tuple(0.0 for _ in universe)

    # ---- signals on their own calendars (full history) ------------------
    signals_cfg = config.get("signals") or {}
    signals = {str(name): compute_signal(spec, data) for name, spec in signals_cfg.items()}
    for tree in regime_trees:
        if tree is not None:
            unknown = _tree_names(tree) - set(signals)
            if unknown:
                raise ValueError(f"unknown signals in `when`: {sorted(unknown)}")

    # ---- trading calendar C and its close instants ----------------------
    assets = {t: data.get(t) for t in universe}
    common = set(assets[universe[0]].dates)
    for t in universe[1:]:
        common &= set(assets[t].dates)
    C = sorted(common)
    if not C:
        raise ValueError("empty trading calendar")
    C_close = []
    for d in C:
        C_close.append(max(assets[t].close_ts[assets[t].index[d]] for t in universe))

    # ---- backtest dates ----------------------------------------------------
    start = _to_date(data_cfg["start"]) if data_cfg.get("start") is not None else C[0]
    end = _to_date(data_cfg["end"]) if data_cfg.get("end") is not None else C[-1]
    k_idx = [k for k, d in enumerate(C) if start <= d <= end]
    if not k_idx:
        raise ValueError("no backtest dates between start and end")
    k0, k1 = k_idx[0], k_idx[-1]
    bt_dates = C[k0 : k1 + 1]
    N = len(bt_dates)

    execution = config.get("execution") or {}

    # ---- scores, volatilities and filters of the ranked regimes (own calendars) ----
    raw_scores: dict[tuple, tuple] = {}  # (score spec key, ticker) -> (close instants, values)

    def score_series(spec: dict, ticker: str):
        key = (repr(sorted(spec.items())), ticker)
        if key not in raw_scores:
            series = data.get(ticker)
            raw_scores[key] = (series.close_ts, score_values(spec, series.close))
        return raw_scores[key]

    rank_filters: dict[tuple, tuple] = {}  # (regime index, asset) -> (close instants, bools)
    for r_idx, rank in enumerate(regime_ranks):
        if rank is None or rank["filter"] is None:
            continue
        for a in rank["assets"]:
            spec = dict(rank["filter"])
            spec["series"] = a  # computed on the asset's own adjusted close
            rank_filters[(r_idx, a)] = compute_signal(spec, data)

    def evaluate_rank(r_idx: int, k: int, held=None):
        """The ranked allocation of regime r_idx at date C[k]: (weights dict, record);
        `held`: the slot holders of the previous decision date (the rank buffer)."""
        rank = regime_ranks[r_idx]
        t_close = C_close[k]
        spec = scores_cfg[rank["score"]]
        score, sigma, passes = {}, {}, {}
        for a in rank["assets"]:
            score[a] = align_value(*score_series(spec, a), t_close)
            if rank["weighting"] == "inverse_vol":
                vol_spec = {"type": "volatility", "window": rank["vol_window"]}
                sigma[a] = align_value(*score_series(vol_spec, a), t_close)
            if rank["filter"] is not None:
                passes[a] = align(*rank_filters[(r_idx, a)], t_close)
        threshold = rank["min_score"]
        if isinstance(threshold, str):  # that ticker's score of the same score name
            threshold = align_value(*score_series(spec, threshold), t_close)
        weights, rows = rank_allocation(rank, universe, score, sigma, threshold, passes, held)
        record = {
            "date": pd.Timestamp(C[k]),
            "regime": regime_names[r_idx],
            "decided": False,
            "threshold": threshold,
            "candidates": rows,
            "weights": dict(weights),
        }
        return weights, record

    # ---- decided regime and target at each date of C (SPEC 5, 9, 10) ----------
    decide = execution.get("decide", "daily") or "daily"
    decide_day = execution.get("decide_day")
    if decide_day is not None and decide == "daily":
        raise ValueError("decide_day needs weekly, monthly, quarterly or annual decisions")
    is_decision = decision_flags(C, decide, -1 if decide_day is None else int(decide_day))
    stats_cfg = config.get("stats") or {}
    if stats_cfg.get("periods_per_year") is not None:
        P = float(stats_cfg["periods_per_year"])
    else:
        P = 365.0 if all(_is_crypto(t) for t in universe) else 252.0
    target_vol = (config.get("portfolio") or {}).get("target_vol")
    decided_regime: list[int] = []
    decided_target: list[tuple] = []
    decided_scale: list[float] = []
    ranks_out: list[dict] = []
    # before the first decision date: the default regime with default_weights, unscaled
    current_regime, current_target, current_scale = len(regime_names) - 1, default_weights, 1.0
    previous_chosen, previous_holders = None, None  # of the previous decision date
    for k in range(len(C)):
        if is_decision[k]:
            values = {name: align(ts, vals, C_close[k]) for name, (ts, vals) in signals.items()}
            chosen = len(regime_names) - 1
            for r_idx, tree in enumerate(regime_trees[:-1]):
                if eval_when(tree, values):
                    chosen = r_idx
                    break
            target = regime_weights[chosen]
            holders = None
            for r_idx, rank in enumerate(regime_ranks):
                if rank is None or (r_idx != chosen and C[k] > bt_dates[-1]):
                    continue
                held = None  # SPEC 11: the buffer only continues a run of this regime
                if r_idx == chosen and rank["keep"] is not None and previous_chosen == r_idx:
                    held = previous_holders
                weights, record = evaluate_rank(r_idx, k, held)
                if r_idx == chosen:
                    target = tuple(weights[t] for t in universe)
                    holders = {row["ticker"] for row in record["candidates"] if row["selected"]}
                if C[k] <= bt_dates[-1]:
                    record["decided"] = r_idx == chosen
                    ranks_out.append(record)
            scale = 1.0
            if target_vol is not None:  # SPEC 11: the scaled target is the decided one
                scale = vol_scale(target, k, C, assets, universe, target_vol, P)
                target = tuple(w * scale for w in target)
            current_regime, current_target, current_scale = chosen, target, scale
            previous_chosen, previous_holders = chosen, holders
        decided_regime.append(current_regime)
        decided_target.append(current_target)
        decided_scale.append(current_scale)

    # targets[j] = target traded to on backtest date j = decided on the previous date of C;
    # targets[N] = decided at the last backtest date (only used by the threshold check).
    def decided_weights(k):
        return default_weights if k < 0 else decided_target[k]

    targets = [decided_weights(k0 + j - 1) for j in range(N + 1)]
    regimes_out = [regime_names[decided_regime[k0 + j]] for j in range(N)]
    targets_out = []
    for j in range(N):
        targets_out.append(
            {
                "date": pd.Timestamp(bt_dates[j]),
                "decision": is_decision[k0 + j],
                "regime": regimes_out[j],
                "decided": dict(zip(universe, decided_target[k0 + j], strict=True)),
                "scale": decided_scale[k0 + j],
                "traded_to": dict(zip(universe, targets[j], strict=True)),
            }
        )
    return {
        "universe": universe,
        "C": C,
        "k0": k0,
        "N": N,
        "bt_dates": bt_dates,
        "assets": assets,
        "P": P,
        "regime_names": regime_names,
        "regimes_out": regimes_out,
        "targets": targets,
        "targets_out": targets_out,
        "ranks_out": ranks_out,
        "decided_target": decided_target,
        "decided_regime": decided_regime,
        "is_decision": is_decision,
        "default_weights": default_weights,
    }


def reference_money(config: dict, data: Data, decided: dict) -> dict:
    """Trades, values and statistics of the targets `decided` (reference_decisions) with
    the config's execution, portfolio, benchmark and stats (SPEC 6, 7, 11)."""
    universe, C, k0, N = (decided[k] for k in ("universe", "C", "k0", "N"))
    bt_dates, assets, targets = decided["bt_dates"], decided["assets"], decided["targets"]
    regimes_out, regime_names = decided["regimes_out"], decided["regime_names"]
    targets_out, ranks_out = decided["targets_out"], decided["ranks_out"]
    execution = config.get("execution") or {}

    def same_target(a, b) -> bool:
        """Two targets are the same when no weight differs by more than 1e-12."""
        for x, y in zip(a, b, strict=True):
            if abs(x - y) > 1e-12:
                return False
        return True

    timing = execution.get("timing", "next_close")
    if timing not in ("next_close", "next_open"):
        raise ValueError(f"unknown timing {timing!r}")
    fee = float(execution.get("fees_bps", 0)) / 10000.0
    slip = float(execution.get("slippage_bps", 0)) / 10000.0
    rebalance = execution.get("rebalance", "none")
    if rebalance is None:
        rebalance = "none"
    _check_rule(rebalance)
    tolerance = float(execution.get("tolerance") or 0.0)
    if not 0.0 <= tolerance < 1.0:
        raise ValueError(f"tolerance {tolerance} outside [0, 1)")

    def schedule(target_list, rule=rebalance):
        flags = []
        for j in range(N):
            if j == 0:
                flags.append(True)
                continue
            flag = not same_target(target_list[j], target_list[j - 1])
            if isinstance(rule, str) and rule in PERIOD_OF:  # SPEC 6, 11: a new period's first date
                if PERIOD_OF[rule](bt_dates[j - 1]) != PERIOD_OF[rule](bt_dates[j]):
                    flag = True
            flags.append(flag)
        return flags

    def price_tables(tickers, series_of):
        close, exec_px = [], []
        for d in bt_dates:
            row_c, row_e = [], []
            for t in tickers:
                s = series_of[t]
                i = s.index.get(d)
                if i is None:
                    raise ValueError(f"{t} has no price on backtest date {d}")
                row_c.append(s.close[i])
                row_e.append(s.close[i] if timing == "next_close" else s.open[i])
            close.append(row_c)
            exec_px.append(row_e)
        return close, exec_px

    portfolio_cfg = config.get("portfolio") or {}
    initial_cash = float(portfolio_cfg.get("initial_cash", 100000))
    stats_cfg = config.get("stats") or {}
    if stats_cfg.get("periods_per_year") is not None:
        P = float(stats_cfg["periods_per_year"])
    else:
        P = 365.0 if all(_is_crypto(t) for t in universe) else 252.0
    cash_rates = cash_yields(portfolio_cfg.get("cash_yield"), data, C, k0, N, P)
    earned: dict[str, list] = {"strategy": [], "benchmark": []}
    exposed: dict[str, list] = {"strategy": [], "benchmark": []}

    # ---- strategy ----------------------------------------------------------
    s_close, s_exec = price_tables(universe, assets)
    s_values, s_trades = simulate(
        universe,
        s_close,
        s_exec,
        targets,
        schedule(targets),
        bt_dates,
        initial_cash,
        fee,
        slip,
        rebalance,
        "strategy",
        tolerance,
        cash_rates,
        earned["strategy"],
        exposed["strategy"],
    )

    # ---- benchmark: fixed weights, same dates, timing, costs, cash yield; its own rule
    # (the long form's `rebalance`) or the strategy's; no band ------------------------
    bench_cfg = config.get("benchmark") or {"SPY": 1.0}
    bench_rule = rebalance
    if "weights" in bench_cfg or "rebalance" in bench_cfg:  # SPEC 11 long form
        if set(bench_cfg) - {"weights", "rebalance"}:
            raise ValueError(f"unknown benchmark keys {sorted(bench_cfg)}")
        if bench_cfg.get("rebalance") is not None:
            bench_rule = bench_cfg["rebalance"]
            _check_rule(bench_rule)
        bench_cfg = bench_cfg["weights"]
    bench_tickers = [str(t) for t in bench_cfg]
    bench_w = tuple(float(bench_cfg[t]) for t in bench_cfg)
    bench_series = {t: data.get(t) for t in bench_tickers}
    b_targets = [bench_w] * (N + 1)
    b_close, b_exec = price_tables(bench_tickers, bench_series)
    b_values, b_trades = simulate(
        bench_tickers,
        b_close,
        b_exec,
        b_targets,
        schedule(b_targets, bench_rule),
        bt_dates,
        initial_cash,
        fee,
        slip,
        bench_rule,
        "benchmark",
        0.0,
        cash_rates,
        earned["benchmark"],
        exposed["benchmark"],
    )

    # ---- statistics -------------------------------------------------------
    rf = risk_free_rates(stats_cfg.get("risk_free", 0.0), data, C, k0, N)

    s_stats = portfolio_stats(
        s_values, bt_dates, s_trades, initial_cash, P, rf, regimes_out, regime_names
    )
    b_stats = portfolio_stats(b_values, bt_dates, b_trades, initial_cash, P, rf)
    if cash_rates is not None:
        s_stats["cash_interest"] = earned["strategy"][0]
        b_stats["cash_interest"] = earned["benchmark"][0]
    if portfolio_cfg.get("cash_yield") is not None or portfolio_cfg.get("target_vol"):
        s_stats["avg_exposure"] = exposed["strategy"][0]
        b_stats["avg_exposure"] = exposed["benchmark"][0]
    rel = relative_stats(
        returns_of(s_values, initial_cash),
        returns_of(b_values, initial_cash),
        s_stats["cagr"],
        b_stats["cagr"],
        P,
        rf,
    )

    return {
        "dates": [pd.Timestamp(d) for d in bt_dates],
        "strategy": np.asarray(s_values, dtype=float),
        "benchmark": np.asarray(b_values, dtype=float),
        "regimes": regimes_out,
        "trades": s_trades + b_trades,
        "stats": {"strategy": s_stats, "benchmark": b_stats, "relative": rel},
        "targets": targets_out,
        "ranks": ranks_out,
    }


def reference_blend(
    blend: dict, members: list[dict], data_dir: str | Path, config_dir=None
) -> dict:
    """A blend (SPEC 11) in plain loops: each member decided on the blend's calendar C
    (the dates every traded asset of every member has), its targets weighted by W_j and
    summed over the blend's universe (members' universes in order of first appearance),
    the blend's own target_vol applied on each date some member decides, simulated once.

    `blend`: the blend's own keys (data, execution, portfolio, benchmark, stats) and
    `blend: [{weight: W_j}, ...]`; `members`: each member's own keys (name, universe,
    signals, scores, regimes, execution.decide and decide_day, portfolio.target_vol).
    The decided regime is the members' names joined by `|`; `time_in_regime` lists every
    joined name, in product order."""
    data = reference_data(blend, data_dir, config_dir)
    universe: list[str] = []
    for member in members:
        universe += [str(t) for t in member["universe"] if str(t) not in universe]
    weights = [float(entry["weight"]) for entry in blend["blend"]]
    if sum(weights) > 1.0 + 1e-9:
        raise ValueError("the blend's weights sum above 1")
    decided = [reference_decisions(_member_in(blend, member, universe), data) for member in members]
    first = decided[0]
    C, k0, N = first["C"], first["k0"], first["N"]
    target_vol = (blend.get("portfolio") or {}).get("target_vol")
    scale, blend_target = 1.0, []
    for k in range(len(C)):
        raw = [0.0] * len(universe)
        for w, member in zip(weights, decided, strict=True):
            for i, x in enumerate(member["decided_target"][k]):
                raw[i] += w * x
        if target_vol is not None and any(member["is_decision"][k] for member in decided):
            scale = vol_scale(raw, k, C, first["assets"], universe, target_vol, first["P"])
        blend_target.append(tuple(x * scale for x in raw) if target_vol is not None else tuple(raw))
    default = [0.0] * len(universe)
    for w, member in zip(weights, decided, strict=True):
        for i, x in enumerate(member["default_weights"]):
            default[i] += w * x
    targets = [tuple(default) if k0 + j - 1 < 0 else blend_target[k0 + j - 1] for j in range(N + 1)]
    names = [member["regime_names"] for member in decided]
    joined = {
        **first,
        "targets": targets,
        "regimes_out": ["|".join(m["regimes_out"][j] for m in decided) for j in range(N)],
        "regime_names": ["|".join(p) for p in itertools.product(*names)],
        "decided_target": blend_target,
        "targets_out": [],
        "ranks_out": [],
    }
    return reference_money({**blend, "universe": universe}, data, joined)


def _member_in(blend: dict, member: dict, universe: list[str]) -> dict:
    """A member as the blend decides it: its own keys over the blend's universe (its
    calendar is the blend's), the blend's data and stats."""
    own = member.get("execution") or {}
    execution = {k: own[k] for k in ("decide", "decide_day") if k in own}
    target = (member.get("portfolio") or {}).get("target_vol")
    return {
        **{k: v for k, v in member.items() if k not in ("data", "portfolio", "execution")},
        "universe": universe,
        "data": blend["data"],
        "execution": execution,
        "portfolio": {"target_vol": target} if target is not None else {},
        "stats": blend.get("stats") or {},
    }
