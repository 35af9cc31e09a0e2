"""Mapping files: the engine feature by feature, errors that point home, and every shipped
recipe loading and scoring its tool's fixture export (tests/fixtures/exports/)."""

from __future__ import annotations

import gzip
import json
import shutil
import time
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from health import db as health_db
from health.cli import app
from health.db import catalog
from health.ingest.mapfile import RECIPES, MappingError, key_lines, line_of, resolve
from health.ingest.mappings import apply

EXPORTS = Path(__file__).parent / "fixtures" / "exports"
AS_OF = "2025-06-30"


def run(tmp_path: Path, toml: str, files: dict[str, str | bytes]) -> dict[str, pl.DataFrame]:
    """Write the files and the mapping, apply it, read every table written back as text."""
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    for name, body in files.items():
        raw = body.encode() if isinstance(body, str) else body
        (data / name).write_bytes(gzip.compress(raw) if name.endswith(".gz") else raw)
    (data / "mapping.toml").write_text(toml)
    out = tmp_path / "out"
    apply(data, [data / "mapping.toml"], out)
    return {p.stem: pl.read_csv(p, infer_schema=False) for p in sorted(out.glob("*.csv"))}


def lines(rows: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def test_renames_and_constants(tmp_path):
    out = run(
        tmp_path,
        """
[tables.accounts]
source = "crm.csv"
[tables.accounts.columns]
account_id = "Company ID"
name = "Company"
signup_date = "Since"
segment = { value = "SMB" }
""",
        {
            "crm.csv": "Company ID,Company,Since,Other\n"
            "007,Acme,2024-03-01,x\n008,Birch,2024-04-02,y\n"
        },
    )
    acc = out["accounts"]
    assert acc.columns == ["account_id", "name", "signup_date", "segment"]
    assert acc["account_id"].to_list() == ["007", "008"]  # IDs stay text
    assert acc["segment"].to_list() == ["SMB", "SMB"]
    assert acc["signup_date"].to_list() == ["2024-03-01", "2024-04-02"]


def test_value_maps_turn_words_and_scores_into_sentiment(tmp_path):
    out = run(
        tmp_path,
        """
[tables.touchpoints]
source = "notes.csv"
[tables.touchpoints.columns]
account_id = "acct"
occurred_at = "day"
[tables.touchpoints.columns.sentiment]
column = "health"
[tables.touchpoints.columns.sentiment.map]
good = "green"
ok = "yellow"
poor = "red"
5 = "green"
4 = "green"
3 = "yellow"
2 = "red"
1 = "red"
""",
        {
            "notes.csv": "acct,day,health\na,2025-01-02,Good\nb,2025-01-03, poor \n"
            "c,2025-01-04,4.0\nd,2025-01-05,1\ne,2025-01-06,unknown\n"
        },
    )
    # Unmapped values pass through, so the loader reports them with the row they are on.
    assert out["touchpoints"]["sentiment"].to_list() == ["green", "red", "green", "red", "unknown"]


def test_epoch_seconds_and_milliseconds_and_iso_offsets(tmp_path):
    out = run(
        tmp_path,
        """
[tables.events]
source = "ev.csv"
[tables.events.columns]
account_id = "a"
event = "e"
event_time = { column = "s", time = "epoch_s" }
[tables.accounts]
source = "ev.csv"
[tables.accounts.columns]
account_id = "a"
signup_date = { column = "ms", time = "epoch_ms" }
[tables.users]
source = "ev.csv"
[tables.users.columns]
user_id = "e"
account_id = "a"
created_at = "iso"
""",
        {"ev.csv": "a,e,s,ms,iso\nx,login,1735732800,1735732800500,2025-01-01T14:00:00+02:00\n"},
    )
    assert out["events"]["event_time"][0] == "2025-01-01T12:00:00"
    assert out["accounts"]["signup_date"][0] == "2025-01-01"
    assert out["users"]["created_at"][0] == "2025-01-01T12:00:00"  # offsets become UTC


def test_wrong_epoch_unit_is_an_error_that_names_the_line_and_column(tmp_path):
    toml = """[tables.events]
source = "ev.csv"
[tables.events.columns]
account_id = "a"
event = "e"
event_time = { column = "ms", time = "epoch_s" }
"""
    with pytest.raises(MappingError) as err:
        run(tmp_path, toml, {"ev.csv": "a,e,ms\nx,login,1735732800500\n"})
    message = str(err.value)
    assert "mapping.toml line 6" in message and "'ms'" in message and "epoch_ms" in message


def test_ndjson_gz_and_paths_into_nested_json(tmp_path):
    rows = [
        {
            "event": "Report Created",
            "properties": {
                "time": 1735732800,
                "distinct_id": "u1",
                "$insert_id": "i1",
                "company_id": 42,
            },
        },
        {"event": "Login", "properties": {"time": 1735736400, "company_id": 43, "n": 2}},
    ]
    out = run(
        tmp_path,
        """
[tables.events]
source = "export*.json.gz"
[tables.events.columns]
account_id = "properties.company_id"
event_time = { column = "properties.time", time = "epoch_s" }
event = "event"
user_id = "properties.distinct_id"
value = "properties.n"
feature = "properties.$insert_id"
""",
        {"export_1.json.gz": lines(rows)},
    )
    ev = out["events"]
    assert ev["account_id"].to_list() == ["42", "43"]
    assert ev["user_id"].to_list() == ["u1", None]
    assert ev["feature"].to_list() == ["i1", None]
    assert ev["value"].to_list() == [None, "2"]


def test_json_text_inside_a_csv_column(tmp_path):
    out = run(
        tmp_path,
        """
[tables.events]
source = "tracks.csv"
[tables.events.columns]
account_id = "context.groupId"
event_time = "ts"
event = "event"
""",
        {"tracks.csv": 'event,ts,context\nx,2025-01-01,"{""groupId"": ""g1""}"\ny,2025-01-02,\n'},
    )
    assert out["events"]["account_id"].to_list() == ["g1", None]


def test_several_files_for_one_table_are_stacked_by_column_name(tmp_path):
    out = run(
        tmp_path,
        """
[tables.events]
source = ["part-*.csv*", "late.json"]
[tables.events.columns]
account_id = "acct"
event_time = "at"
event = "name"
user_id = { column = ["user", "device"] }
""",
        {
            "part-1.csv": "acct,at,name,user\na,2025-01-01,x,u1\n",
            "part-2.csv.gz": "name,acct,at,device\ny,b,2025-01-02,d9\n",
            "late.json": lines([{"acct": "c", "at": "2025-01-03", "name": "z"}]),
        },
    )
    ev = out["events"].sort("event_time")
    assert ev["account_id"].to_list() == ["a", "b", "c"]
    assert ev["user_id"].to_list() == ["u1", "d9", None]


def test_lookup_when_keep_latest_and_explode(tmp_path):
    subs = [
        {
            "id": "sub_1",
            "customer": "cus_1",
            "ended_at": None,
            "status": "active",
            "items": {
                "data": [
                    {
                        "id": "si_1",
                        "quantity": 3,
                        "created": 1735732800,
                        "price": {"unit_amount": 1000, "nickname": "Pro"},
                    },
                    {
                        "id": "si_2",
                        "quantity": 1,
                        "created": 1738411200,
                        "price": {"unit_amount": 2900, "nickname": "Add-on"},
                    },
                ]
            },
        }
    ]
    out = run(
        tmp_path,
        """
[tables.subscriptions]
source = "subs.json"
explode = "items.data"
[tables.subscriptions.columns]
account_id = { column = "customer", lookup = { source = "cust.json", key = "id", value = "m.a" } }
subscription_id = "item.id"
start_date = { column = "item.created", time = "epoch_s" }
mrr = { column = "item.price.unit_amount", times = "item.quantity", scale = 0.01 }
plan = "item.price.nickname"
end_date = { column = "ended_at", time = "epoch_s", when = { status = ["canceled"] } }
[tables.accounts]
source = "cust.json"
keep_latest = { per = "id", by = "updated" }
[tables.accounts.columns]
account_id = "m.a"
name = "name"
signup_date = { value = "2025-01-01" }
""",
        {
            "subs.json": lines(subs),
            "cust.json": lines(
                [
                    {"id": "cus_1", "name": "Old", "updated": 5, "m": {"a": "A1"}},
                    {"id": "cus_1", "name": "New", "updated": 9, "m": {"a": "A1"}},
                ]
            ),
        },
    )
    subs_out = out["subscriptions"]
    assert subs_out["account_id"].to_list() == ["A1", "A1"]
    assert subs_out["subscription_id"].to_list() == ["si_1", "si_2"]
    assert [float(x) for x in subs_out["mrr"]] == [30.0, 29.0]
    assert subs_out["start_date"].to_list() == ["2025-01-01", "2025-02-01"]
    assert out["accounts"]["name"].to_list() == ["New"]


def test_contract_files_in_the_folder_pass_through(tmp_path):
    out = run(
        tmp_path,
        """
[tables.accounts]
source = "crm.csv"
[tables.accounts.columns]
account_id = "id"
signup_date = "since"
""",
        {
            "crm.csv": "id,since\na,2024-01-01\n",
            "events.csv": "account_id,event_time,event\na,2025-01-01,x\n",
        },
    )
    assert set(out) == {"accounts", "events"}


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            '[tables.events]\nsource = "ev.csv"\n[tables.events.columns]\naccount_id = "acct"\n'
            'event_time = "when"\nevent = "nme"\n',
            ["line 6", "'nme'", "ev.csv", "columns: acct"],
        ),
        (
            '[tables.events]\nsource = "ev.csv"\n\n[tables.events.columns]\naccount_id = "acct"\n'
            'evnt = "name"\n',
            ["line 6", "no column 'evnt'", "event_time"],
        ),
        ('[tables.event]\nsource = "ev.csv"\n', ["line 1", "'event' is not a table"]),
        (
            '[tables.events]\nsource = "ev.csv"\n'
            'columns.account_id = { column = "acct", time = "unix" }\n',
            ["line 3", "time = 'unix'", "epoch_s"],
        ),
        ("[tables.events\n", ["line 1", "not valid TOML"]),
    ],
)
def test_errors_name_the_mapping_line_and_the_source_column(tmp_path, toml, expected):
    with pytest.raises(MappingError) as err:
        run(tmp_path, toml, {"ev.csv": "acct,when,name\na,2025-01-01,x\n"})
    message = str(err.value)
    assert message.startswith("mapping.toml")
    for part in expected:
        assert part in message, message


def test_key_lines_follow_sections_dotted_and_quoted_keys():
    text = (
        '[tables.events]\nsource = "x"\n[tables.events.columns]\n"user id" = "u"\n'
        'a.b = 1\n[tables."odd.name".columns]\nk = 2\n'
    )
    lines_ = key_lines(text)
    assert line_of(lines_, "tables", "events", "columns", "user id") == 4
    assert line_of(lines_, "tables", "events", "columns", "a", "b") == 5
    assert line_of(lines_, "tables", "odd.name", "columns", "k") == 7
    assert line_of(lines_, "tables", "events", "columns", "missing") == 3


def test_a_misspelt_path_into_json_names_the_line_and_the_keys_there(tmp_path):
    rows = [{"event": "x", "properties": {"time": 1735732800, "company_id": "c1"}}]
    toml = """[tables.events]
source = "e.json"
[tables.events.columns]
account_id = "properties.compnay_id"
event_time = { column = "properties.time", time = "epoch_s" }
event = "event"
"""
    with pytest.raises(MappingError) as err:
        run(tmp_path, toml, {"e.json": lines(rows)})
    message = str(err.value)
    assert "mapping.toml line 4" in message and "properties.compnay_id" in message
    assert "properties has keys: company_id, time" in message


def test_recipes_are_found_by_name_and_all_parse():
    shipped = sorted(p.stem for p in RECIPES.glob("*.toml"))
    assert shipped == sorted(SHIPPED)
    for name in shipped:
        assert resolve(name).name == f"{name}.toml"
    with pytest.raises(MappingError, match="no recipe by that name"):
        resolve("nosuch")


SHIPPED = ["segment", "mixpanel", "amplitude", "stripe", "hubspot", "zendesk", "salesforce"]
# Each scenario: the fixture files put in one folder, the recipes applied, and the tables they
# must make. A recipe that makes only tickets is scored with accounts and events from others.
SCENARIOS = {
    "segment": ({"segment": "*"}, ["segment"], {"accounts": 12, "events": 2986, "users": 60}),
    "salesforce+stripe, events from segment": (
        {"salesforce": "*", "segment": "tracks*", "stripe": "*"},
        ["salesforce", "segment", "stripe"],
        {"accounts": 12, "events": 2986, "subscriptions": 16},
    ),
    "hubspot+mixpanel+zendesk": (
        {"hubspot": "*", "mixpanel": "*", "zendesk": "*"},
        ["hubspot", "mixpanel", "zendesk"],
        {"accounts": 12, "events": 2986, "tickets": 70},
    ),
    "salesforce+amplitude": (
        {"salesforce": "*", "amplitude": "*"},
        ["salesforce", "amplitude"],
        {"accounts": 12, "events": 2986},
    ),
}


def test_every_recipe_is_in_a_scenario():
    assert {r for _, recipes, _ in SCENARIOS.values() for r in recipes} == set(SHIPPED)


def cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("scenario", SCENARIOS, ids=list(SCENARIOS))
def test_recipe_loads_and_scores_its_export(scenario, tmp_path):
    parts, recipes, made = SCENARIOS[scenario]
    data = tmp_path / "data"
    data.mkdir()
    for tool, pattern in parts.items():
        for path in (EXPORTS / tool).glob(pattern):
            shutil.copy(path, data / path.name)
    maps = [arg for r in recipes for arg in ("--map", r)]
    start = time.perf_counter()
    db_file = tmp_path / "health.duckdb"
    output = cli("load", str(data), "--db", str(db_file), *maps)
    assert f"Mapped with {' + '.join(recipes)}" in output
    con = health_db.connect(db_file, events=True)  # the events are in their own store
    try:
        loaded = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in made}
        rejected = con.execute("SELECT count(*) FROM rejects").fetchone()[0]
        assert catalog.recipe(con) == " + ".join(recipes)
        assert set(catalog.loads(con)["recipe"]) == {" + ".join(recipes)}
    finally:
        con.close()
    assert loaded == made and rejected == 0
    out = tmp_path / "scores.csv"
    cli("score", "--data", str(data), *maps, "--as-of", AS_OF, "--out", str(out))
    scores = pl.read_csv(out, infer_schema=False)
    assert scores.height == 12 and scores["account_id"].is_unique().all()
    assert set(scores["tier"]) <= {"healthy", "watch", "at_risk"}
    assert scores["health_score"].cast(pl.Float64).is_between(0, 100).all()
    print(f"{scenario}: {scores.height} accounts scored, {time.perf_counter() - start:.1f} s")


def test_a_mapping_beside_the_data_is_used_by_itself(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for path in (EXPORTS / "segment").glob("*"):
        shutil.copy(path, data / path.name)
    shutil.copy(RECIPES / "segment.toml", data / "mapping.toml")
    out = tmp_path / "moments.csv"
    output = cli("moments", "--data", str(data), "--as-of", AS_OF, "--out", str(out))
    assert "Mapped with segment" in output
    assert out.exists()


def test_a_mapping_error_stops_the_load_and_names_the_line(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(EXPORTS / "salesforce" / "Account.csv", data)
    (data / "mapping.toml").write_text(
        (RECIPES / "salesforce.toml").read_text().replace('"BillingCountry"', '"Country"')
    )
    result = CliRunner().invoke(app, ["load", str(data), "--db", str(tmp_path / "h.duckdb")])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "mapping.toml line 21" in text and "'Country'" in text and "Account.csv" in text
    assert "Nothing was loaded" in text


def test_the_data_page_shows_the_recipe_of_the_last_load(tmp_path, monkeypatch):
    from health.ingest.loader import load
    from health.pipeline.refresh import refresh
    from tests.test_pages import _metric, open_page

    data = tmp_path / "data"
    data.mkdir()
    for path in [*(EXPORTS / "hubspot").glob("*"), *(EXPORTS / "mixpanel").glob("*")]:
        shutil.copy(path, data / path.name)
    db_file = tmp_path / "health.duckdb"
    load(data, db_file, maps=["hubspot", "mixpanel"])
    refresh(db_file)
    monkeypatch.setenv("HEALTH_DB", str(db_file))
    at = open_page("pages/data.py")
    assert _metric(at, "Mapped with") == "hubspot + mixpanel"
