"""The demo generator: seeded files in the contract's shape, an honest answer key beside them."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from health.demo import PROFILES, generate

DATA_FILES = (
    "accounts.csv",
    "events.parquet",
    "users.csv",
    "subscriptions.csv",
    "tickets.csv.gz",
    "surveys.csv",
    "touchpoints.csv",
)
TRUTH_FILES = ("moments.csv", "lookalikes.csv", "accounts.csv", "profile.json")
COLUMNS = {
    "accounts": "account_id name signup_date churn_date plan segment industry region arr csm_owner "
    "renewal_date",
    "events": "account_id event_time event user_id feature value",
    "users": "user_id account_id name email title role is_champion created_at deactivated_at",
    "subscriptions": "account_id start_date end_date mrr seats plan",
    "tickets": "ticket_id account_id opened_at closed_at priority status topic csat",
    "surveys": "account_id user_id responded_at score comment",
    "touchpoints": "account_id occurred_at kind sentiment author note",
}


def read(folder: Path, table: str) -> pl.DataFrame:
    """One table of a data folder, every CSV column as text (IDs stay IDs)."""
    if table == "events":
        return pl.read_parquet(folder / "events.parquet")
    name = "tickets.csv.gz" if table == "tickets" else f"{table}.csv"
    return pl.read_csv(folder / name, infer_schema=False)


def utc(text: str | None) -> datetime | None:
    """An ISO timestamp, with or without offset, as an aware UTC datetime."""
    if text is None:
        return None
    t = datetime.fromisoformat(text)
    return t.astimezone(UTC) if t.tzinfo else t.replace(tzinfo=UTC)


def weekly(events: pl.DataFrame, account_id: str) -> dict[date, int]:
    """Events per week (Monday) of one account."""
    rows = (
        events.filter(pl.col("account_id") == account_id)
        .group_by(pl.col("event_time").dt.truncate("1w").dt.date().alias("week"))
        .len()
        .iter_rows()
    )
    return dict(rows)


def mean_weeks(counts: dict[date, int], first: date, weeks: int) -> float:
    """Mean weekly events over `weeks` weeks from the Monday on or before `first` (missing = 0)."""
    monday = first - timedelta(days=first.weekday())
    return sum(counts.get(monday + timedelta(weeks=k), 0) for k in range(weeks)) / weeks


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, Path]:
    """A 60-account company: quick to build, for shape and determinism."""
    out = tmp_path_factory.mktemp("small") / "data"
    return out, generate(out, n_accounts=60, seed=3)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict:
    """The default demo company (~600 accounts), built once for the story tests."""
    out = tmp_path_factory.mktemp("demo") / "data"
    steps: list[str] = []
    truth = generate(out, progress=steps.append)
    return {
        "out": out,
        "truth": truth,
        "steps": steps,
        "events": read(out, "events"),
        "moments": pl.read_csv(truth / "moments.csv", try_parse_dates=True),
    }


def planted(demo: dict, kind: str) -> list[tuple[str, date]]:
    """(account_id, started_on) of the planted moments of one kind."""
    m = demo["moments"].filter(pl.col("planted") & (pl.col("kind") == kind))
    return m.select("account_id", "started_on").rows()


def test_same_seed_gives_the_same_bytes_and_another_seed_differs(small, tmp_path):
    out, truth = small
    again = generate(tmp_path / "again", n_accounts=60, seed=3)
    generate(tmp_path / "other", n_accounts=60, seed=4)
    for name in DATA_FILES:
        assert (out / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name
    for name in TRUTH_FILES:
        assert (truth / name).read_bytes() == (again / name).read_bytes(), name
    assert (out / "events.parquet").read_bytes() != (
        tmp_path / "other" / "events.parquet"
    ).read_bytes()


def test_truth_is_written_beside_the_folder_never_inside(small):
    out, truth = small
    assert truth == out.parent / "data.truth"
    assert sorted(p.name for p in out.iterdir()) == sorted(DATA_FILES)
    assert all((truth / name).exists() for name in TRUTH_FILES)


def test_every_file_has_the_contract_columns_and_unique_keys(small):
    out, _ = small
    for table, names in COLUMNS.items():
        assert read(out, table).columns == names.split(), table
    assert read(out, "accounts")["account_id"].is_unique().all()
    assert read(out, "users")["user_id"].is_unique().all()
    assert read(out, "tickets")["ticket_id"].is_unique().all()
    subs = read(out, "subscriptions")
    assert subs.is_unique().all()  # line items: only an exact repeat would be a duplicate
    assert subs.filter(pl.col("seats").is_null()).height > 0  # add-on lines carry no seats
    events = read(out, "events")
    assert events.schema["event_time"] == pl.Datetime("us", "UTC")
    assert events.schema["value"] == pl.Float64
    assert events["value"].null_count() > 0 and events["value"].drop_nulls().len() > 0


def test_every_reference_resolves(small):
    out, _ = small
    accounts = set(read(out, "accounts")["account_id"])
    users = read(out, "users")
    for table in ("events", "users", "subscriptions", "tickets", "surveys", "touchpoints"):
        assert set(read(out, table)["account_id"]) <= accounts, table
    owner = dict(users.select("user_id", "account_id").iter_rows())
    for table in ("events", "surveys"):
        pairs = read(out, table).select("user_id", "account_id").unique().iter_rows()
        assert all(owner[u] == a for u, a in pairs), table


def test_values_stay_in_their_ranges(small):
    out, _ = small
    accounts = read(out, "accounts").with_columns(pl.col("arr").cast(pl.Float64))
    assert (accounts["arr"] >= 0).all()
    assert accounts.filter(pl.col("churn_date") < pl.col("signup_date")).is_empty()
    scores = read(out, "surveys")["score"].cast(pl.Int64)
    assert scores.min() >= 0 and scores.max() <= 10
    tickets = read(out, "tickets")
    csat = tickets["csat"].drop_nulls().cast(pl.Int64)
    assert csat.min() >= 1 and csat.max() <= 5
    assert set(tickets["priority"]) <= {"low", "normal", "high", "urgent"}
    assert set(read(out, "touchpoints")["sentiment"]) <= {"green", "yellow", "red"}
    champions = read(out, "users").filter(pl.col("is_champion") == "true")
    assert champions["account_id"].is_unique().all() and champions.height == accounts.height


def test_contracts_tell_one_continuous_story_per_account(small):
    """Plan lines follow each other without gaps; add-on lines ride on plan lines; the account's
    ARR is twelve times the MRR of the lines open last, and it renews when they end."""
    out, _ = small
    accounts = read(out, "accounts")
    subs = read(out, "subscriptions").with_columns(pl.col("mrr").cast(pl.Float64))
    plans = subs.filter(pl.col("seats").is_not_null()).sort("account_id", "start_date")
    addons = subs.filter(pl.col("seats").is_null())
    assert addons.join(plans, on=["account_id", "start_date", "end_date"], how="anti").is_empty()
    last = {}
    for account, start, end, plan in plans.select(
        "account_id", "start_date", "end_date", "plan"
    ).iter_rows():
        if account in last:
            assert last[account][0] == start, account  # each line starts where the last ended
        assert end is None or end > start, account
        last[account] = (end, start, plan)
    monthly = 0
    for account, signup, churn, plan, arr, renewal in accounts.select(
        "account_id", "signup_date", "churn_date", "plan", "arr", "renewal_date"
    ).iter_rows():
        end, start, current = last[account]
        open_last = subs.filter((pl.col("account_id") == account) & (pl.col("start_date") == start))
        assert subs.filter(pl.col("account_id") == account)["start_date"].min() == signup
        assert float(arr) == open_last["mrr"].sum() * 12 and plan == current, account
        if churn:
            assert end == churn and renewal is None, account
        else:
            assert renewal == end, account  # the current term's end, or the next billing day
        lasts = (date.fromisoformat(end) - date.fromisoformat(start)).days
        monthly += 28 <= lasts <= 31
    assert monthly > 0  # monthly payers are billed month by month


def test_nobody_uses_the_product_outside_their_lifetime(small):
    out, _ = small
    accounts = read(out, "accounts")
    life = {
        a: (date.fromisoformat(s), c and date.fromisoformat(c))
        for a, s, c in accounts.select("account_id", "signup_date", "churn_date").iter_rows()
    }
    users = read(out, "users")
    window = {
        u: (utc(c), utc(d))
        for u, c, d in users.select("user_id", "created_at", "deactivated_at").iter_rows()
    }
    spans = (
        read(out, "events")
        .group_by("account_id", "user_id")
        .agg(pl.col("event_time").min().alias("first"), pl.col("event_time").max().alias("last"))
    )
    for account, user, first, last in spans.iter_rows():
        signup, churn = life[account]
        assert first.date() >= signup, account
        assert churn is None or last.date() < churn, account
        created, deactivated = window[user]
        assert first > created, user
        assert deactivated is None or last < deactivated, user
    # A few exports carry an explicit offset, to exercise normalisation.
    assert users["created_at"].str.ends_with("+02:00").any()


def test_the_default_demo_reports_its_steps_and_has_the_advertised_size(demo):
    assert demo["steps"][:2] == ["accounts", "subscriptions"] and "events" in demo["steps"]
    assert 1_000_000 <= demo["events"].height <= 1_600_000
    accounts = read(demo["out"], "accounts")
    assert accounts.height == 600
    assert 0.2 <= accounts["churn_date"].is_not_null().mean() <= 0.3


def test_every_moment_kind_and_look_alike_is_planted(demo):
    counts = dict(demo["moments"].filter(pl.col("planted")).group_by("kind").len().iter_rows())
    assert set(counts) == {
        "stalled_onboarding",
        "early_wow",
        "engagement_drop",
        "champion_left",
        "usage_spike",
        "expansion",
        "promoter",
    }
    assert all(25 <= n <= 50 for n in counts.values()), counts
    looks = pl.read_csv(demo["truth"] / "lookalikes.csv")
    assert set(looks["kind"]) == {"holiday_dip", "one_week_gap", "slow_decline"}
    assert looks.filter(pl.col("kind") == "holiday_dip")["account_id"].unique().to_list() == ["*"]


def test_engagement_drops_show_in_the_events(demo):
    fell = []
    for account, started in planted(demo, "engagement_drop"):
        counts = weekly(demo["events"], account)
        before = mean_weeks(counts, started - timedelta(weeks=12), 12)
        after = mean_weeks(counts, started + timedelta(weeks=1), 4)
        fell.append(after <= 0.5 * before)
    # Tiny teams are noisy; nearly every drop must still be plain to see.
    assert sum(fell) >= 0.9 * len(fell)


def test_a_champion_who_left_is_never_seen_again(demo):
    users = read(demo["out"], "users").filter(pl.col("is_champion") == "true")
    champion = dict(users.select("account_id", "user_id").iter_rows())
    for account, started in planted(demo, "champion_left"):
        seen = demo["events"].filter(pl.col("user_id") == champion[account])
        assert seen["event_time"].max().date() < started, account


def test_an_expansion_is_a_bigger_contract_starting_that_day(demo):
    subs = read(demo["out"], "subscriptions").with_columns(
        pl.col("start_date").str.to_date(), pl.col("seats").cast(pl.Float64).cast(pl.Int64)
    )
    for account, started in planted(demo, "expansion"):
        rows = subs.filter((pl.col("account_id") == account) & pl.col("seats").is_not_null())
        seats = dict(rows.sort("start_date").select("start_date", "seats").iter_rows())
        starts = sorted(seats)
        k = starts.index(started)
        assert k > 0 and seats[started] > seats[starts[k - 1]], account


def test_a_promoter_flip_follows_a_passive_or_detractor_answer(demo):
    surveys = read(demo["out"], "surveys").with_columns(pl.col("score").cast(pl.Int64))
    for account, started in planted(demo, "promoter"):
        answers = surveys.filter(pl.col("account_id") == account).sort("responded_at")
        before = answers.filter(pl.col("responded_at").str.slice(0, 10) < started.isoformat())
        on = answers.filter(pl.col("responded_at").str.slice(0, 10) == started.isoformat())
        assert before["score"][-1] <= 8 and on["score"].max() >= 9, account


def test_the_truth_is_complete_for_contracts_and_nps(demo):
    """Every seat increase in subscriptions and every NPS flip up is in the truth."""
    moments = demo["moments"]
    recorded = set(moments.select("account_id", "kind", "started_on").iter_rows())
    subs = read(demo["out"], "subscriptions").with_columns(pl.col("seats").cast(pl.Float64))
    ups = (
        subs.drop_nulls("seats")
        .sort("account_id", "start_date")
        .filter(
            (pl.col("account_id") == pl.col("account_id").shift())
            & (pl.col("seats") > pl.col("seats").shift())
        )
    )
    for account, start in ups.select("account_id", "start_date").iter_rows():
        assert (account, "expansion", date.fromisoformat(start)) in recorded
    surveys = read(demo["out"], "surveys").with_columns(pl.col("score").cast(pl.Int64))
    low = set()
    for account, when, score in (
        surveys.sort("account_id", "responded_at")
        .select("account_id", "responded_at", "score")
        .iter_rows()
    ):
        if score >= 9 and account in low:
            assert (account, "promoter", date.fromisoformat(when[:10])) in recorded
            low.discard(account)
        elif score <= 8:
            low.add(account)


def test_holidays_are_quiet_for_everyone_and_look_alikes_are_no_crises(demo):
    per_day = demo["events"].group_by(pl.col("event_time").dt.date().alias("day")).len()
    count = dict(per_day.iter_rows())
    # Christmas to New Year: ~75 % down, per day, against the first half of December.
    christmas = sum(count.get(date(2025, 12, 24) + timedelta(d), 0) for d in range(9)) / 9
    before = sum(count.get(date(2025, 12, 1) + timedelta(d), 0) for d in range(14)) / 14
    assert christmas < 0.35 * before
    looks = pl.read_csv(demo["truth"] / "lookalikes.csv", try_parse_dates=True)
    quiet = looks.filter(pl.col("account_id") != "*")
    crises = demo["moments"].filter(pl.col("moment") == "crisis")
    assert set(quiet["account_id"]).isdisjoint(set(crises["account_id"]))
    for account, started in (
        quiet.filter(pl.col("kind") == "one_week_gap")
        .select("account_id", "started_on")
        .iter_rows()
    ):
        gap = demo["events"].filter(
            (pl.col("account_id") == account)
            & pl.col("event_time").dt.date().is_between(started, started + timedelta(6))
        )
        assert gap.is_empty(), account


def test_the_holdout_company_is_a_different_product(tmp_path):
    generate(tmp_path / "holdout", profile="holdout", n_accounts=40, seed=1)
    names = set(read(tmp_path / "holdout", "events")["event"])
    demo_names = {e.name for e in PROFILES["demo"].events}
    assert names and names.isdisjoint(demo_names)
    assert set(PROFILES) >= {"demo", "holdout"}


def test_an_unknown_profile_is_refused_with_the_choices(tmp_path):
    with pytest.raises(ValueError, match="demo, holdout"):
        generate(tmp_path / "x", profile="nope")


def test_the_field_company_stalls_for_a_while_then_gets_going(tmp_path):
    # The third profile: small crews whose stalled onboardings end (4-12 weeks at 5-30 % of the
    # level they reach later), a different product and a southern-hemisphere year.
    truth = generate(tmp_path / "field", profile="field", n_accounts=80, seed=2)
    events = read(tmp_path / "field", "events")
    assert set(events["event"]).isdisjoint({e.name for e in PROFILES["demo"].events})
    holidays = {h["name"] for h in json.loads((truth / "profile.json").read_text())["holidays"]}
    assert "summer_break" in holidays
    accounts = read(tmp_path / "field", "accounts").select(
        "account_id", pl.col("signup_date").str.to_date()
    )
    stalled = pl.read_csv(truth / "moments.csv").filter(
        (pl.col("kind") == "stalled_onboarding") & pl.col("planted")
    )
    weeks = (
        events.join(accounts, on="account_id")
        .with_columns(
            age=(pl.col("event_time").dt.date() - pl.col("signup_date")).dt.total_days() // 7
        )
        .group_by("account_id")
        .agg(
            first=(pl.col("age") < 4).sum() / 4,
            later=((pl.col("age") >= 16) & (pl.col("age") < 24)).sum() / 8,
        )
    )
    got_going = weeks.join(stalled.select("account_id"), on="account_id").filter(
        pl.col("later") > 0
    )
    assert got_going.height >= 3
    assert (got_going["first"] < 0.5 * got_going["later"]).mean() >= 0.75


def test_a_company_too_short_for_any_moment_still_writes_its_truth(tmp_path):
    # Six weeks of a small company: no moment can be planted yet; the truth table is empty but
    # typed, and the profile counts every kind as zero (it used to crash on the untyped frame).
    truth = generate(tmp_path / "short", profile="holdout", seed=3, n_accounts=20, months=1.5)
    moments = pl.read_csv(truth / "moments.csv", schema_overrides={"planted": pl.Boolean})
    assert moments.columns[:3] == ["account_id", "moment", "kind"]
    counts = json.loads((truth / "profile.json").read_text())["counts"]
    assert sum(counts["moments"].values()) == moments.height
    assert counts["events"] > 0
