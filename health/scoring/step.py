"""The scoring step: scorecard, churn model, health score, tier and drivers per account and week."""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass

import polars as pl
from threadpoolctl import threadpool_limits

from health import db
from health.db import catalog
from health.scoring import decision as model_health
from health.scoring import drivers, features, scorecard
from health.scoring import store as model_store
from health.scoring.fit import (
    BACKTEST_TYPES,
    Fitted,
    backtest_rows,
    design,
    train,
    versions,
)
from health.scoring.train import (
    NotEnoughHistory,
)

log = logging.getLogger(__name__)


# A refresh within this many days after the model was trained scores with it instead of
# training again (retrained weekly, as churn outcomes take weeks to become known anyway),
# unless the data before its training date changed.
RETRAIN_AFTER_DAYS = 7

# params.rebuild_from on a full refresh (health/pipeline/incremental.py): score every week
FULL = dt.date.min


HISTORY_COLUMNS = (
    "account_id",
    "week_end",
    "health_score",
    "churn_risk",
    "tier",
    "score_source",
    *scorecard.COMPONENTS,
    "drivers",
)


@dataclass(frozen=True)
class Trained:
    """What the training step hands the scoring step: the model (None: the scorecard carries the
    score), why not when there is none, and whether it was reused rather than trained now."""

    fitted: Fitted | None
    reason: str | None = None
    tried: dict | None = None
    reused: bool = False


def fit(frame: pl.DataFrame, as_of: dt.date, reuse: Fitted | None = None) -> Trained:
    """The churn model as of a date: `reuse` (see `reusable`) if given, else trained on the
    features (the scorecard's components among them) of every week whose outcome is known."""
    if reuse is not None:
        return Trained(reuse, reused=True)
    if "scorecard_score" not in frame.columns:
        frame = _with_scorecard(frame, scorecard.config())
    try:
        # OpenMP threads fight over small data on a 2-core machine: one thread trains the
        # gradient boosting ~15x faster here than the default two. OpenBLAS's threads (the
        # linear model's products, the calibrations) spin as well, beside the two families'
        # threads: one (a setting of the whole process, so set here, around them both) cut the
        # linear family's CPU by a third.
        with threadpool_limits(limits=1):
            return Trained(train(frame, as_of))
    except NotEnoughHistory as exc:
        return Trained(None, str(exc), getattr(exc, "card", None))
    except Exception as exc:  # noqa: BLE001 - valid data never stops the scores: scorecard
        log.warning("the churn model could not be trained", exc_info=True)
        return Trained(None, f"the model could not be trained ({type(exc).__name__}: {exc})")


# Account-weeks scored (and explained) at a time, in whole weeks: the model's input tables and
# the drivers' long form are a few times the block's size, whatever the number of accounts.
BLOCK_ROWS = 50_000


def week_blocks(frame: pl.DataFrame, rows: int = BLOCK_ROWS) -> list[pl.DataFrame]:
    """The frame (in week order) in slices of whole weeks, each of about `rows` rows or one
    week: everything a block's rows are compared with (ranks within their week) is in it."""
    if not frame["week_end"].is_sorted():
        frame = frame.sort("week_end", maintain_order=True)
    sizes = frame.group_by("week_end", maintain_order=True).len()["len"].to_list()
    blocks, start, size = [], 0, 0
    for n in sizes:
        if size and size + n > rows:
            blocks.append(frame.slice(start, size))
            start, size = start + size, 0
        size += n
    return [*blocks, frame.slice(start, size)]


def score(
    frame: pl.DataFrame,
    as_of: dt.date,
    reuse: Fitted | None = None,
    since: dt.date = FULL,
    trained: Trained | None = None,
) -> tuple[pl.DataFrame, dict, Fitted | None]:
    """Health per account and week: the model's calibrated risk, or the scorecard in cold start.

    `reuse`: a model trained at most RETRAIN_AFTER_DAYS before (see `reusable`), scored with
    instead of training anew; `trained`: the training step's result (then neither trains).
    `since`: score only the weeks from this day on (a model trains on every week all the same)."""
    card, rows = scorer(frame, as_of, reuse, trained)
    blocks = week_blocks(frame.filter(pl.col("week_end") >= since))
    return pl.concat([rows(b) for b in blocks]), card, card.pop("_fitted")


def scorer(frame: pl.DataFrame, as_of: dt.date, reuse=None, trained=None):
    """(the model card, a function that scores rows): `score`'s two halves. The function takes
    whole weeks (the scorecard ranks within a week) and gives each row its health, risk and
    tier; the card's `_fitted` is the model (None: the scorecard carries the score)."""
    card_cfg = scorecard.config()
    known = frame["churned"].drop_nulls()
    base = float(known.mean()) if known.sum() > 0 else card_cfg.base_rate
    trained = trained or fit(frame, as_of, reuse)
    fitted, reason, tried = trained.fitted, trained.reason, trained.tried
    if fitted is not None:
        card = fitted.card
    else:
        card = {
            **(tried or {}),
            "status": "fallback" if tried else "cold_start",
            "message": (
                f"{'Fallback' if tried else 'Cold start'}: {reason}. The transparent scorecard "
                "carries the score, and churn_risk is a rough mapping of it, not a calibrated "
                "probability."
            ),
            "base_rate": base,
            "score_note": f"scorecard: {reason}",
        }
    if not trained.reused:
        card = {
            **card,
            "trained_as_of": str(as_of),
            "trained_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
        }
    card = {
        **card,
        "as_of": str(as_of),
        "horizon_days": features.HORIZON_DAYS,
        "versions": versions(),
        "tiers": {
            "healthy_from": card_cfg.healthy_from,
            "at_risk_below": card_cfg.at_risk_below,
            "health": (
                "100 / (1 + risk at the next decision point / the usual such risk)"
                if fitted
                else "the scorecard score"
            ),
        },
        "scorecard": {n: w for n, (w, _) in card_cfg.components.items()},
    }
    if "message" not in card:
        card["message"] = _summary(card)
    card.setdefault("score_note", f"model: {card.get('earns_place', {}).get('reason', '')}")

    def rows(block: pl.DataFrame) -> pl.DataFrame:
        if "scorecard_score" not in block.columns:
            block = _with_scorecard(block, card_cfg)
        if fitted is not None:
            block = _model_health(block, fitted)
        else:
            block = block.with_columns(
                health_score=pl.col("scorecard_score"),
                churn_risk=scorecard.risk_from_health(pl.col("scorecard_score"), base),
                score_source=pl.lit("scorecard"),
            )
        return block.with_columns(tier=scorecard.tier(pl.col("health_score"), card_cfg))

    return {**card, "_fitted": fitted}, rows


def _model_health(frame: pl.DataFrame, fitted: Fitted) -> pl.DataFrame:
    """The model's churn risk, its risk at the next decision point and the health from it. The
    decision point moves only rows with a renewal further away: the others' risk is already it."""
    usual, predict = fitted.card["usual_decision_risk"], fitted.estimator.predict_proba
    moved = frame.select(model_health.MOVED).to_series().fill_null(False).to_numpy()
    # One thread, as in training: gradient boosting's prediction spread over both cores of a
    # busy 2-core machine spent 38 CPU s on 10,000 accounts' weeks (one thread: a few).
    with threadpool_limits(limits=1):
        risk = predict(design(frame, fitted.numeric))[:, 1]
        decision = risk.copy()
        if moved.any():
            later = model_health.at_decision(frame.filter(pl.Series(moved)))
            decision[moved] = predict(design(later, fitted.numeric))[:, 1]
    return frame.with_columns(
        churn_risk=pl.Series(risk),
        decision_risk=pl.Series(decision),
        score_source=pl.lit("model"),
    ).with_columns(health_score=model_health.health(pl.col("decision_risk"), usual))


def _with_scorecard(frame: pl.DataFrame, card_cfg) -> pl.DataFrame:
    """The scorecard's components and score beside the features (ranks within each week)."""
    return frame.hstack(scorecard.score(frame, card_cfg).drop("account_id", "week_end"))


def _summary(card: dict) -> str:
    bt, churned = card["backtest"], card["training_window"]["churned_accounts"]
    return (
        f"{card['model'].replace('_', ' ')} trained on {churned} "
        f"churned accounts; out-of-time AUC {bt['auc']:.2f}, top-decile lift "
        f"{bt['top_decile_lift']:.1f}x, mean predicted {bt['mean_predicted']:.1%} vs "
        f"{bt['observed_rate']:.1%} observed."
    )


# The training step's result for the scoring step of the same refresh, by connection and date:
# the features it read stay loaded for scoring instead of being read again.
_TRAINED: dict[tuple[int, dt.date], tuple[pl.DataFrame, Trained]] = {}


def refresh_model(con, as_of: dt.date) -> None:
    """Refresh step: the churn model, the saved one while it may score this date (`reusable`:
    retrained weekly), else trained anew on the features the refresh built."""
    reuse = reusable(con, db.published_file(con), as_of)
    if reuse is not None and _backtest_kept(con, Trained(reuse, reused=True), _since(con)):
        # The saved model scores the weeks computed again, and its stored backtest stays: those
        # weeks are all `refresh_scores` reads (after one day, one week instead of every week).
        frame = features.load(con, _since(con))
    else:
        frame = features.load(con)
    # the scorecard beside the features once, for training and scoring alike
    frame = _with_scorecard(frame, scorecard.config())
    _TRAINED.clear()  # one refresh at a time per process: never hand on an older one's model
    _TRAINED[(id(con), as_of)] = (frame, fit(frame, as_of, reuse))


def refresh_scores(con, as_of: dt.date) -> None:
    """Refresh step: score the weeks to compute again (every week on a full refresh), write the
    health tables, the model card (and save a model trained by `refresh_model`) and the model's
    out-of-time backtest predictions (model_backtest, the renewal track record's).

    A past week's score stays as it was computed then: history is what the health looked like
    at the time, and a retrained model does not rewrite it (`refresh --full` does)."""
    if (id(con), as_of) not in _TRAINED:
        refresh_model(con, as_of)
    frame, trained = _TRAINED.pop((id(con), as_of))
    since = _since(con)
    database = db.published_file(con)
    # every week, before `score` keeps the new; the stored rows when they are provably the same
    backtest = None if _backtest_kept(con, trained, since) else backtest_rows(trained.fitted, frame)
    card, rows = scorer(frame, as_of, trained=trained)
    fitted = card.pop("_fitted")
    renewals = db.run(con, "select account_id, renewal_date from stg_accounts")
    history, now = [], []
    # block by block of whole weeks: the model's inputs and the drivers' long form stay small
    for block in week_blocks(frame.filter(pl.col("week_end") >= since)):
        block = _renewal_now(renewals, rows(block), as_of)
        block = block.with_columns(drivers=drivers.explain(block))
        history.append(block.select(HISTORY_COLUMNS))
        now.append(block.filter(pl.col("week_end") == as_of))
    del frame, block
    history, now = pl.concat(history), pl.concat(now)
    if not trained.reused:
        try:
            card = model_store.save(database, fitted.estimator if fitted else None, card)
        except OSError as exc:  # a read-only models folder must not stop the refresh
            log.warning("could not save the model for %s: %s", database, exc)
    if since == FULL:
        db.write_frame(con, "mart_health_history", history)
    else:
        con.execute("DELETE FROM mart_health_history WHERE week_end >= ?", [since])
        with db.registered(con, "_new_history", history):
            con.execute("INSERT INTO mart_health_history BY NAME SELECT * FROM _new_history")
    db.write_frame(con, "mart_account_health", current(con, now, as_of))
    if backtest is not None:
        db.write_frame(con, "model_backtest", backtest, BACKTEST_TYPES)
    con.execute(
        "CREATE OR REPLACE TABLE model_card AS SELECT ?::VARCHAR AS card", [json.dumps(card)]
    )


def _backtest_kept(con, trained: Trained, since: dt.date) -> bool:
    """Whether the stored backtest predictions are what `backtest_rows` would make again: the
    same model made them (reused, with the same folds), and no row they read can have changed,
    as the weeks computed again (from `since`) start after the last test week's outcome was
    known (its features are kept, and a churn date that moved would have moved `since` to it)."""
    if not trained.reused or since == FULL or not db.table_exists(con, "model_backtest"):
        return False
    est = trained.fitted.estimator
    horizon = dt.timedelta(days=est.horizon_days)
    made = {
        (f + 1, trained.fitted.card.get("model"), *(fold[k] for k in KEPT_FOLD))
        for f, fold in enumerate(est.folds_)
    }
    stored = con.execute(
        "select distinct fold, model, trained_to::varchar, test_from::varchar, test_to::varchar "
        "from model_backtest"
    ).fetchall()
    last_test = max(dt.date.fromisoformat(fold["test_to"]) for fold in est.folds_)
    return set(stored) == made and since > last_test + horizon


KEPT_FOLD = ("train_to", "test_from", "test_to")


def _since(con) -> dt.date:
    """The first week to score again (params.rebuild_from), or FULL without a stored history."""
    if not db.table_exists(con, "mart_health_history"):
        return FULL
    rows = con.execute("select rebuild_from from params").fetchall()
    return rows[0][0] if rows and rows[0][0] is not None else FULL


def reusable(con, database, as_of: dt.date) -> Fitted | None:
    """The model the last refresh saved, when it may score this as-of date: trained on or at
    most RETRAIN_AFTER_DAYS - 1 days before it (never after: no leakage), by the same library
    versions on the same features, with no data before its training date changed since (the
    first day whose data differ from what the last refresh read, params.changed_from, and a
    load's earliest new event day, `meta.events_changed_from`, are after it). Else None."""
    card = model_store.read_card(con)
    if database is None or not card or card.get("status") != "model":
        return None
    trained = dt.date.fromisoformat(card.get("trained_as_of") or "0001-01-01")
    if not 0 <= (as_of - trained).days < RETRAIN_AFTER_DAYS or card.get("versions") != versions():
        return None
    changed = catalog.meta(con).get("events_changed_from")
    if changed and (changed == "all" or dt.date.fromisoformat(changed) <= trained):
        return None
    # In a refresh the events step has replaced the load's marker with the manifests' and
    # sources' difference (health/pipeline/incremental.py; FULL when not compared).
    rows = con.execute("select changed_from from params").fetchall()
    if rows and rows[0][0] is not None and FULL < rows[0][0] <= trained:
        return None
    numeric = features.known_in_training(con)
    if numeric != card.get("numeric_features"):
        return None
    estimator = model_store.load(database)
    if not hasattr(estimator, "fold_calibrators_"):  # saved before the backtest was kept
        return None
    return Fitted(estimator, numeric, card)


def _renewal_now(renewals: pl.DataFrame, frame: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """Fill today's days to renewal from accounts.renewal_date (`renewals`: account_id,
    renewal_date) for the drivers. Only today's: the column is an export-time snapshot, so past
    weeks (and the model) never see it."""
    return (
        frame.join(renewals, on="account_id", how="left")
        .with_columns(
            days_to_renewal=pl.when(
                pl.col("days_to_renewal").is_null()
                & (pl.col("week_end") == as_of)
                & (pl.col("renewal_date") > as_of)
            )
            .then((pl.col("renewal_date") - pl.lit(as_of)).dt.total_days().cast(pl.Float64))
            .otherwise(pl.col("days_to_renewal"))
        )
        .drop("renewal_date")
    )


def current(con, frame: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """The as-of date's rows (accounts active at the as-of date) with what changed since the
    calendar week 4 weeks before."""
    comps = list(scorecard.COMPONENTS)
    now = frame.filter(pl.col("week_end") == as_of)
    # 4 weeks ago: the calendar week 4 weeks before the as-of date's, named by its Sunday
    week_4w_ago = as_of - dt.timedelta(days=as_of.weekday() + 22)
    earlier = db.run(
        con,
        f"select {', '.join(HISTORY_COLUMNS)} from mart_health_history where week_end = $w",
        w=week_4w_ago,
    )
    before = earlier.select(
        "account_id",
        pl.col("health_score").alias("health_4w_ago"),
        pl.col("drivers").alias("drivers_4w_ago"),
        *(pl.col(c).alias(f"{c}_4w_ago") for c in comps),
    )
    moved = [
        pl.struct(pl.lit(c).alias("name"), (pl.col(c) - pl.col(f"{c}_4w_ago")).round(0).alias("d"))
        for c in comps
    ]
    d = pl.element().struct.field("d")
    signed = d.cast(pl.Int64).cast(pl.String)
    changes = (
        pl.concat_list(moved)
        .list.eval(pl.element().filter(d.abs() >= 5))
        .list.eval(pl.element().sort_by(d.abs(), descending=True).head(2))
        .list.eval(
            pl.format(
                "{} {}",
                pl.element().struct.field("name"),
                pl.when(d > 0).then(pl.format("+{}", signed)).otherwise(signed),
            )
        )
        .list.join(", ")
    )
    new = (
        pl.col("drivers")
        .str.split("; ")
        .list.set_difference(pl.col("drivers_4w_ago").fill_null("").str.split("; "))
        .list.join("; ")
    )
    accounts = db.run(
        con, "select account_id, name, segment, csm_owner, renewal_date from stg_accounts"
    )
    return (
        now.join(before, on="account_id", how="left")
        .join(accounts.drop("segment"), on="account_id", how="left")
        .with_columns(
            health_change_4w=pl.col("health_score") - pl.col("health_4w_ago"),
            components_moved=changes,
            new_drivers=new,
        )
        .select(
            *HISTORY_COLUMNS,
            "name",
            "segment",
            "plan",
            "csm_owner",
            "arr",
            "seats",
            "days_to_renewal",
            "active_users_28d",
            "events_28d",
            "health_4w_ago",
            "health_change_4w",
            "components_moved",
            "new_drivers",
        )
        .sort("churn_risk", descending=True)
    )
