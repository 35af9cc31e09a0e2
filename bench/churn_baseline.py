"""Benchmark: our churn risk against a "Fighting Churn With Data" analyst, and `score` timing.

    python bench/churn_baseline.py [--quick] [--work DIR]

The analyst works the way Carl Gold's book teaches: observations at regular dates, behavioural
metrics scaled to a month (28 days) and per user, tenure, MRR and seats, contract timing;
skewed metrics logged, standardised and grouped by correlation; an L1 logistic regression and
gradient boosting (scikit-learn's HistGradientBoostingClassifier stands in for XGBoost), each
tuned on a later validation period. Both sides see only accounts, events and subscriptions, and
are compared on the same time split: at each cutoff date, train on what is known by then,
predict churn within 90 days for every active account, pool the cutoffs.

Data sets: the demo profile, and the holdout profile (churn mostly at renewal, usage protecting
little, other product): generated fresh, never tuned on.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.cluster import FeatureAgglomeration  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from health import db  # noqa: E402
from health.demo import generate  # noqa: E402
from health.pipeline.oneshot import warehouse  # noqa: E402
from health.scoring.train import auc, top_decile_lift  # noqa: E402

HORIZON = 90
STEP = 28  # the analyst observes every 28 days and scales metrics to 28 days
TABLES = ("accounts.csv", "events.parquet", "subscriptions.csv")

# ---------------------------------------------------------------------------------------------
# The analyst's data set: one row per account per observation date.

ANALYST_SQL = """
with
    obs as (select unnest($dates::DATE[]) as d),
    accounts as (
        select account_id, signup_date::DATE as signup_date, churn_date::DATE as churn_date,
            coalesce(plan, 'none') as plan, coalesce(segment, 'none') as segment
        from read_csv($accounts, all_varchar = true)
    ),
    active as (
        select a.account_id, o.d, a.signup_date, a.plan, a.segment
        from accounts as a, obs as o
        where a.signup_date <= o.d and (a.churn_date is null or a.churn_date > o.d)
    ),
    events as (
        select account_id::VARCHAR as account_id, event, user_id, event_time::DATE as day
        from read_parquet($events)
    ),
    windowed as (
        select e.*, o.d from events as e join obs as o on e.day > o.d - 28 and e.day <= o.d
    ),
    totals as (
        select account_id, d, count(*) as events, count(distinct user_id) as active_users,
            count(distinct day) as active_days
        from windowed group by all
    ),
    raw_periods as (
        select account_id, start_date::DATE as start_date, end_date::DATE as end_date,
            mrr::DOUBLE as mrr, seats::DOUBLE as seats
        from read_csv($subscriptions, all_varchar = true)
    ),
    -- Contract timing without peeking: a period lasting a whole number of years is an annual
    -- term, known when signed; any other end date (a cancellation) is written when the
    -- customer leaves, so it is never read before it happens.
    periods as (
        select *, bool_or(
            end_date is not null and date_diff('day', start_date, end_date) >= 360 and (
                date_diff('day', start_date, end_date) % 365.25 <= 3
                or date_diff('day', start_date, end_date) % 365.25 >= 362.25
            )
        ) over (partition by account_id order by start_date rows unbounded preceding) as annual
        from raw_periods
    ),
    contract as (
        select a.account_id, a.d, p.start_date, p.mrr, p.seats, p.annual
        from active as a asof left join periods as p
            on a.account_id = p.account_id and a.d >= p.start_date
    )
select
    a.account_id, a.d, a.plan, a.segment,
    date_diff('day', a.signup_date, a.d) as tenure_days,
    coalesce(t.events, 0) as events, coalesce(t.active_users, 0) as active_users,
    coalesce(t.active_days, 0) as active_days,
    c.mrr, c.seats,
    date_diff('day', c.start_date, a.d) as days_into_period,
    c.annual::INTEGER as annual,
    case when c.annual then 365 - date_diff('day', c.start_date, a.d) % 365 end
        as days_to_term_end
from active as a
left join totals as t using (account_id, d)
left join contract as c using (account_id, d)
"""

EVENT_COUNTS_SQL = """
with obs as (select unnest($dates::DATE[]) as d)
select e.account_id::VARCHAR as account_id, o.d, e.event, count(*) as n
from read_parquet($events) as e
join obs as o on e.event_time::DATE > o.d - 28 and e.event_time::DATE <= o.d
group by all
"""


def analyst_frame(folder: Path, dates: list[dt.date]) -> pl.DataFrame:
    """Metrics per account and observation date: per month, per user, tenure, contract."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    params = {
        "dates": dates,
        "accounts": str(folder / "accounts.csv"),
        "events": str(folder / "events.parquet"),
        "subscriptions": str(folder / "subscriptions.csv"),
    }
    base = con.sql(ANALYST_SQL, params=params).pl()
    counts = con.sql(EVENT_COUNTS_SQL, params={"dates": dates, "events": params["events"]}).pl()
    con.close()
    wide = counts.pivot(on="event", index=["account_id", "d"], values="n").fill_null(0)
    events = [c for c in wide.columns if c not in ("account_id", "d")]
    frame = base.join(wide, on=["account_id", "d"], how="left").with_columns(
        pl.col(events).fill_null(0)
    )
    users = pl.col("active_users").clip(1, None)
    return frame.with_columns(
        (pl.col("events") / users).alias("events_per_user"),
        (pl.col("active_days") / 28).alias("active_day_share"),
        (pl.col("active_users") / pl.col("seats")).alias("users_per_seat"),
        (pl.col("mrr") / pl.col("seats")).alias("mrr_per_seat"),
        *((pl.col(e) / users).alias(f"{e}_per_user") for e in events),
    )


def analyst_models(numeric: list[str]) -> dict[str, tuple[Pipeline, list[dict]]]:
    """The two model families and the hyperparameters the analyst tries."""
    grouped = Pipeline(
        [
            ("log", FunctionTransformer(lambda x: np.log1p(np.clip(x, 0, None)))),
            ("impute", SimpleImputer(strategy="median")),
            ("scale", StandardScaler()),
            # The book's metric groups: correlated metrics averaged into one score.
            ("group", FeatureAgglomeration(n_clusters=max(6, len(numeric) // 3))),
        ]
    )
    prep = ColumnTransformer(
        [
            ("num", grouped, numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["plan", "segment"]),
        ]
    )
    tree_prep = ColumnTransformer(
        [
            ("num", "passthrough", numeric),
            (
                "cat",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                ["plan", "segment"],
            ),
        ]
    )
    l1 = Pipeline([("prep", prep), ("model", LogisticRegression(l1_ratio=1.0, solver="liblinear"))])
    gb = Pipeline([("prep", tree_prep), ("model", HistGradientBoostingClassifier(random_state=0))])
    return {
        "FCWD L1 logistic": (l1, [{"model__C": c} for c in (0.005, 0.02, 0.05, 0.2, 1.0)]),
        "FCWD gradient boosting": (
            gb,
            [
                {"model__max_depth": d, "model__learning_rate": lr, "model__max_iter": n}
                for d, lr, n in ((3, 0.05, 200), (3, 0.1, 100), (5, 0.05, 200), (None, 0.1, 100))
            ],
        ),
    }


def analyst_predict(folder: Path, cutoff: dt.date, first: dt.date) -> pl.DataFrame:
    """Train on observations whose 90 days ended by the cutoff, predict at the cutoff."""
    dates = []
    d = cutoff
    while d >= first:
        dates.append(d)
        d -= dt.timedelta(days=STEP)
    frame = analyst_frame(folder, dates)
    accounts = pl.read_csv(folder / "accounts.csv", infer_schema=False).select(
        "account_id", pl.col("churn_date").str.to_date()
    )
    frame = frame.join(accounts, on="account_id").with_columns(
        y=(pl.col("churn_date") <= pl.col("d") + pl.duration(days=HORIZON)).fill_null(False)
    )
    numeric = [
        c
        for c in frame.columns
        if c not in ("account_id", "d", "plan", "segment", "churn_date", "y")
    ]
    train = frame.filter(pl.col("d") <= cutoff - dt.timedelta(days=HORIZON))
    test = frame.filter(pl.col("d") == cutoff)
    # Validation: the last quarter of labelled observations, trained on what was known before.
    val_from = train["d"].max() - dt.timedelta(days=91)
    fit_part = train.filter(pl.col("d") <= val_from - dt.timedelta(days=HORIZON))
    val_part = train.filter(pl.col("d") > val_from)
    out = test.select("account_id")
    for name, (pipe, grid) in analyst_models(numeric).items():
        best, best_auc = grid[0], -1.0
        for params in grid:
            if fit_part["y"].sum() < 5 or val_part["y"].sum() < 2:
                break
            model = clone(pipe).set_params(**params)
            model.fit(fit_part.to_pandas(), fit_part["y"].to_numpy())
            score = auc(val_part["y"].to_numpy(), model.predict_proba(val_part.to_pandas())[:, 1])
            if score is not None and score > best_auc:
                best, best_auc = params, score
        model = clone(pipe).set_params(**best).fit(train.to_pandas(), train["y"].to_numpy())
        out = out.with_columns(pl.Series(name, model.predict_proba(test.to_pandas())[:, 1]))
    return out


# ---------------------------------------------------------------------------------------------
# Ours: exactly what `python -m health score` does at the cutoff.


def ours_predict(folder: Path, cutoff: dt.date) -> tuple[pl.DataFrame, str, float]:
    """Our churn_risk for every account active at the cutoff, the model used, seconds."""
    start = time.perf_counter()
    with warehouse(folder, cutoff) as (con, _):
        risk = db.run(con, "select account_id, churn_risk as ours from mart_account_health")
        card = db.run(con, "select card from model_card")["card"][0]
    import json

    card = json.loads(card)
    return risk, card.get("model", card["status"]), time.perf_counter() - start


# ---------------------------------------------------------------------------------------------


def outcomes(folder: Path, cutoff: dt.date) -> pl.DataFrame:
    """Whether each account churned within 90 days after the cutoff (the answer key)."""
    accounts = pl.read_csv(folder / "accounts.csv", infer_schema=False).select(
        "account_id", pl.col("churn_date").str.to_date()
    )
    return accounts.with_columns(
        churned=pl.col("churn_date")
        .is_between(cutoff + dt.timedelta(days=1), cutoff + dt.timedelta(days=HORIZON))
        .fill_null(False)
    ).select("account_id", "churned")


def summarise(pooled: pl.DataFrame, models: list[str]) -> pl.DataFrame:
    """AUC, top-decile lift (within each cutoff, averaged) and mean predicted vs observed."""
    rows = []
    y = pooled["churned"].to_numpy().astype(int)
    for m in models:
        lifts = [
            top_decile_lift(g["churned"].to_numpy().astype(int), g[m].to_numpy())
            for _, g in pooled.group_by("cutoff")
        ]
        rows.append(
            {
                "model": m,
                "auc": auc(y, pooled[m].to_numpy()),
                "top_decile_lift": float(np.mean([v for v in lifts if v is not None])),
                "mean_predicted": float(pooled[m].mean()),
                "observed": float(y.mean()),
            }
        )
    return pl.DataFrame(rows)


def compare(name: str, folder: Path, cutoffs: list[dt.date]) -> pl.DataFrame:
    """Both sides at every cutoff, pooled."""
    three = folder.parent / f"{folder.name}-3tables"
    three.mkdir(exist_ok=True)
    for f in TABLES:
        shutil.copy(folder / f, three / f)
    first = pl.read_csv(three / "accounts.csv", infer_schema=False)["signup_date"].min()
    first = dt.date.fromisoformat(first)
    parts = []
    for cutoff in cutoffs:
        ours, used, seconds = ours_predict(three, cutoff)
        with threadpool_limits(1, "openmp"):
            analyst = analyst_predict(three, cutoff, first)
        part = (
            ours.join(analyst, on="account_id", how="inner")
            .join(outcomes(three, cutoff), on="account_id")
            .with_columns(cutoff=pl.lit(cutoff))
        )
        print(
            f"  {name} cutoff {cutoff}: {part.height} active accounts, "
            f"{int(part['churned'].sum())} churn within 90 days; ours ({used}) {seconds:.0f} s",
            flush=True,
        )
        parts.append(part)
    pooled = pl.concat(parts)
    pooled.write_parquet(folder.parent / f"{folder.name}-predictions.parquet")
    return summarise(pooled, ["ours", "FCWD L1 logistic", "FCWD gradient boosting"]).with_columns(
        dataset=pl.lit(name)
    )


def time_score(work: Path, n_accounts: int, n_events: int) -> tuple[float, int, int]:
    """Seconds for `python -m health score` on a CSV folder of n_accounts and ~n_events."""
    folder = work / f"score-{n_accounts}"
    if not (folder / "events.csv").exists():
        generate(folder, profile="demo", n_accounts=n_accounts)
        con = duckdb.connect()
        total = con.execute(f"select count(*) from '{folder / 'events.parquet'}'").fetchall()[0][0]
        keep = min(1.0, n_events / total)
        # A random share of every account's events, as CSV: the slow, common case.
        con.execute(
            f"COPY (SELECT * FROM '{folder / 'events.parquet'}' USING SAMPLE {keep * 100:.4f}% "
            f"(bernoulli, 7)) TO '{folder / 'events.csv'}' (HEADER)"
        )
        con.close()
        (folder / "events.parquet").unlink()
    with duckdb.connect() as con:
        n = con.execute("select count(*) from read_csv(?)", [str(folder / "events.csv")])
        n = n.fetchall()[0][0]
    as_of = pl.read_csv(folder / "accounts.csv", infer_schema=False)["signup_date"].max()
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "health",
            "score",
            "--data",
            str(folder),
            "--as-of",
            as_of,
            "--out",
            str(work / "scores.csv"),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start, n_accounts, n


def main() -> None:
    """Run the comparison on demo and holdout, then time `score`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 accounts, 2 cutoffs, no timing")
    parser.add_argument("--work", type=Path, default=Path("/tmp/health-bench"))
    parser.add_argument(
        "--datasets", nargs="+", default=["demo", "holdout"], choices=["demo", "holdout"]
    )
    parser.add_argument("--no-timing", action="store_true", help="skip timing `score`")
    args = parser.parse_args()
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    n = 300 if args.quick else None
    k = 2 if args.quick else 4
    results = []
    for profile in args.datasets:
        folder = work / f"{profile}{'-quick' if args.quick else ''}"
        if not (folder / "accounts.csv").exists():
            generate(folder, profile=profile, n_accounts=n)
        end = (
            duckdb.connect()
            .execute(f"select max(event_time)::DATE from '{folder / 'events.parquet'}'")
            .fetchall()[0][0]
        )
        cutoffs = [end - dt.timedelta(days=HORIZON + 91 * i) for i in range(k)][::-1]
        results.append(compare(profile, folder, cutoffs))
    table = pl.concat(results).select(
        "dataset", "model", "auc", "top_decile_lift", "mean_predicted", "observed"
    )
    with pl.Config(tbl_rows=20, float_precision=3, tbl_width_chars=120):
        print(table)
    if not (args.quick or args.no_timing):
        seconds, accounts, events = time_score(work, 2000, 1_000_000)
        print(f"score on {accounts:,} accounts / {events:,} events from CSV: {seconds:.1f} s")


if __name__ == "__main__":
    main()
