"""The members section of a blend's run tearsheet (or a config's in tranches), from
blend.json and members.csv (engine.report.blend_files): nothing is backtested again.

* the blend beside each member traded alone and the benchmark: one chart of values and
  a table of CAGR, volatility, Sharpe, max drawdown and Calmar (stats.json for the
  blend and the benchmark, blend.json for the members);
* each member's share of the blend: W_j times its decided target at each close, a
  stacked panel per member;
* return contributions (sum_i W_j target_{j,i} r_i per date) summed by calendar year
  and in total, beside the blend's own return summed the same way and `other`.

`view_config` presents a blend's config.yaml to the rest of the run page as a plain
config: its members' signals (`member:signal`), ranked regimes (`member:regime`) and
the joined regime names of regimes.csv.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.metrics import METRICS
from engine.report import plots
from engine.report import tearsheet_html as h
from engine.report.readback_blend import is_blended

SHOWN = ("cagr", "volatility", "sharpe", "max_drawdown", "calmar")


def view_config(config: dict, payload: dict | None, regimes: pd.DataFrame) -> dict:
    """config.yaml as the run page reads a plain config (module docstring); a plain
    config as it is."""
    if not is_blended(config) or payload is None:
        return config
    members = payload["members"]
    signals, scores, ranked = {}, {}, []
    if "blend" in config:
        for member, entry in zip(members, config["blend"], strict=True):
            name = member["name"]
            signals |= {f"{name}:{k}": v for k, v in (entry.get("signals") or {}).items()}
            scores |= {f"{name}:{k}": v for k, v in (entry.get("scores") or {}).items()}
            for regime in entry.get("regimes") or []:
                if regime.get("rank"):
                    rank = {**regime["rank"], "score": f"{name}:{regime['rank']['score']}"}
                    ranked.append({**regime, "name": f"{name}:{regime['name']}", "rank": rank})
    else:  # a config in tranches: one copy of its signals, its ranks per tranche
        signals, scores = dict(config.get("signals") or {}), dict(config.get("scores") or {})
        for member in members:
            for regime in config.get("regimes") or []:
                if regime.get("rank"):
                    ranked.append({**regime, "name": f"{member['name']}:{regime['name']}"})
    default = "|".join(m["regimes"][-1] for m in members)
    joined = [n for n in dict.fromkeys(regimes["regime"]) if n != default]
    listed = [*({**r, "shade": False} for r in ranked), *({"name": n} for n in joined)]
    return {
        **config,
        "signals": signals,
        "scores": scores,
        "regimes": [*listed, {"name": default}],
    }


def blend_section(run) -> str:
    """The members section (module docstring)."""
    payload, members = run.blend, run.members
    names = [m["name"] for m in payload["members"]]
    weights = {m["name"]: float(m["weight"]) for m in payload["members"]}
    what = (
        f"{payload['tranches']} tranches of the config, a 1/{payload['tranches']} share each, "
        "each deciding on its own day of the period"
        if payload.get("tranches")
        else "members, each with its own signals, regimes and schedule"
    )
    listing = ", ".join(f"{n} {h.esc(_pct(weights[n]))}" for n in names)
    note = (
        f'<p class="note">A blend of {len(names)} {h.esc(what)}: {h.esc(listing)}. The blend '
        "trades the weighted sum of their targets as one portfolio; each member alone trades "
        "its own targets on the same dates, with the same costs.</p>"
    )
    parts = [note, h.chart(_values_figure(run, names), "blend-values"), _versus(run, names)]
    universe = [c.removesuffix("_target") for c in members.columns if c.endswith("_target")]
    colors = plots.asset_colors(universe)
    for i, name in enumerate(names):
        figure = _share_figure(run, name, weights[name], universe, colors)
        parts.append(h.chart(figure, f"blend-share-{i}"))
    parts.append(_contributions(payload, names))
    return "\n".join(parts)


def _pct(value: float) -> str:
    return f"{value * 100:.4g}%"


def _alone(run, names: list[str]) -> pd.DataFrame:
    """Each member's values traded alone, one column per member, on the run's dates."""
    members = run.members
    return pd.DataFrame(
        {n: members.loc[members["member"] == n, "alone"].to_numpy() for n in names},
        index=run.values.index,
    )


def _values_figure(run, names: list[str]):
    from engine.report.tearsheet_figures import overlay_figure

    frame = pd.concat(
        [
            run.values[["strategy"]].rename(columns={"strategy": "blend"}),
            _alone(run, names).rename(columns=lambda n: f"{n} alone"),
            run.values[["benchmark"]],
        ],
        axis=1,
    )
    return overlay_figure(frame, "The blend, each member traded alone, and the benchmark", log=True)


def _versus(run, names: list[str]) -> str:
    """A table: the blend, each member alone, the benchmark (a row each)."""
    rows = []
    sources = [("blend", run.stats["strategy"], "strategy")]
    sources += [(f"{n} alone", run.blend["alone"][n], f"alone.{n}") for n in names]
    sources += [("benchmark", run.stats["benchmark"], "benchmark")]
    for label, values, key in sources:
        cells = "".join(h.cell(values.get(k), METRICS[k].format, f"{key}.{k}") for k in SHOWN)
        rows.append(f"<tr><td>{h.esc(label)}</td>{cells}</tr>")
    headers = ["Portfolio", *(METRICS[k].label for k in SHOWN)]
    return h.table(headers, rows, "blend-versus")


def _share_figure(run, name: str, weight: float, universe: list[str], colors: dict):
    """Member `name`'s share of the blend (W_j times its decided target) at each close,
    stacked by ticker."""
    import plotly.graph_objects as go

    rows = run.members[run.members["member"] == name]
    dates = run.values.index.strftime("%Y-%m-%d").to_numpy()
    keep = plots.sampled_points(len(dates))
    figure = go.Figure()
    for ticker in universe:
        share = weight * rows[f"{ticker}_target"].to_numpy(dtype=float)
        if not np.any(share):
            continue
        figure.add_trace(
            go.Scatter(
                x=dates[keep],
                y=share[keep].astype(np.float32),
                name=ticker,
                mode="lines",
                stackgroup="share",
                line={"width": 0.5, "color": colors[ticker]},
                fillcolor=colors[ticker],
                hovertemplate="%{y:.1%}",
            )
        )
    figure.update_layout(
        **plots.LAYOUT,
        height=300,
        title=f"{name}: its share of the blend (weight {_pct(weight)} times its target)",
        yaxis={"tickformat": ".0%", "range": [0, max(weight, 1e-9) * 1.04]},
        legend_traceorder="normal",
    )
    return figure


def _contributions(payload: dict, names: list[str]) -> str:
    """Contributions by year and in total (blend.json), with the blend's return and
    `other` beside them."""
    columns = [*names, "blend", "other"]
    table = payload["contributions"]
    rows = []
    for row in table["years"]:
        cells = "".join(
            h.cell(row.get(c), "pct", f"contributions.{row['year']}.{c}") for c in columns
        )
        rows.append(f"<tr><td>{row['year']}</td>{cells}</tr>")
    total = "".join(
        h.cell(table["total"].get(c), "pct", f"contributions.total.{c}") for c in columns
    )
    rows.append(f"<tr><td>total</td>{total}</tr>")
    note = (
        '<p class="note">Each member\'s return contribution, sum over tickers of W_j x its '
        "target x the ticker's daily return, summed over the days of each year (and in "
        "total); `blend` is the blend's daily return summed the same way, `other` the rest: "
        "drift between trades, costs and cash interest. From blend.json.</p>"
    )
    return note + h.table(["Year", *columns], rows, "blend-contributions")
