"""The tearsheet of one run folder: header, equity and drawdown, every signal, each
external series as known at each close, each ranked regime's scores and selections,
weights, rolling statistics, monthly and yearly returns, the statistics table, the
bootstrap intervals (when the run had --bootstrap), trades (with why each date traded),
the resolved config and the manifest."""

from __future__ import annotations

from engine.metrics import METRICS
from engine.report import fmt, plots
from engine.report import tearsheet_data as data
from engine.report import tearsheet_figures as figures
from engine.report import tearsheet_html as h
from engine.report.tearsheet_series import series_section
from strategies.signals import SIGNAL_KINDS


def benchmark_label(weights: dict) -> str:
    """'SPY' for {SPY: 1}, else 'SPY 60% + AGG 40%'; the long form {weights, rebalance}
    is named by its weights."""
    if "weights" in weights:
        weights = weights["weights"]
    if len(weights) == 1 and float(next(iter(weights.values()))) == 1.0:
        return str(next(iter(weights)))
    return " + ".join(f"{t} {fmt(float(w), 'pct')}" for t, w in weights.items())


def _rule_text(rule) -> str:
    if isinstance(rule, dict):
        return f"at a {fmt(rule['threshold'], 'pct')} drift"
    return "annually" if rule == "annual" else str(rule)


def benchmark_rebalance_text(config: dict) -> str:
    """', rebalanced quarterly' when the benchmark's own rule differs from the strategy's
    (the long form's `rebalance`), else ''."""
    own = config["benchmark"].get("rebalance") if "weights" in config["benchmark"] else None
    strategy = config.get("execution", {}).get("rebalance", "none")
    if own is None or own == strategy:
        return ""
    return ", never rebalanced" if own == "none" else f", rebalanced {_rule_text(own)}"


def run_page(run: data.RunFolder) -> str:
    name = run.config["name"]
    label = benchmark_label(run.config["benchmark"]) + benchmark_rebalance_text(run.config)
    labels = {"strategy": name, "benchmark": f"benchmark ({label})"}
    parts = [
        ("equity", "Equity and drawdown", _equity(run, labels)),
        *([("members", "Members", _members(run))] if run.blend is not None else []),
        ("signals", "Signals", _signals(run)),
        *([("series", "External series", series_section(run))] if run.series is not None else []),
        *([("rankings", "Rankings", _rankings(run))] if run.ranked else []),
        ("weights", "Weights", _weights(run)),
        *([("exposure", "Exposure", _exposure(run))] if "scale" in run.weights else []),
        ("rolling", "Rolling one-year statistics", _rolling(run, labels)),
        ("returns", "Monthly and yearly returns", _returns(run, labels)),
        ("statistics", "Statistics", _statistics(run)),
        *([("bootstrap", "Bootstrap intervals", _bootstrap(run))] if run.bootstrap else []),
        ("trades", "Trades", _trades(run)),
        ("config", "Resolved config and provenance", _provenance(run)),
    ]
    sections = [_header(run, labels), h.nav([(a, t) for a, t, _ in parts])]
    sections += [h.section(anchor, title, body) for anchor, title, body in parts]
    return h.page(f"{name} tearsheet", sections)


def _header(run: data.RunFolder, labels: dict) -> str:
    period, config, manifest = run.stats["period"], run.config, run.manifest
    execution = config["execution"]
    ranges = ", ".join(
        f"{h.esc(t)} {h.esc(d['first'])} → {h.esc(d['last'])}"
        for t, d in manifest.get("data", {}).items()
    )
    rows = [
        ("Period", h.esc(f"{period['start']} → {period['end']} ({period['days']:,} trading days)")),
        ("Config sha256", f"<code>{h.esc(manifest.get('config_sha256', 'n/a'))}</code>"),
        ("Data", h.esc(manifest.get("data_source", "")) + (f": {ranges}" if ranges else "")),
        ("Benchmark", h.esc(labels["benchmark"])),
        (
            "Execution",
            h.esc(
                f"{execution['timing']}, fees {execution['fees_bps']:g} bps, slippage "
                f"{execution['slippage_bps']:g} bps, rebalance {execution['rebalance']}"
                + _decide(execution)
            ),
        ),
        ("Folder", h.esc(run.path.resolve().name)),
    ]
    target = target_vol_label(config.get("portfolio") or {})
    if target is not None:
        rows.insert(-1, ("Volatility target", h.esc(target)))
    return (
        f"<header><h1>{h.esc(config['name'])}</h1>"
        f'<p class="description">{h.esc(config.get("description") or "")}</p>'
        + h.meta(rows)
        + h.headline_cards(run.stats, labels["benchmark"])
        + "</header>"
    )


def _decide(execution: dict) -> str:
    """', decided weekly' / ', decided monthly' (', day 3' with a decide_day); nothing for
    daily (and older folders)."""
    decide = execution.get("decide") or "daily"
    day = execution.get("decide_day")
    return "" if decide == "daily" else f", decided {decide}" + (f", day {day}" * (day is not None))


def target_vol_label(portfolio: dict) -> str | None:
    """'10% a year over 63 dates, at most 100%', or None without a volatility target."""
    target = portfolio.get("target_vol")
    if not target:
        return None
    cap = target.get("max_exposure", 1.0)
    return (
        f"{fmt(float(target['annual']), 'pct')} a year over {target['window']} dates, at most "
        f"{fmt(float(cap), 'pct')}"
    )


def _equity(run: data.RunFolder, labels: dict) -> str:
    drawdown = data.drawdowns(run.values, run.initial_cash)
    figure = figures.equity_figure(run.dates, run.values, drawdown, labels, data.regime_runs(run))
    return h.chart(figure, "equity")


def _members(run: data.RunFolder) -> str:
    from engine.report.tearsheet_blend import blend_section

    return blend_section(run)


def _signal_title(name: str, spec: dict) -> tuple[str, dict]:
    """Chart title and line names of a signal, as its kind declares them."""
    kind = SIGNAL_KINDS[spec["type"]]
    return kind.title(name, spec), kind.labels(spec)


def _signals(run: data.RunFolder) -> str:
    specs = run.config.get("signals") or {}
    if not specs:
        return '<p class="note">This config has no signals: it holds its one regime throughout.</p>'
    if run.signals is None:
        return _aligned_only(run, list(specs))
    parts = [
        '<p class="note">Each signal on its own calendar; triangles mark where it turns '
        "on or off, shading shows when it is on. Regimes use it from the first close "
        "at which its bar is final.</p>"
    ]
    for i, (name, spec) in enumerate(specs.items()):
        frame = run.signals[run.signals["signal"] == name]
        title, names = _signal_title(name, spec)
        parts.append(h.chart(figures.signal_figure(title, frame, names), f"signal-{i}"))
    return "\n".join(parts)


def _aligned_only(run: data.RunFolder, names: list[str]) -> str:
    """A folder made before signals.csv existed: the aligned states from regimes.csv."""
    import plotly.graph_objects as go

    figure = go.Figure()
    for i, name in enumerate(names):
        figure.add_trace(
            go.Scatter(
                x=run.dates,
                y=run.regimes[name].to_numpy() + 1.2 * i,
                name=name,
                mode="lines",
                line_shape="hv",
            )
        )
    figure.update_layout(
        **plots.LAYOUT,
        height=300,
        title="Signals as usable at each close",
        yaxis={"showticklabels": False},
    )
    note = (
        '<p class="note">This folder has no signals.csv (made by an older version): only '
        "each signal's aligned on/off state is shown.</p>"
    )
    return note + h.chart(figure, "signal-aligned")


STACKED_FROM = 5  # assets: from this many on, lines of held and target weights tangle


def _weights(run: data.RunFolder) -> str:
    """Held weights as a stacked area for ranked runs and wide universes (trade dates
    marked with their reason); otherwise held weights and traded targets as lines."""
    held, targets = data.held_and_targets(run)
    if run.ranked or len(targets.columns) >= STACKED_FROM:
        colors = plots.asset_colors(list(targets.columns))
        reasons = data.trade_reasons(run)
        return h.chart(figures.holdings_figure(run.dates, held, colors, reasons), "weights")
    return h.chart(figures.weights_figure(run.dates, held, targets), "weights")


def _exposure(run: data.RunFolder) -> str:
    """The volatility target's scale (weights.csv `scale`) beside the exposure held."""
    exposure = 1.0 - run.weights["cash_held"].to_numpy()
    scale = run.weights["scale"].to_numpy()
    target = target_vol_label(run.config.get("portfolio") or {}) or "volatility target"
    note = (
        '<p class="note">Each decided target is scaled so that its volatility over the window '
        "meets the target (at most the cap); the scale shown is the one of the target each "
        f"date trades to. Average exposure held: {h.esc(fmt(float(exposure.mean()), 'pct'))}."
        "</p>"
    )
    return note + h.chart(figures.exposure_figure(run.dates, exposure, scale, target), "exposure")


def _rankings(run: data.RunFolder) -> str:
    panels = data.rank_panels(run)
    if not panels:
        return '<p class="note">This folder has no ranks.csv: no rankings to show.</p>'
    held, _ = data.held_and_targets(run)
    colors = plots.asset_colors([c for c in held.columns if c != "cash"])
    parts = [
        '<p class="note">Each ranked regime at its decision dates: every candidate\'s score '
        "(lines), the candidates holding a slot (filled dots while the regime was decided, "
        "open dots while another was, crosses where a pick failed min_score or its filter), "
        "and below, the weight of each slot and of the fallback. Shaded: the regime was "
        "decided and part of its target went to the fallback (orange), or another regime "
        "was decided (grey).</p>"
    ]
    end = run.dates[-1]
    for i, panel in enumerate(panels):
        parts.append(h.chart(figures.rank_figure(panel, colors, end), f"rank-{i}"))
    return "\n".join(parts)


def _rolling(run: data.RunFolder, labels: dict) -> str:
    rolling = data.rolling_year(run.values, run.initial_cash, run.periods, run.risk_free)
    if not rolling:
        return f'<p class="note">The run is shorter than one year ({run.periods} returns).</p>'
    return h.chart(figures.rolling_figure(rolling, labels, run.periods), "rolling")


def _returns(run: data.RunFolder, labels: dict) -> str:
    monthly = data.period_returns(run.values, run.initial_cash, "month")
    yearly = data.period_returns(run.values, run.initial_cash, "year")
    heat = figures.monthly_figure(data.monthly_table(monthly["strategy"]))
    bars = figures.bars_figure(
        yearly, labels, "Calendar-year returns (first and last years partial)"
    )
    return h.chart(heat, "monthly") + h.chart(bars, "yearly")


def _statistics(run: data.RunFolder) -> str:
    period = run.stats["period"]
    note = h.esc(
        f"From stats.json: {period['start']} → {period['end']}, {period['days']:,} trading days, "
        f"{period['periods_per_year']} periods a year, risk-free {_risk_free_text(period)}."
    )
    table = h.table(["Statistic", "Strategy", "Benchmark"], h.stats_rows(run.stats), "stats")
    return f'<p class="note">{note}</p>' + table


BOOTSTRAP_KEYS = ("cagr", "sharpe", "max_drawdown", "total_return")  # bootstrap.json's
QUANTILE_LABELS = {"p05": "5%", "p50": "Median", "p95": "95%"}


def _bootstrap(run: data.RunFolder) -> str:
    """bootstrap.json (`rotation run --bootstrap N`): each statistic's 5%, median and 95%
    over the resamples, strategy above its benchmark, and how often the strategy's total
    return beat the benchmark's; each cell keyed to its place in the file."""
    boot = run.bootstrap
    note = h.esc(
        f"Stationary bootstrap of the daily returns (strategy and benchmark resampled on the "
        f"same dates): {boot['resamples']:,} resamples, mean block {boot['mean_block']:g} "
        f"trading days, seed {boot['seed']}. From bootstrap.json."
    )
    rows = []
    for key in BOOTSTRAP_KEYS:
        label, kind = METRICS[key].label, METRICS[key].format
        for side in ("strategy", "benchmark"):
            cells = "".join(
                h.cell(boot[side][key][q], kind, f"bootstrap.{side}.{key}.{q}")
                for q in QUANTILE_LABELS
            )
            name = h.esc(label) if side == "strategy" else ""
            rows.append(f"<tr><td>{name}</td><td>{side}</td>{cells}</tr>")
    beats = h.cell(boot["beats_benchmark"], "pct", "bootstrap.beats_benchmark")
    rows.append(f"<tr><td>Strategy beats benchmark</td><td></td><td></td>{beats}<td></td></tr>")
    headers = ["Statistic", "Portfolio", *QUANTILE_LABELS.values()]
    return f'<p class="note">{note}</p>' + h.table(headers, rows, "bootstrap")


def _risk_free_text(period: dict) -> str:
    rate = period["risk_free"]
    return f"{rate}'s daily return" if isinstance(rate, str) else fmt(rate, "pct")


TRADE_KINDS = {"quantity": "num", "fill_price": "num", "value": "money", "fees": "money"}


def _trades(run: data.RunFolder) -> str:
    """Each portfolio's fills; the strategy's say why their date traded (trades.csv's
    reason, absent in older folders), with a count of trade dates by reason."""
    trades = run.trades
    columns = ["date", "ticker", "quantity", "fill_price", "value", "fees"]
    out = [_reason_counts(run)]
    for portfolio in ("strategy", "benchmark"):
        shown = columns + ["reason"] * (portfolio == "strategy" and "reason" in trades)
        rows = trades.loc[trades["portfolio"] == portfolio, shown]
        table = h.table(shown, h.frame_rows(rows, TRADE_KINDS), f"trades-{portfolio}", scroll=True)
        # a no-trade band's skipped orders are rows of quantity 0 on a trade date
        fills, dates = int((rows["quantity"] != 0).sum()), rows["date"].nunique()
        summary = (
            f"{portfolio.capitalize()}: {fills:,} fill{'s' * (fills != 1)} "
            f"on {dates:,} date{'s' * (dates != 1)}"
        )
        opened = " open" if portfolio == "strategy" else ""
        out.append(f"<details{opened}><summary>{h.esc(summary)}</summary>{table}</details>")
    return "\n".join(out)


def _reason_counts(run: data.RunFolder) -> str:
    """'Trade dates by reason: first date 1, regime change 11, ...' (kinds in order of
    first appearance; empty without reasons)."""
    reasons = data.trade_reasons(run)
    if reasons is None or reasons.empty:
        return ""
    kinds = reasons.str.split(":").str[0].value_counts(sort=False)
    counts = ", ".join(f"{kind} {count:,}" for kind, count in kinds.items())
    return f'<p class="note">Strategy trade dates by reason: {h.esc(counts)}.</p>'


def _provenance(run: data.RunFolder) -> str:
    manifest = run.manifest
    rows = [
        "<tr>"
        + "".join(f"<td>{h.esc(v)}</td>" for v in (t, d.get("first"), d.get("last"), d.get("rows")))
        + f"<td><code>{h.esc(d.get('sha256'))}</code></td></tr>"
        for t, d in manifest.get("data", {}).items()
    ]
    versions = ", ".join(f"{k} {v}" for k, v in manifest.get("versions", {}).items())
    facts = [
        ("Config file", h.esc(manifest.get("config_path", "n/a"))),
        ("Created (UTC)", h.esc(manifest.get("created_utc", "n/a"))),
        ("Data sha256", f"<code>{h.esc(manifest.get('data_sha256', 'n/a'))}</code>"),
        ("Versions", h.esc(versions)),
    ]
    data_table = h.table(["Ticker", "First", "Last", "Rows", "sha256"], rows, "data")
    return h.pre(run.config_text) + h.meta(facts) + data_table
