"""Retrievers through the public API and the CLI: save, version, run, explain, evaluate."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import omnidex
from omnidex.cli.main import app
from omnidex.embedded import Database
from omnidex.errors import InvalidSpecError

TALKS = {
    "budget.txt": ("The hiring budget for the platform team grows next year.", "ann"),
    "churn.txt": ("Churn rose to three percent because of slow support answers.", "bob"),
    "launch.txt": ("The launch moves to March after the security review.", "ann"),
}


@pytest.fixture
def db(tmp_path: Path, tiny_embedder_path: Path) -> Database:
    database = omnidex.connect(tmp_path / "data")
    embedder = {"name": "text_embedding@v1", "params": {"model_id": str(tiny_embedder_path)}}
    talks = database.create_collection("talks", extractors=["page_text@v1", embedder])
    for name, (text, speaker) in TALKS.items():
        path = tmp_path / name
        path.write_text(text)
        talks.ingest(path, metadata={"speaker": speaker})
    return database


def spec(top_k: int = 10, speaker_filter: bool = True) -> dict[str, object]:
    stages: list[dict[str, object]] = [
        {
            "type": "feature_search",
            "params": {
                "searches": [
                    {"feature": "text_embedding@v1/vector"},
                    {"feature": "page_text@v1/text"},
                ]
            },
        },
        {"type": "group_by"},
        {"type": "limit", "params": {"limit": top_k}},
    ]
    if speaker_filter:
        stages.insert(
            0, {"type": "attribute_filter", "params": {"where": "speaker = {{inputs.speaker}}"}}
        )
    return {
        "name": "by_speaker",
        "collections": ["talks"],
        "inputs": {"query": {"type": "text"}, "speaker": {"type": "string"}},
        "stages": stages,
    }


def test_save_version_run_and_explain(db: Database) -> None:
    info = db.create_retriever(spec())
    assert (info.name, info.version) == ("by_speaker", 1)
    assert db.create_retriever(spec()).version == 1  # unchanged: no new version
    assert db.create_retriever(spec(top_k=5)).version == 2
    assert [r.name for r in db.retrievers()] == ["by_speaker"]
    hits = db.retriever("by_speaker").run({"query": "budget hiring", "speaker": "ann"}).hits
    assert hits[0].source.endswith("budget.txt")
    assert {h.metadata["speaker"] for h in hits} == {"ann"}
    assert {"feature_search", "group_by", "limit"} <= set(hits[0].provenance)  # filter: pushed
    explained = db.retriever("by_speaker", version=1).explain({"query": "churn", "speaker": "bob"})
    assert [s.type for s in explained.stages] == [
        "attribute_filter",
        "feature_search",
        "group_by",
        "limit",
    ]
    assert [h.source.endswith("churn.txt") for h in explained.hits] == [True]


def test_ad_hoc_retrieval_and_the_default_search_agree(db: Database) -> None:
    plain = spec(speaker_filter=False)
    plain["inputs"] = {"query": {"type": "text"}}
    hits = db.retrieve(plain, {"query": "launch security review"})
    assert hits.hits[0].source.endswith("launch.txt")
    assert db.retrievers() == []  # nothing saved
    assert (
        db.collection("talks")
        .search("launch security review", k=1)[0]
        .source.endswith("launch.txt")
    )


def test_a_spec_naming_a_missing_feature_is_refused_and_not_saved(db: Database) -> None:
    bad = spec()
    bad["stages"][1]["params"]["searches"][1]["feature"] = "ocr@v1/text"  # type: ignore[index]
    with pytest.raises(InvalidSpecError) as error:
        db.create_retriever(bad)
    assert error.value.context["field"] == "stages[1].params.searches[1].feature"
    assert db.retrievers() == []
    with pytest.raises(InvalidSpecError, match="collections"):
        db.create_retriever({"name": "x", "collections": [], "stages": [{"type": "limit"}]})


def test_the_cli(db: Database, tmp_path: Path) -> None:
    runner = CliRunner()

    def cli(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, ["--data", str(db.path), *args], catch_exceptions=False)
        return result.exit_code, result.output

    import yaml

    spec_file = tmp_path / "by_speaker.yaml"
    spec_file.write_text(yaml.safe_dump(spec()))
    code, out = cli("retriever", "create", str(spec_file))
    assert code == 0 and "version 1" in out, out
    code, out = cli("retriever", "list")
    assert code == 0 and "by_speaker" in out
    code, out = cli("retriever", "show", "by_speaker")
    assert json.loads(out)["spec"]["stages"][0]["type"] == "attribute_filter"
    code, out = cli(
        "retriever", "run", "by_speaker", "-i", "query=churn", "-i", "speaker=bob", "--json"
    )
    assert code == 0 and json.loads(out)[0]["source"].endswith("churn.txt")
    code, out = cli("retriever", "explain", "by_speaker", "-i", "query=churn", "-i", "speaker=bob")
    assert code == 0 and "feature_search" in out and "group_by" in out

    relevant = {
        name: db.collection("talks").search(text, k=1)[0].object_id
        for name, (text, _) in TALKS.items()
    }
    qrels = tmp_path / "qrels.jsonl"
    qrels.write_text(
        "\n".join(
            json.dumps(
                {
                    "inputs": {"query": text, "speaker": who},
                    "relevant": [{"object_id": relevant[name]}],
                }
            )
            for name, (text, who) in TALKS.items()
        )
    )
    code, out = cli("eval", "by_speaker", "--qrels", str(qrels), "-k", "3", "--json")
    report = json.loads(out)
    assert code == 0 and report["queries"] == 3
    assert report["recall_at_k"] == 1.0 and report["mrr"] == 1.0


def test_cli_errors_are_one_line_naming_the_field(db: Database, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**spec(), "stages": [{"type": "teleport"}]}))
    script = Path(sys.executable).with_name("omnidex")  # the console script, as a user runs it
    command = [str(script), "--data", str(db.path), "retriever", "create", str(bad)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "unknown stage type" in result.stderr and "stages[0].type" in result.stderr
    assert "Traceback" not in result.stderr
