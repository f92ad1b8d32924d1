"""A sweep's summary by reduction: small aggregates per chunk, merged in any order.

A chunk of combinations [start, stop) (engine.research.chunks.evaluate_chunk) is reduced
where it is computed to a `Digest`: per scenario, the best `top` combinations by each
ranking metric (their rows and values), how many beat their own benchmark on the ranking
metric and on CAGR and the benchmark's range; the ranking metric at the rows of a seeded
sample and at their grid neighbours (the sensitivity and the best quarter are taken on
them); the heatmap's cells as exact sums; and a fine histogram of the ranking metric.
`Reduction` merges digests as they arrive: what it holds grows with the number of
scenarios, `top` and the sample, never with the grid.

Every merge is exact, so the reduction is the same, bit for bit, whatever the chunks'
sizes, their order and where they ran:

- the best rows are chosen by a strict order (scenario, NaN last, value, row);
- counts are whole numbers, ranges minima and maxima;
- the heatmap's sums are exact: each cell's sum is kept as a list of non-overlapping
  floats (Shewchuk's expansion, as `math.fsum` keeps it) and rounded once at the end;
- the histogram counts finite values per fine bucket of the float's bits (sign,
  exponent and the first 12 bits of the mantissa: 1/4096 of a value's magnitude), and
  the display bins are made from the buckets at the end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numba
import numpy as np

from engine.metrics import lower_is_better

SAMPLE = 10_000  # combinations per scenario of the seeded sample (odds, sensitivity, quarter)
SAMPLE_SEED = 0
HIST_SHIFT = 40  # histogram buckets: the float's ordered bits >> HIST_SHIFT (12 mantissa bits)
HIST_BINS = 40  # display bins of the distribution


@dataclass(frozen=True)
class Outline:
    """What a chunk's reduction needs to know about the sweep (picklable, built once).

    Attributes:
        metric, top: the ranking metric and how many of the best to keep per scenario.
        shape: the grid's shape; scenario_axes, choice_axes: positions of its axes.
        labels: the scenarios' labels, by scenario number (grid order of the scenario
            axes' values; [""] without scenario axes).
        ranking: the metrics ranked (each with its top); lower: lower is better, each.
        heat: positions of the heatmap's two axes (the second None with one axis).
        sample: sorted positions in the grid of the choice axes (the same for every
            scenario) of the seeded sample: every position up to SAMPLE.
        requested: sorted grid rows whose ranking metric is kept: the sample's rows in
            every scenario and their next neighbour along each choice axis.
    """

    metric: str
    top: int
    shape: tuple[int, ...]
    scenario_axes: tuple[int, ...]
    choice_axes: tuple[int, ...]
    labels: tuple[str, ...]
    ranking: tuple[str, ...]
    lower: tuple[bool, ...]
    heat: tuple[int, int | None]
    sample: np.ndarray
    requested: np.ndarray

    @property
    def scenarios(self) -> int:
        return len(self.labels)

    @property
    def per_scenario(self) -> int:
        """Combinations in each scenario (the grid of the choice axes)."""
        return math.prod(self.shape[i] for i in self.choice_axes)

    def scenario_of(self, index: np.ndarray) -> np.ndarray:
        """[g] scenario number of each combination of `index` ([axes, g])."""
        if not self.scenario_axes:
            return np.zeros(index.shape[1], dtype=np.int64)
        dims = [self.shape[i] for i in self.scenario_axes]
        return np.ravel_multi_index(index[list(self.scenario_axes)], dims).astype(np.int64)

    def rows_of(self, scenario: int, positions: np.ndarray) -> np.ndarray:
        """Grid rows of the choice-grid `positions` within `scenario`."""
        index = np.empty((len(self.shape), len(positions)), dtype=np.int64)
        choice_dims = [self.shape[i] for i in self.choice_axes]
        if self.choice_axes:
            index[list(self.choice_axes)] = np.unravel_index(positions, choice_dims)
        if self.scenario_axes:
            dims = [self.shape[i] for i in self.scenario_axes]
            picked = np.unravel_index(np.full(len(positions), scenario), dims)
            index[list(self.scenario_axes)] = picked
        return np.ravel_multi_index(index, self.shape).astype(np.int64)


def draw(n: int, size: int | None = None, seed: int = SAMPLE_SEED) -> np.ndarray:
    """The seeded sample's draw: `size` (default SAMPLE) of range(n) without replacement, in
    the order numpy's default_rng(seed).choice draws them (every position, in order, when
    n <= size)."""
    size = SAMPLE if size is None else size
    if n <= size:
        return np.arange(n)
    return np.random.default_rng(seed).choice(n, size, replace=False)


def outline_of(spec, metric: str, top: int, heat: tuple[str, str] | None, ranking) -> Outline:
    """The Outline of a sweep (`ranking`: the metrics ranked, `metric` among them)."""
    import itertools

    from engine.research.sweep_config import short_names

    names = [a.name for a in spec.axes]
    shape = tuple(len(a.values) for a in spec.axes)
    scen = tuple(i for i, n in enumerate(names) if n in spec.scenarios)
    choice = tuple(i for i in range(len(names)) if i not in scen)
    short = short_names(names)
    labels = tuple(
        ", ".join(
            f"{short[names[i]]}={spec.axes[i].values[k]:g}"
            for i, k in zip(scen, picked, strict=True)
        )
        for picked in itertools.product(*(range(shape[i]) for i in scen))
    )
    ranking = tuple(dict.fromkeys([metric, *ranking]))
    positions = (names.index(heat[0]), names.index(heat[1])) if heat else (0, None)
    outline = Outline(
        metric=metric,
        top=top,
        shape=shape,
        scenario_axes=scen,
        choice_axes=choice,
        labels=labels,
        ranking=ranking,
        lower=tuple(lower_is_better(m) for m in ranking),
        heat=positions,
        sample=np.empty(0, dtype=np.int64),
        requested=np.empty(0, dtype=np.int64),
    )
    sample = np.sort(draw(outline.per_scenario))
    return _with_sample(outline, sample)


def _with_sample(outline: Outline, sample: np.ndarray) -> Outline:
    """`outline` with its sample and the rows requested for it (and their neighbours)."""
    choice_dims = [outline.shape[i] for i in outline.choice_axes]
    wanted = [sample]
    if outline.choice_axes:
        at = np.array(np.unravel_index(sample, choice_dims))
        for k in range(len(choice_dims)):
            step = at[:, at[k] < choice_dims[k] - 1].copy()
            step[k] += 1
            wanted.append(np.ravel_multi_index(step, choice_dims))
    positions = np.unique(np.concatenate(wanted))
    rows = [outline.rows_of(s, positions) for s in range(outline.scenarios)]
    requested = np.unique(np.concatenate(rows)) if rows else positions
    return Outline(**{**outline.__dict__, "sample": sample, "requested": requested})


# ---- one chunk --------------------------------------------------------------------


@dataclass
class Digest:
    """The reduction of the combinations [start, stop) (see the module docstring)."""

    start: int
    stop: int
    count: np.ndarray  # [S] combinations per scenario
    tops: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]  # metric -> rows, values, scen
    beats: np.ndarray  # [S, 2] beat their benchmark on the metric, on CAGR
    bench: np.ndarray  # [S, 2, 2] benchmark's (min, max) of the metric, of CAGR
    kept: tuple[np.ndarray, np.ndarray]  # requested rows in the chunk, their metric
    heat: tuple[np.ndarray, np.ndarray, np.ndarray]  # cells, partials [C, W, 2], lengths
    heat_extra: np.ndarray  # [cells, 5]: count, +inf, -inf, bench min, bench max
    hist: tuple[np.ndarray, np.ndarray]  # fine bucket keys, counts
    span: np.ndarray  # [4]: metric min, max (finite), benchmark min, max
    benchmarked: frozenset = frozenset()  # of (metric, "cagr"): those with a benchmark value


def benchmark_column(columns: dict, metric: str, size: int) -> np.ndarray | None:
    """Each combination's benchmark's value of `metric` (engine.research.sweep_summary
    .benchmark_values, on a chunk's columns)."""
    from engine.report.plots import RELATIVE_NULLS

    column = f"benchmark_{metric}"
    if column in columns:
        return np.asarray(columns[column], dtype=float)
    if metric in RELATIVE_NULLS:
        return np.full(size, RELATIVE_NULLS[metric])
    return None


def beats(values: np.ndarray, benchmark: np.ndarray, metric: str) -> np.ndarray:
    """True where a combination is strictly better than its benchmark (lower where the
    metric ranks lower first); NaN never beats."""
    with np.errstate(invalid="ignore"):
        return values < benchmark if lower_is_better(metric) else values > benchmark


def digest(outline: Outline, start: int, stop: int, index: np.ndarray, columns: dict) -> Digest:
    """The Digest of the combinations [start, stop) (`index`: their grid positions,
    [axes, g]; `columns`: their statistics)."""
    rows = np.arange(start, stop, dtype=np.int64)
    scen = outline.scenario_of(index)
    n_scen = outline.scenarios
    tops = {
        metric: best_of(rows, np.asarray(columns[metric], dtype=float), scen, lower, outline.top)
        for metric, lower in zip(outline.ranking, outline.lower, strict=True)
        if metric in columns
    }
    metric = np.asarray(columns[outline.metric], dtype=float)
    won = np.zeros((n_scen, 2), dtype=np.int64)
    spread = np.full((n_scen, 2, 2), np.nan)
    benchmarked = set()
    for k, key in enumerate((outline.metric, "cagr")):
        bench = benchmark_column(columns, key, len(rows))
        if bench is None:
            continue
        benchmarked.add(key)
        hit = beats(np.asarray(columns[key], dtype=float), bench, key)
        won[:, k] = np.bincount(scen, weights=hit, minlength=n_scen).astype(np.int64)
        spread[:, k] = _ranges(bench, scen, n_scen)
    lo, hi = np.searchsorted(outline.requested, [start, stop])
    wanted = outline.requested[lo:hi]
    bench = benchmark_column(columns, outline.metric, len(rows))
    finite = metric[np.isfinite(metric)]
    span = np.array([_fmin(finite), _fmax(finite), np.nan, np.nan])
    if bench is not None:
        span[2:] = _fmin(bench), _fmax(bench)
    return Digest(
        start=start,
        stop=stop,
        count=np.bincount(scen, minlength=n_scen).astype(np.int64),
        tops=tops,
        beats=won,
        bench=spread,
        kept=(wanted, metric[wanted - start]),
        heat=_heat(outline, index, scen, metric, bench),
        heat_extra=_heat_extra(outline, index, scen, metric, bench),
        hist=fine_histogram(finite),
        span=span,
        benchmarked=frozenset(benchmarked),
    )


def _fmin(values: np.ndarray) -> float:
    return float(np.fmin.reduce(values)) if len(values) else math.nan


def _fmax(values: np.ndarray) -> float:
    return float(np.fmax.reduce(values)) if len(values) else math.nan


def _ranges(values: np.ndarray, groups: np.ndarray, n: int) -> np.ndarray:
    """[n, 2] (min, max) of the non-NaN `values` of each group (NaN for none)."""
    out = np.full((n, 2), np.nan)
    np.fmin.at(out[:, 0], groups, values)
    np.fmax.at(out[:, 1], groups, values)
    return out


def best_of(rows, values, scen, lower: bool, top: int):
    """(rows, values, scenarios) of the `top` best of each scenario: ordered by scenario,
    NaN last, value (ascending when `lower`), then row."""
    key = values if lower else -values
    nan = np.isnan(values)
    if len(rows) > top and (scen == scen[0]).all():
        # one scenario: keep those at or above the top-th key first (cheap), then sort
        fill = np.where(nan, np.inf, key)
        keep = np.flatnonzero(fill <= np.partition(fill, top - 1)[top - 1])
        rows, values, scen, key, nan = (a[keep] for a in (rows, values, scen, key, nan))
    order = np.lexsort((rows, key, nan, scen))
    scen_sorted = scen[order]
    first = np.searchsorted(scen_sorted, scen_sorted, side="left")
    chosen = order[np.arange(len(order)) - first < top]
    return rows[chosen], values[chosen], scen[chosen]


# ---- the heatmap: exact sums per cell ------------------------------------------------

HEAT_WIDTH = 16  # floats per cell's expansion at first (doubled when one needs more)


@numba.njit(cache=True)
def _grow_nb(partials, lengths, cells, values, which):
    """Add each finite values[k] to the expansion partials[cells[k], :, which] (Shewchuk's
    grow-expansion, as math.fsum: non-overlapping partials, increasing magnitude).
    Returns False when an expansion would outgrow the array (nothing is then reliable)."""
    width = partials.shape[1]
    for k in range(len(values)):
        x = values[k]
        if not np.isfinite(x):
            continue
        c = cells[k]
        i = 0
        for j in range(lengths[c, which]):
            y = partials[c, j, which]
            if abs(x) < abs(y):
                x, y = y, x
            hi = x + y
            lo = y - (hi - x)
            if lo != 0.0:
                partials[c, i, which] = lo
                i += 1
            x = hi
        if i >= width:
            return False
        partials[c, i, which] = x
        lengths[c, which] = i + 1
    return True


def _cells(outline: Outline, index: np.ndarray, scen: np.ndarray) -> np.ndarray:
    """Cell number of each combination: (scenario, x position, y position)."""
    hx, hy = outline.heat
    ny = outline.shape[hy] if hy is not None else 1
    y = index[hy] if hy is not None else 0
    return (scen * outline.shape[hx] + index[hx]) * ny + y


def n_cells(outline: Outline) -> int:
    hx, hy = outline.heat
    return outline.scenarios * outline.shape[hx] * (outline.shape[hy] if hy is not None else 1)


def exact_sums(cells: np.ndarray, columns: list[np.ndarray], n: int):
    """(cells present, partials [C, W, len(columns)], lengths [C, len(columns)]): the exact
    sum of each column's finite values per cell, as expansions."""
    present, inverse = np.unique(cells, return_inverse=True)
    width = HEAT_WIDTH
    while True:
        partials = np.zeros((len(present), width, len(columns)))
        lengths = np.zeros((len(present), len(columns)), dtype=np.int64)
        ok = all(
            _grow_nb(partials, lengths, inverse.astype(np.int64), np.asarray(c, float), k)
            for k, c in enumerate(columns)
        )
        if ok:
            return present, partials, lengths
        width *= 2


def _heat(outline, index, scen, metric, bench):
    excess = metric - bench if bench is not None else np.full(len(metric), np.nan)
    return exact_sums(_cells(outline, index, scen), [metric, excess], n_cells(outline))


def _heat_extra(outline, index, scen, metric, bench) -> np.ndarray:
    """[cells, 5]: finite count, +inf count, -inf count, benchmark min and max."""
    cells = _cells(outline, index, scen)
    n = n_cells(outline)
    out = np.zeros((n, 5))
    out[:, 0] = np.bincount(cells, weights=np.isfinite(metric), minlength=n)
    out[:, 1] = np.bincount(cells, weights=metric == np.inf, minlength=n)
    out[:, 2] = np.bincount(cells, weights=metric == -np.inf, minlength=n)
    out[:, 3:] = np.nan
    if bench is not None:
        out[:, 3:] = _ranges(bench, cells, n)
    return out


# ---- the histogram: fine buckets of the float's bits -------------------------------


def _ordered(values: np.ndarray) -> np.ndarray:
    """int64 keys in the order of the floats (-0.0 and 0.0 alike)."""
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.int64)
    return np.where(bits < 0, -(bits & np.int64(0x7FFFFFFFFFFFFFFF)), bits)


def fine_histogram(finite: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(bucket keys, counts) of finite values (HIST_SHIFT: the bucket of a key)."""
    keys, counts = np.unique(_ordered(finite) >> HIST_SHIFT, return_counts=True)
    return keys, counts.astype(np.int64)


def bucket_floor(keys: np.ndarray) -> np.ndarray:
    """The smallest float of each fine bucket (for a negative bucket: its value nearest 0
    minus the bucket's width, i.e. its lowest)."""
    low = keys << HIST_SHIFT
    bits = np.where(low < 0, (-low) | np.int64(-0x8000000000000000), low)
    return bits.view(np.float64)


def display_histogram(keys, counts, low: float, high: float, bins: int = HIST_BINS):
    """(edges [b + 1], counts [b]) of `bins` equal bins over [low, high], each fine bucket
    counted in the bin of its smallest value (clamped into [low, high])."""
    if not len(keys) or not (math.isfinite(low) and math.isfinite(high)):
        return np.array([]), np.array([], dtype=np.int64)
    if high <= low:
        return np.array([low, high]), np.array([int(counts.sum())], dtype=np.int64)
    edges = np.linspace(low, high, bins + 1)
    where = np.clip(bucket_floor(keys), low, high)
    slot = np.clip(np.searchsorted(edges, where, side="right") - 1, 0, bins - 1)
    return edges, np.bincount(slot, weights=counts, minlength=bins).astype(np.int64)


# ---- merging ------------------------------------------------------------------------


@dataclass
class Reduction:
    """Digests merged as they arrive (any order); `done` combinations so far."""

    outline: Outline
    done: int = 0
    count: np.ndarray = field(default=None)
    tops: dict = field(default_factory=dict)
    beats: np.ndarray = field(default=None)
    bench: np.ndarray = field(default=None)
    kept_rows: list = field(default_factory=list)
    kept_values: list = field(default_factory=list)
    partials: np.ndarray = field(default=None)
    lengths: np.ndarray = field(default=None)
    heat_extra: np.ndarray = field(default=None)
    hist_keys: np.ndarray = field(default=None)
    hist_counts: np.ndarray = field(default=None)
    span: np.ndarray = field(default=None)
    benchmarked: set = field(default_factory=set)

    def __post_init__(self) -> None:
        o = self.outline
        self.count = np.zeros(o.scenarios, dtype=np.int64)
        self.beats = np.zeros((o.scenarios, 2), dtype=np.int64)
        self.bench = np.full((o.scenarios, 2, 2), np.nan)
        cells = n_cells(o)
        self.partials = np.zeros((cells, HEAT_WIDTH, 2))
        self.lengths = np.zeros((cells, 2), dtype=np.int64)
        self.heat_extra = np.zeros((cells, 5))
        self.heat_extra[:, 3] = np.nan
        self.heat_extra[:, 4] = np.nan
        self.hist_keys = np.empty(0, dtype=np.int64)
        self.hist_counts = np.empty(0, dtype=np.int64)
        self.span = np.full(4, np.nan)

    def add(self, part: Digest) -> None:
        """Merge one chunk's digest."""
        self.done += part.stop - part.start
        self.count += part.count
        for metric, (rows, values, scen) in part.tops.items():
            lower = self.outline.lower[self.outline.ranking.index(metric)]
            if metric in self.tops:
                old = self.tops[metric]
                rows, values, scen = (
                    np.concatenate([a, b]) for a, b in zip(old, (rows, values, scen), strict=True)
                )
            self.tops[metric] = best_of(rows, values, scen, lower, self.outline.top)
        self.beats += part.beats
        self.benchmarked |= part.benchmarked
        self.bench[..., 0] = np.fmin(self.bench[..., 0], part.bench[..., 0])
        self.bench[..., 1] = np.fmax(self.bench[..., 1], part.bench[..., 1])
        self.kept_rows.append(part.kept[0])
        self.kept_values.append(part.kept[1])
        self._add_heat(part)
        self._add_hist(*part.hist)
        self.span[[0, 2]] = np.fmin(self.span[[0, 2]], part.span[[0, 2]])
        self.span[[1, 3]] = np.fmax(self.span[[1, 3]], part.span[[1, 3]])

    def _add_heat(self, part: Digest) -> None:
        cells, partials, lengths = part.heat
        extra = part.heat_extra
        self.heat_extra[:, :3] += extra[:, :3]
        self.heat_extra[:, 3] = np.fmin(self.heat_extra[:, 3], extra[:, 3])
        self.heat_extra[:, 4] = np.fmax(self.heat_extra[:, 4], extra[:, 4])
        for which in range(2):
            mask = np.arange(partials.shape[1])[None, :] < lengths[:, which][:, None]
            where = np.broadcast_to(cells[:, None], mask.shape)[mask]
            values = partials[:, :, which][mask]
            while not _grow_nb(self.partials, self.lengths, where, values, which):
                self._widen()

    def _widen(self) -> None:
        wider = np.zeros((self.partials.shape[0], 2 * self.partials.shape[1], 2))
        wider[:, : self.partials.shape[1]] = self.partials
        self.partials = wider

    def _add_hist(self, keys: np.ndarray, counts: np.ndarray) -> None:
        keys = np.concatenate([self.hist_keys, keys])
        counts = np.concatenate([self.hist_counts, counts])
        self.hist_keys, inverse = np.unique(keys, return_inverse=True)
        self.hist_counts = np.bincount(inverse, weights=counts).astype(np.int64)

    # -- what the summary reads ---------------------------------------------------------

    def top_rows(self, metric: str, scenario: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows, values) of the best of `scenario` by `metric`, best first."""
        rows, values, scen = self.tops[metric]
        mine = scen == scenario
        return rows[mine], values[mine]

    def kept(self) -> tuple[np.ndarray, np.ndarray]:
        """(requested rows, their metric), sorted by row."""
        rows = np.concatenate(self.kept_rows) if self.kept_rows else np.empty(0, np.int64)
        values = np.concatenate(self.kept_values) if self.kept_values else np.empty(0)
        order = np.argsort(rows, kind="stable")
        return rows[order], values[order]

    def heat_cells(self, scenarios: list[int]) -> dict[str, np.ndarray]:
        """The heatmap over the given scenarios: per (x, y) position, the combinations, the
        metric's mean, the mean of metric minus benchmark, the benchmark's min and max."""
        o = self.outline
        hx, hy = o.heat
        nx, ny = o.shape[hx], (o.shape[hy] if hy is not None else 1)
        per = nx * ny
        cells = np.concatenate([np.arange(per) + s * per for s in scenarios])
        extra = self.heat_extra[cells].reshape(len(scenarios), per, 5)
        counts = extra[..., 0].sum(axis=0)
        pos, neg = extra[..., 1].sum(axis=0), extra[..., 2].sum(axis=0)
        out = {"x": np.repeat(np.arange(nx), ny), "y": np.tile(np.arange(ny), nx)}
        out["combinations"] = (counts + pos + neg).astype(np.int64)
        for which, name in enumerate(("metric", "excess")):
            sums = np.array(
                [
                    math.fsum(
                        v
                        for s in scenarios
                        for v in self.partials[
                            s * per + c, : self.lengths[s * per + c, which], which
                        ]
                    )
                    for c in range(per)
                ]
            )
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.where(counts > 0, sums / np.where(counts > 0, counts, 1), np.nan)
            mean = np.where(
                pos > 0, np.where(neg > 0, np.nan, np.inf), np.where(neg > 0, -np.inf, mean)
            )
            out[name] = mean
        out["benchmark_min"] = np.fmin.reduce(extra[..., 3], axis=0)
        out["benchmark_max"] = np.fmax.reduce(extra[..., 4], axis=0)
        return out

    def histogram(self) -> tuple[np.ndarray, np.ndarray]:
        """(edges, counts) of the ranking metric over every combination (HIST_BINS bins
        between its smallest and largest finite value)."""
        return display_histogram(self.hist_keys, self.hist_counts, self.span[0], self.span[1])
