"""``omnidex migrate``: the data folder's SQLite catalog, or the PostgreSQL one
``OMNIDEX_CATALOG_URL`` names, brought to the current schema, with the versions said."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from omnidex.cli.main import app
from omnidex.store.sqlite_schema import SCHEMA_VERSION as SQLITE_VERSION


def migrate(data: Path, **env: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--data", str(data), "migrate"], env=env)
    return result.exit_code, result.output


def test_migrate_a_data_folder(tmp_path: Path) -> None:
    assert migrate(tmp_path) == (
        0,
        f"SqliteCatalog('{tmp_path}/catalog.sqlite'): schema version 0 → {SQLITE_VERSION}\n",
    )
    code, said = migrate(tmp_path)
    assert code == 0 and said.endswith(f"schema version {SQLITE_VERSION}, up to date\n")


@pytest.mark.postgres
def test_migrate_a_postgres_catalog(tmp_path: Path, postgres_cluster: Any) -> None:
    from omnidex.store.postgres_schema import SCHEMA_VERSION

    url = postgres_cluster.create_database()
    code, said = migrate(tmp_path, OMNIDEX_CATALOG_URL=url)
    assert code == 0, said
    shown = url.replace(postgres_cluster.password, "***")
    assert said == f"PostgresCatalog('{shown}'): schema version 0 → {SCHEMA_VERSION}\n"
    assert postgres_cluster.password not in said
    code, said = migrate(tmp_path, OMNIDEX_CATALOG_URL=url)
    assert code == 0 and said.endswith(f"schema version {SCHEMA_VERSION}, up to date\n")
    assert not (tmp_path / "catalog.sqlite").exists()


def test_a_catalog_url_of_another_kind_is_a_clear_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "omnidex"), "--data", str(tmp_path), "migrate"],
        env={**os.environ, "OMNIDEX_CATALOG_URL": "mysql://db/x"},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert " ".join(done.stderr.split()) == (
        "error: catalog_url must start with postgresql:// or sqlite:///, not 'mysql' "
        "(field: catalog_url)"
    )
