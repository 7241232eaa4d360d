"""``omnidex key create|list|revoke``, and the embedded API the commands stand on."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

import omnidex
from omnidex.cli.main import app
from omnidex.errors import (
    AuthenticationError,
    InvalidSpecError,
    NotFoundError,
    PermissionDeniedError,
)
from omnidex.types import KeyRole

KEY = re.compile(r"odx_[a-z0-9]{8}_[A-Za-z0-9_-]{43}")
Cli = Callable[..., Result]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def cli(data: Path) -> Cli:
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(app, ["--data", str(data), *args], catch_exceptions=False)

    return invoke


def create(cli: Cli, *args: str) -> str:
    """Run ``key create`` and return the key it printed."""
    result = cli("key", "create", *args)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def test_create_prints_the_key_once_on_stdout_with_a_warning(cli: Cli, data: Path) -> None:
    result = cli("key", "create", "deploy bot", "--role", "write")
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert KEY.fullmatch(key)
    assert "cannot be shown again" in result.stderr
    assert "created write key deploy bot" in result.stderr and key not in result.stderr
    with omnidex.connect(data) as db:
        info = db.authenticate(key)
    assert (info.name, info.role, info.namespace) == ("deploy bot", KeyRole.WRITE, "default")


def test_list_shows_keys_but_never_their_secrets(cli: Cli) -> None:
    assert cli("key", "list").stdout.strip() == "no keys"
    reader, writer = create(cli, "reader"), create(cli, "writer", "--role", "write")
    table = cli("key", "list")
    assert table.exit_code == 0
    assert "reader" in table.stdout and "writer" in table.stdout
    listed = cli("key", "list", "--json")
    infos = json.loads(listed.stdout)
    assert [(i["name"], i["role"]) for i in infos] == [("reader", "read"), ("writer", "write")]
    assert {i["id"] for i in infos} == {reader[4:12], writer[4:12]}
    assert set(infos[0]) == {
        "id",
        "namespace",
        "name",
        "role",
        "created_at",
        "last_used_at",
        "revoked_at",
    }
    for key in (reader, writer):
        secret = key[13:]
        assert secret not in table.output and secret not in listed.output


def test_revoke(cli: Cli, data: Path) -> None:
    key = create(cli, "ci")
    key_id = key[4:12]
    result = cli("key", "revoke", key_id)
    assert result.exit_code == 0 and f"revoked key {key_id} (ci)" in result.stdout
    (info,) = json.loads(cli("key", "list", "--json").stdout)
    assert info["revoked_at"] is not None
    with omnidex.connect(data) as db, pytest.raises(AuthenticationError):
        db.authenticate(key)
    with pytest.raises(NotFoundError):
        cli("key", "revoke", "zzzzzzzz")


def test_keys_of_another_namespace(cli: Cli, data: Path) -> None:
    with pytest.raises(NotFoundError, match="namespace 'acme' does not exist"):
        cli("key", "create", "ci", "--namespace", "acme")
    omnidex.connect(data, namespace="acme").close()
    key = create(cli, "ci", "-n", "acme")
    assert cli("key", "list", "-n", "default").stdout.strip() == "no keys"
    assert [i["namespace"] for i in json.loads(cli("key", "list", "-n", "acme", "--json").stdout)]
    with pytest.raises(NotFoundError, match="in namespace 'default'"):
        cli("key", "revoke", key[4:12], "-n", "default")
    with omnidex.connect(data) as db, pytest.raises(PermissionDeniedError):
        db.authenticate(key)
    with omnidex.connect(data, namespace="acme") as db:
        assert db.authenticate(key).namespace == "acme"
    assert cli("key", "revoke", key[4:12], "-n", "acme").exit_code == 0


def test_list_and_revoke_without_a_namespace_reach_every_namespace_and_say_which(
    cli: Cli, data: Path
) -> None:
    """Key ids are unique across namespaces: with no ``-n``, ``list`` shows every namespace's
    keys with their namespace, and ``revoke`` finds the key where it is and names that
    namespace (it used to look in ``default`` alone and answer that the key did not exist)."""
    omnidex.connect(data, namespace="acme").close()
    tenant = create(cli, "tenant ci", "-n", "acme")
    local = create(cli, "local bot", "--role", "write")
    table = cli("key", "list")
    assert table.exit_code == 0, table.output
    cells = [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in table.stdout.splitlines()
        if line.startswith("│") and line[1:].split("│")[0].strip()  # not a wrapped line
    ]
    assert sorted(row[:2] for row in cells) == sorted(
        [[tenant[4:12], "acme"], [local[4:12], "default"]]
    )
    listed = json.loads(cli("key", "list", "--json").stdout)
    assert {(i["id"], i["namespace"]) for i in listed} == {
        (tenant[4:12], "acme"),
        (local[4:12], "default"),
    }
    revoked = cli("key", "revoke", tenant[4:12])
    assert revoked.exit_code == 0, revoked.output
    assert f"revoked key {tenant[4:12]} (tenant ci) in namespace acme" in revoked.stdout
    with omnidex.connect(data, namespace="acme") as db, pytest.raises(AuthenticationError):
        db.authenticate(tenant)
    with omnidex.connect(data) as db:
        assert db.authenticate(local).namespace == "default"


def test_an_unknown_role_is_a_usage_error(cli: Cli) -> None:
    result = cli("key", "create", "ci", "--role", "admin")
    assert result.exit_code == 2 and "admin" in result.output


def test_errors_are_one_clean_line(data: Path) -> None:
    env = {**os.environ, "OMNIDEX_HOME": str(data)}
    script = Path(sys.executable).with_name("omnidex")
    result = subprocess.run(
        [str(script), "key", "revoke", "zzzzzzzz"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: API key 'zzzzzzzz' does not exist")
    assert "Traceback" not in result.stderr + result.stdout


# --- the embedded API -----------------------------------------------------------------------------


def test_database_keys(data: Path) -> None:
    with omnidex.connect(data) as db:
        info, key = db.create_key("ci")
        assert info.role is KeyRole.READ and KEY.fullmatch(key)
        assert db.keys() == [info]
        assert db.authenticate(key) == info
        with pytest.raises(InvalidSpecError) as bad_role:
            db.create_key("x", "admin")
        assert bad_role.value.context["field"] == "role"
        with pytest.raises(AuthenticationError, match="malformed"):
            db.authenticate("not-a-key")
        revoked = db.revoke_key(info.id)
        assert revoked.revoked_at is not None and db.keys() == [revoked]
        with pytest.raises(AuthenticationError):
            db.authenticate(key)


def test_namespaces_are_created_then_given_keys(tmp_path: Path) -> None:
    runner = CliRunner()
    data = ["--data", str(tmp_path / "data")]
    assert runner.invoke(app, [*data, "namespace", "create", "acme"]).exit_code == 0
    listed = runner.invoke(app, [*data, "namespace", "list"])
    assert listed.output.split() == ["acme", "default"]
    made = runner.invoke(app, [*data, "key", "create", "ci", "--namespace", "acme"])
    assert made.exit_code == 0, made.output
