"""The one door to DuckDB: paths, connections, atomic writes, named SQL (sql/{stg,int,mart,q})."""

from health.db.door import (
    DEFAULT_DB,
    MEMORY_LIMIT,
    ROOT,
    SQL_DIR,
    build,
    connect,
    cursor,
    db_path,
    exists,
    published_file,
    query,
    run,
    sql,
    table_exists,
    version,
    writing,
)

__all__ = [
    "DEFAULT_DB",
    "MEMORY_LIMIT",
    "ROOT",
    "SQL_DIR",
    "build",
    "connect",
    "cursor",
    "db_path",
    "exists",
    "published_file",
    "query",
    "run",
    "sql",
    "table_exists",
    "version",
    "writing",
]
