"""A throwaway PostgreSQL cluster for the tests and benchmarks: ``initdb`` and ``pg_ctl`` from
Debian's ``postgresql`` package (``scripts/install-system-deps`` installs it) in a temp folder, on
a free port of 127.0.0.1.

PostgreSQL refuses to run as root, so under root the cluster runs as the ``postgres`` user the
Debian package creates; otherwise as the current user. :func:`unavailable` says why a cluster
cannot run here (no binaries, no such user), for a skip that prints the reason.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SERVICE_USER = "postgres"


def binaries() -> Path | None:
    """The folder of ``initdb``, ``pg_ctl`` and ``postgres``: the newest Debian install, else
    wherever ``initdb`` is on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).resolve().parent if on_path else None


def _version(path: str) -> int:
    part = Path(path).parent.parent.name
    return int(part) if part.isdigit() else 0


def run_as() -> str | None:
    """The user the cluster runs as: ``postgres`` under root, else None (the current user)."""
    return SERVICE_USER if os.geteuid() == 0 else None


def unavailable() -> str | None:
    """Why no cluster can run here, or None when one can."""
    if binaries() is None:
        return "PostgreSQL is not installed (initdb not found): run scripts/install-system-deps"
    user = run_as()
    if user is not None:
        try:
            pwd.getpwnam(user)
        except KeyError:
            return f"running as root and there is no {user!r} user to run PostgreSQL as"
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresCluster:
    """One cluster in its own temp folder: :meth:`start`, :meth:`stop`, :meth:`restart`,
    :meth:`create_database`, :meth:`close` (stops it and removes the folder). Unless
    ``durable``, commits are not flushed to disk (faster tests; a crash of the machine, not of a
    client, could lose them)."""

    def __init__(self, *, durable: bool = False) -> None:
        folder = binaries()
        if folder is None or (reason := unavailable()) is not None:
            raise RuntimeError(reason or "PostgreSQL is not installed")
        self.bin = folder
        self.user = run_as()
        self.root = Path(tempfile.mkdtemp(prefix="omnidex-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.password = secrets.token_hex(8)
        self._chown(self.root)
        password_file = self.root / "password"
        password_file.write_text(self.password)
        self._chown(password_file)
        self._run(
            "initdb", "-D", str(self.data), "-U", "omnidex", "-A", "scram-sha-256",
            "--pwfile", str(password_file), "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.root}'\nmax_connections = 200\n"
            )
            if not durable:
                conf.write("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")

    def _chown(self, path: Path) -> None:
        if self.user is not None:
            shutil.chown(path, self.user, self.user)

    def _run(self, program: str, *args: str) -> None:
        subprocess.run(
            [str(self.bin / program), *args],
            check=True,
            user=self.user,
            cwd=self.root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://omnidex:{self.password}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        log = self.root / "server.log"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; its URL."""
        import psycopg

        name = name or "db_" + secrets.token_hex(6)
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def close(self) -> None:
        try:
            if self.running():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def wait_ready(self, timeout_s: float = 30) -> None:
        import psycopg

        deadline = time.monotonic() + timeout_s
        while True:
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
