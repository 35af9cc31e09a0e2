"""The event layer on Spark: the events stay where they are; the daily tables come back.

The same SQL files as on DuckDB (the contract's row rules, the manifest, stg_events and the
daily tables), transpiled by SQLGlot and run on Spark with the session pinned to UTC. Spark
builds only the days from the first one that changed and writes them as Parquet, which the
refresh brings into DuckDB inside its atomic write.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from pathlib import Path

import polars as pl

from health import db
from health.events.layer import DAILY, MANIFEST_SCHEMA, EventsError
from health.ingest.contract import TABLES
from health.ingest.validate import checked_select

EVENTS = next(t for t in TABLES if t.name == "events")
NUMBERS = {c.name for c in EVENTS.columns if c.type == "number"}
# Spark column types the contract's rules read as they are (like validate.NATIVE); the rest
# are read as text and parsed by the same rules as a CSV's.
_NATIVE = {
    "timestamp": ("timestamp", "timestamp_ntz"),
    "number": ("double", "float", "int", "bigint", "smallint", "tinyint"),
}
MAX_REJECT_SHARE = 0.5  # as the loader: beyond it the data is taken to be in another format


def session(remote: str | None = None):
    """A Spark session in UTC: Spark Connect at `remote` (or $SPARK_REMOTE), else local[*]."""
    from pyspark.sql import SparkSession

    remote = remote or os.environ.get("SPARK_REMOTE")
    if remote:
        spark = SparkSession.builder.remote(remote).getOrCreate()
        spark.conf.set("spark.sql.session.timeZone", "UTC")
    else:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        spark = (
            SparkSession.builder.master(os.environ.get("HEALTH_SPARK_MASTER") or "local[*]")
            .appName("health-events")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.driver.memory", os.environ.get("HEALTH_SPARK_MEMORY", "2g"))
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
    return spark


def to_spark(name: str) -> str:
    """One of the project's DuckDB SQL files (or a statement) as Spark SQL."""
    import sqlglot
    from sqlglot import exp

    text = db.sql(name) if " " not in name else name
    tree = sqlglot.parse_one(text.replace("NULL::JSON", "NULL"), read="duckdb")

    def spark_only(node):
        # isfinite: Spark has no infinite timestamps, and numbers are checked by hand.
        if isinstance(node, exp.Anonymous) and node.name.lower() == "isfinite":
            arg = node.expressions[0]
            is_number = (isinstance(arg, exp.Column) and arg.name in NUMBERS) or (
                isinstance(arg, exp.Cast | exp.TryCast) and arg.to.is_type("double")
            )
            if not is_number:
                return exp.true()
            return sqlglot.parse_one(
                f"NOT (isnan({arg.sql('spark')}) OR abs({arg.sql('spark')}) = "
                "CAST('Infinity' AS DOUBLE))",
                read="spark",
            )
        return node

    # Spark's global sort is a job of its own; DuckDB orders the rows as it stores them.
    tree.set("order", None)
    return tree.transform(spark_only).sql(dialect="spark")


class SparkEvents:
    """Events read by Spark from a Parquet folder or glob, or a Spark table name."""

    name = "spark"

    def __init__(self, source: str, spark=None, remote: str | None = None):
        self.source, self.remote = source, remote
        self._spark, self._own = spark, spark is None
        self.rejects: pl.DataFrame | None = None  # reason, rows: what validation rejected
        self.rows_read = 0
        self.built: dt.date | None = None  # the first day the last build rebuilt (None: all)
        self.as_of: dt.date | None = None

    @property
    def spark(self):
        if self._spark is None:
            self._spark = session(self.remote)
        zone = self._spark.conf.get("spark.sql.session.timeZone")
        # Dates of events are UTC days on both engines; in another zone a quarter of the
        # account-days move (measured on the demo).
        assert zone == "UTC", f"the Spark session must be in UTC, not {zone}"
        return self._spark

    def close(self) -> None:
        """Stop the session if this engine started it."""
        if self._own and self._spark is not None:
            self._spark.stop()
            self._spark = None

    def manifest(self, con) -> pl.DataFrame:
        """Validate the events as the loader does and give their manifest."""
        self._validate(con)
        rows = self.spark.sql(to_spark("int_event_manifest")).collect()
        return pl.DataFrame(
            [r.asDict() for r in rows] or None, schema=MANIFEST_SCHEMA, orient="row"
        )

    def _read(self):
        from pyspark.errors import PySparkException

        spark, src = self.spark, self.source
        looks_like_files = "/" in src or "*" in src or src.endswith(".parquet")
        try:
            return spark.read.parquet(src) if looks_like_files else spark.table(src)
        except PySparkException as exc:  # Spark's errors are long; its first line says what failed
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise EventsError(
                f"{src}: Spark can't read the events ({first}). Give a Parquet folder or glob, "
                "or the name of a Spark table."
            ) from None

    def _validate(self, con) -> None:
        """Make temp view `events` of the valid rows, by the contract's rules (validate.py)."""
        spark, frame = self.spark, self._read()
        columns = {f.name.lower(): f for f in frame.schema.fields}
        missing = [c.name for c in EVENTS.columns if c.required and c.name not in columns]
        if missing:
            raise EventsError(
                f"{self.source}: no column {', '.join(missing)}; the events need "
                f"{', '.join(EVENTS.names)} (see the data contract)."
            )
        selected, types = ["monotonically_increasing_id() + 1 AS _row"], {}
        for col in EVENTS.columns:
            field = columns.get(col.name)
            kind = field.dataType.simpleString() if field else None
            if kind in _NATIVE.get(col.type, ()):
                cast = "TIMESTAMP_NTZ" if col.type == "timestamp" else "DOUBLE"
                selected.append(f"CAST(`{field.name}` AS {cast}) AS {col.name}")
                types[col.name] = "TIMESTAMP" if col.type == "timestamp" else "DOUBLE"
            elif field:
                selected.append(f"CAST(`{field.name}` AS STRING) AS {col.name}")
            else:
                selected.append(f"CAST(NULL AS STRING) AS {col.name}")
        frame.createOrReplaceTempView("source_events")
        spark.sql(f"SELECT {', '.join(selected)} FROM source_events").createOrReplaceTempView(
            "raw_events"
        )
        accounts = con.execute("SELECT account_id FROM accounts").fetchall()
        spark.createDataFrame(accounts, "account_id STRING").createOrReplaceTempView(
            "known_accounts"
        )
        checked = checked_select(EVENTS, "raw_events", types, {}, where_word="row", offset=0)
        typed = spark.sql(to_spark(checked)).persist()
        typed.createOrReplaceTempView("typed_events")
        counts = spark.sql(
            "SELECT _problems AS reason, count(*) AS n FROM typed_events GROUP BY 1"
        ).collect()
        self.rows_read = sum(r["n"] for r in counts)
        self.rejects = pl.DataFrame(
            [(r["reason"], r["n"]) for r in counts if r["reason"] is not None],
            schema={"reason": pl.String, "rows": pl.Int64},
            orient="row",
        ).sort("rows", "reason", descending=[True, False])
        rejected = self.rejects["rows"].sum()
        if self.rows_read >= 10 and rejected / self.rows_read > MAX_REJECT_SHARE:
            raise EventsError(
                f"{self.source}: {rejected / self.rows_read:.0%} of its {self.rows_read} events "
                f"break the contract, so it is probably in another format. Most common "
                f"problem: {self.rejects['reason'][0]}."
            )
        spark.sql(
            f"SELECT {', '.join(EVENTS.names)} FROM typed_events WHERE _problems IS NULL"
        ).createOrReplaceTempView("events")

    def build(self, con, as_of: dt.date, since: dt.date | None) -> None:
        """Build the daily tables on Spark from `since` (all days when None) into `con`."""
        spark = self.spark
        spark.sql(
            "SELECT CAST(:as_of AS DATE) AS as_of", args={"as_of": as_of}
        ).createOrReplaceTempView("params")
        spark.sql(to_spark("stg_events")).createOrReplaceTempView("stg_events")
        db.build(con, ["stg_events"])  # the daily tables' DuckDB types, for _bring_in
        out = Path(tempfile.mkdtemp(prefix="health-spark-", dir=_scratch(con)))
        try:
            for name in DAILY:
                frame = spark.sql(to_spark(name))
                if since is not None:
                    frame = frame.where(frame.day >= since)
                files = _write(frame, out / name, local=not self.remote)
                _bring_in(con, name, files, as_of, since)
        finally:
            shutil.rmtree(out, ignore_errors=True)
        self.built, self.as_of = since, as_of


def _scratch(con) -> str | None:
    # Beside the database: the Parquet files are as large as the daily tables.
    published = db.published_file(con)
    return str(published.parent) if published else None


def _write(frame, folder: Path, *, local: bool) -> str:
    """Write a Spark frame as Parquet on this machine; the glob of its files."""
    if local:  # the executors share this file system
        frame.write.mode("overwrite").parquet(str(folder))
        return str(folder / "*.parquet")
    import pyarrow.parquet as pq

    folder.mkdir(parents=True)
    pq.write_table(frame.toArrow(), folder / "part-0.parquet")
    return str(folder / "*.parquet")


def _bring_in(con, name: str, files: str, as_of: dt.date, since: dt.date | None) -> None:
    """Replace the days from `since` (all when None) of a daily table by Spark's Parquet."""
    text = db.sql(name)
    # The stored order its SQL ends with, if any (not every daily table keeps one).
    at = text.lower().rfind("order by")
    order = text[at:].strip() if at >= 0 else ""
    if since is None or not db.table_exists(con, name):
        # The table's types are those of the DuckDB build, so both engines store the same.
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM ({text}) WHERE false")
    else:
        con.execute(f"DELETE FROM {name} WHERE day >= ? OR day > ?", [since, as_of])
    con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM read_parquet(?) {order}", [files])
