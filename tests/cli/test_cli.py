"""The ``omnidex`` command: every command group, JSON output, and clean error messages."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

import omnidex
from omnidex.cli.main import app
from omnidex.samples import make_text_image
from omnidex.types import ObjectStatus

pytestmark = pytest.mark.usefixtures("needs_tesseract")


@pytest.fixture
def cli(tmp_path: Path):  # type: ignore[no-untyped-def]
    runner = CliRunner()
    data = tmp_path / "data"

    def invoke(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, ["--data", str(data), *args], catch_exceptions=False)
        return result.exit_code, result.output

    return invoke


@pytest.fixture
def embed_spec(tiny_embedder_path: Path) -> str:
    return json.dumps(
        {"name": "text_embedding@v1", "params": {"model_id": str(tiny_embedder_path)}}
    )


def test_create_ingest_search_list_delete(cli, embed_spec: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    files = tmp_path / "files"
    files.mkdir()
    (files / "ferry.txt").write_text("The harbor ferry leaves at seven every morning.")
    make_text_image("BAKERY OPEN", (600, 200)).save(files / "sign.png")

    code, out = cli(
        "collection", "create", "docs", "-e", "page_text@v1", "-e", "ocr@v1", "-e", embed_spec
    )
    assert code == 0, out
    assert "created collection docs" in out

    code, out = cli("ingest", str(files), "-c", "docs", "-m", "team=ops", "--json")
    assert code == 0, out
    results = json.loads(out)
    assert {r["status"] for r in results} == {"ingested"}

    code, out = cli("search", "harbor ferry", "-c", "docs", "--json", "-k", "1")
    hits = json.loads(out)
    assert code == 0 and hits[0]["source"].endswith("ferry.txt")
    assert hits[0]["metadata"] == {"team": "ops"}

    code, out = cli("search", "bakery", "-c", "docs", "--where", "kind = 'image'")
    assert code == 0 and "sign.png" in out

    code, out = cli("collection", "list")
    assert code == 0 and "docs" in out and "text_embedding@v1" in out

    code, out = cli("collection", "show", "docs")
    assert code == 0 and '"dim": 32' in out

    code, out = cli("object", "list", "-c", "docs", "--json")
    objects = json.loads(out)
    assert len(objects) == 2
    image = next(o for o in objects if o["kind"] == "image")

    code, out = cli("object", "delete", image["id"], "-c", "docs")
    assert code == 0 and "1 documents" in out
    code, out = cli("search", "bakery", "-c", "docs", "--json", "--where", "kind = 'image'")
    assert json.loads(out) == []

    code, out = cli("collection", "drop", "docs", "--yes")
    assert code == 0
    code, out = cli("collection", "list", "--json")
    assert json.loads(out) == []


def test_ingest_reports_bad_files_and_exits_non_zero(cli, embed_spec: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "ok.txt").write_text("fine words")
    (tmp_path / "empty.txt").write_bytes(b"")
    cli("collection", "create", "docs", "-e", "page_text@v1", "-e", embed_spec)
    code, out = cli("ingest", str(tmp_path / "ok.txt"), str(tmp_path / "empty.txt"), "-c", "docs")
    assert code == 2
    assert "empty" in out and "1 ingested" in out and "1 failed" in out


def refused_files(folder: Path) -> dict[str, str]:
    """Files refused before their kind is known, each with the words its reason must hold."""
    folder.mkdir()
    (folder / "empty.txt").write_bytes(b"")
    (folder / "notes.xyz").write_text("plain words under an unknown extension")
    with zipfile.ZipFile(folder / "archive.zip", "w") as archive:
        archive.writestr("inside.txt", "zipped words")
    (folder / "noise.mp4").write_bytes(random.Random(7).randbytes(4096))
    (folder / "list.m3u").write_text("#EXTM3U\n#EXTINF:2,\n/media/clip.mp4\n")
    return {
        "empty.txt": "the file is empty",
        "notes.xyz": "unsupported extension '.xyz'",
        "archive.zip": "a ZIP archive",
        "noise.mp4": "binary data",
        "list.m3u": "unsupported extension '.m3u'",
    }


@pytest.mark.parametrize("runner", ["local", "ray"])
def test_every_refused_file_is_listed_as_failed_with_its_reason(
    cli,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    runner: str,
    request: pytest.FixtureRequest,
) -> None:
    if runner == "ray":
        request.getfixturevalue("ray_cluster")
    files = tmp_path / "files"
    reasons = refused_files(files)
    (files / "ok.txt").write_text("fine words")
    cli("collection", "create", "docs", "-e", "page_text@v1")
    for _ in range(2):  # a rerun retries the failures: listed again, once each
        code, out = cli("ingest", str(files), "-c", "docs", "--runner", runner, "--json")
        assert code == 2, out
        results = {Path(r["source"]).name: r for r in json.loads(out)}
        code, out = cli("object", "list", "-c", "docs", "--status", "failed", "--json")
        assert code == 0, out
        listed = {Path(o["source"]).name: o for o in json.loads(out)}
        assert set(listed) == set(reasons)
        for name, words in reasons.items():
            assert words in listed[name]["error"], (name, listed[name])
            assert listed[name]["id"] == results[name]["object_id"]
    code, out = cli("object", "delete", listed["notes.xyz"]["id"], "-c", "docs")
    assert code == 0, out
    code, out = cli("object", "list", "-c", "docs", "--status", "failed", "--json")
    assert {Path(o["source"]).name for o in json.loads(out)} == set(reasons) - {"notes.xyz"}


def test_refused_files_are_failed_objects_in_the_embedded_api(tmp_path: Path) -> None:
    reasons = refused_files(tmp_path / "files")
    collection = omnidex.connect(tmp_path / "data").create_collection(
        "docs", extractors=["page_text@v1"]
    )
    results = {Path(r.source).name: r for r in collection.ingest(tmp_path / "files")}
    failed = {Path(o.source).name: o for o in collection.objects(ObjectStatus.FAILED)}
    assert set(failed) == set(reasons)
    for name, words in reasons.items():
        assert failed[name].kind == "unknown" and words in (failed[name].error or "")
        assert results[name].object_id == failed[name].id
    assert {results[name].error_code for name in reasons} == {"empty_file", "unsupported_media"}


def run_omnidex(
    *args: str, data: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The installed console script, as a user runs it (``env`` adds variables)."""
    env = {**os.environ, "OMNIDEX_HOME": str(data), **(env or {})}
    script = Path(sys.executable).with_name("omnidex")
    return subprocess.run(
        [str(script), *args], capture_output=True, text=True, env=env, timeout=120
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("search", "x", "-c", "missing"), "collection 'missing' does not exist"),
        (("collection", "create", "docs", "-e", "teleport@v1"), "unknown extractor"),
        (
            (
                "collection",
                "create",
                "docs",
                "-e",
                '{"name": "page_text@v1", "params": {"chunk_tokens": 0}}',
            ),
            "chunk_tokens",
        ),
        (("ingest", "/no/such/file.pdf", "-c", "docs"), "does not exist"),
        (
            (
                "collection",
                "create",
                "docs",
                "-e",
                '{"name": "ocr@v1", "params": {"languages": "xyz"}}',
            ),
            "no language pack for xyz",
        ),
    ],
)
def test_errors_are_one_clean_line_without_traceback(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    result = run_omnidex(*args, data=tmp_path / "data")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert message in result.stderr.lower()
    assert result.stderr.lower().startswith("error:")


@pytest.mark.parametrize(
    ("args", "variable", "value", "expected"),
    [
        (("collection", "list"), "OMNIDEX_MAX_FILE_BYTES", "2GiB", "valid integer"),
        (("collection", "list"), "OMNIDEX_CATALOG_POOL_SIZE", "0", "greater than or equal to 1"),
        (("collection", "list"), "OMNIDEX_DECODE_TIMEOUT_S", "soon", "valid number"),
        (("serve", "--port", "1"), "OMNIDEX_SERVER_MAX_UPLOAD_BYTES", "2GiB", "valid integer"),
        (("serve", "--port", "1"), "OMNIDEX_SERVER_DEV", "maybe", "valid boolean"),
    ],
)
def test_bad_environment_value_is_one_line_naming_the_variable(
    tmp_path: Path, args: tuple[str, ...], variable: str, value: str, expected: str
) -> None:
    result = run_omnidex(*args, data=tmp_path / "data", env={variable: value})
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    line = " ".join(result.stderr.split())
    assert line.startswith(f"error: {variable}={value!r} is invalid"), line
    assert expected in line


def test_bad_where_expression_is_a_clean_error(cli, embed_spec: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("collection", "create", "docs", "-e", "page_text@v1", "-e", embed_spec)
    result = run_omnidex("search", "x", "-c", "docs", "--where", "page >", data=tmp_path / "data")
    assert result.returncode == 1
    assert "bad filter" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.usefixtures("ray_cluster")
def test_ingest_on_ray_gives_what_the_local_runner_gives(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    files = tmp_path / "files"
    files.mkdir()
    (files / "ferry.txt").write_text("The harbor ferry leaves at seven every morning.")
    (files / "empty.txt").write_bytes(b"")
    for name in ("local", "ray"):
        code, out = cli("collection", "create", name, "-e", "page_text@v1")
        assert code == 0, out
    data = tmp_path / "data"
    local, on_ray = (
        CliRunner().invoke(app, ["--data", str(data), "ingest", str(files), *args, "--json"])
        for args in (["-c", "local"], ["-c", "ray", "--runner", "ray"])
    )
    assert local.exit_code == on_ray.exit_code == 2  # the empty file failed on both
    assert json.loads(on_ray.stdout) == json.loads(local.stdout)
    code, out = cli("search", "harbor", "-c", "ray", "--json")
    assert code == 0 and json.loads(out)[0]["source"].endswith("ferry.txt")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--runner", "spark"), "unknown runner 'spark'"),
        (("--address", "ray://head:10001"), "go with --runner ray"),
        (("--max-failures", "3"), "go with --runner ray"),
    ],
)
def test_runner_options_are_checked(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    (tmp_path / "a.txt").write_text("words")
    result = run_omnidex("ingest", str(tmp_path / "a.txt"), "-c", "docs", *args, data=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and message in result.stderr


def test_collection_create_help_lists_the_default_extractors(cli) -> None:  # type: ignore[no-untyped-def]
    from omnidex.types import DEFAULT_EXTRACTORS, IMAGE_EXTRACTOR

    code, out = cli("collection", "create", "--help")
    assert code == 0
    flat = " ".join(out.replace("│", " ").split())
    assert f"Default: {', '.join(DEFAULT_EXTRACTORS)}, and {IMAGE_EXTRACTOR} where" in flat
    assert "transcription@v1" in flat


LONG_NAME = "harbour-ferry-timetable-for-winter-2026.txt"


def test_document_show_prints_the_fields_and_tables_keep_file_names_whole(
    cli,  # type: ignore[no-untyped-def]
    embed_spec: str,
    tmp_path: Path,
) -> None:
    folder = tmp_path / "a" / "deeply" / "nested" / "folder" / "of" / "files"
    folder.mkdir(parents=True)
    (folder / LONG_NAME).write_text("The harbor ferry leaves at seven every morning.")
    make_text_image("BAKERY OPEN", (600, 200)).save(folder / "sign.png")
    assert (
        cli("collection", "create", "docs", "-e", "page_text@v1", "-e", "ocr@v1", "-e", embed_spec)[
            0
        ]
        == 0
    )

    code, out = cli("ingest", str(folder), "-c", "docs")
    assert code == 0 and LONG_NAME in out, out
    code, out = cli("object", "list", "-c", "docs")
    assert code == 0 and LONG_NAME in out, out
    code, out = cli("search", "harbor ferry", "-c", "docs")
    assert code == 0 and LONG_NAME in out, out

    code, out = cli("search", "bakery", "-c", "docs", "--json", "--where", "kind = 'image'")
    image = json.loads(out)[0]
    code, out = cli("document", "show", image["id"], "-c", "docs")
    assert code == 0, out
    assert "sign.png" in out and "ocr@v1/text" in out and "BAKERY OPEN" in out
    assert "text_embedding@v1/vector" in out and "vector, 32 dimensions" in out

    code, out = cli("document", "show", image["id"], "-c", "docs", "--json")
    assert code == 0 and json.loads(out)["features"]["ocr@v1/text"].strip() == "BAKERY OPEN"

    result = run_omnidex("document", "show", "nope", "-c", "docs", data=tmp_path / "data")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: no document 'nope' in collection 'docs'")
