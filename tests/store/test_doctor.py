"""Drift between the catalog and the documents, made by changing the LanceDB table behind the
catalog's back: lost documents come back by ingesting again, and ``doctor`` (embedded and CLI)
finds and repairs what disagrees."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import lancedb
import pytest

import omnidex
from omnidex.embedded import Collection, Database
from omnidex.types import IngestStatus, ObjectStatus

OMNIDEX = str(Path(sys.executable).with_name("omnidex"))


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return omnidex.connect(tmp_path / "data")


@pytest.fixture
def notes(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "notes"
    folder.mkdir()
    paths = []
    for i, text in enumerate(["the harbor ferry leaves at nine", "lentil soup with cumin"]):
        path = folder / f"note{i}.txt"
        path.write_text(text)
        paths.append(path)
    return paths


@pytest.fixture
def collection(db: Database, notes: list[Path]) -> Collection:
    collection = db.create_collection("C", extractors=["page_text@v1"])
    results = collection.ingest(notes)
    assert [r.status for r in results] == [IngestStatus.INGESTED] * 2
    return collection


def delete_rows(db: Database, collection: Collection, where: str) -> None:
    """Delete documents from the LanceDB table directly, as an operator or a bad restore would."""
    table = lancedb.connect(db.settings.documents).open_table(collection.info.id)
    table.delete(where)


def test_lost_documents_come_back_when_the_object_is_ingested_again(
    db: Database, collection: Collection, notes: list[Path]
) -> None:
    lost = collection.ingest(notes[0])[0].object_id
    delete_rows(db, collection, f"object_id = '{lost}'")
    assert collection.count(f"object_id = '{lost}'") == 0

    again = collection.ingest(notes)
    by_name = {Path(r.source).name: r.status for r in again}
    assert by_name == {"note0.txt": IngestStatus.INGESTED, "note1.txt": IngestStatus.UNCHANGED}
    assert collection.count(f"object_id = '{lost}'") == 1
    assert collection.search("harbor ferry", k=1)[0].object_id == lost


def test_doctor_finds_and_repairs_drift(
    db: Database, collection: Collection, notes: list[Path]
) -> None:
    lost, kept = (collection.ingest(p)[0].object_id for p in notes)
    delete_rows(db, collection, f"object_id = '{lost}'")
    db.catalog.delete_object(collection.info.id, kept)  # its documents stay behind

    (dry,) = db.doctor(dry_run=True)
    assert dry.objects_without_documents == [lost]
    assert (dry.documents_without_object, dry.objects_gone) == (1, [kept])
    assert not dry.repaired
    assert collection.object(lost).status is ObjectStatus.SUCCEEDED  # nothing changed
    assert collection.count() == 1

    (report,) = db.doctor()
    assert report.model_dump(exclude={"repaired"}) == dry.model_dump(exclude={"repaired"})
    assert report.repaired
    assert collection.object(lost).status is ObjectStatus.PENDING
    assert "ingest it again" in (collection.object(lost).error or "")
    assert collection.count() == 0

    (clean,) = db.doctor()
    assert clean.clean
    assert collection.ingest(notes[0])[0].status is IngestStatus.INGESTED
    assert collection.count() == 1


def test_doctor_command(db: Database, collection: Collection, notes: list[Path]) -> None:
    lost = collection.ingest(notes[0])[0].object_id
    delete_rows(db, collection, f"object_id = '{lost}'")
    home = str(db.path)
    db.close()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [OMNIDEX, "--data", home, "doctor", *args], capture_output=True, text=True, timeout=120
        )

    dry = run("--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.strip() == "C: 1 object missing documents (would be set to pending)"
    fixed = run()
    assert fixed.stdout.strip() == (
        "C: 1 object missing documents (set to pending, ingest again to restore)"
    )
    (after,) = json.loads(run("--json").stdout)
    assert after["objects_without_documents"] == [] and after["repaired"]
    assert run().stdout.strip() == "C: ok"
