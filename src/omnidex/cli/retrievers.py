"""``omnidex retriever create|list|show|run|explain|delete`` and ``omnidex eval``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from omnidex.cli.context import console, state
from omnidex.cli.render import eval_table, hits_table, retrievers_table, stages_table, to_json
from omnidex.errors import InvalidSpecError

app = typer.Typer(help="Saved multi-stage retrievers.", no_args_is_help=True)

InputsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--input", "-i", help="An input as NAME=VALUE (repeatable), e.g. -i query='slide titles'."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command()
def create(
    ctx: typer.Context,
    spec: Annotated[Path, typer.Argument(help="Retriever spec, JSON or YAML.", dir_okay=False)],
) -> None:
    """Check a retriever spec against its collections and save it (a change is a new version)."""
    info = state(ctx).db().create_retriever(read_spec(spec))
    console.print(f"saved retriever [bold]{info.name}[/] version {info.version}")


@app.command("list")
def list_(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The saved retrievers of this namespace."""
    infos = state(ctx).db().retrievers()
    if as_json:
        console.print_json(to_json(infos))
    elif infos:
        console.print(retrievers_table(infos))
    else:
        console.print("no retrievers")


@app.command()
def show(
    ctx: typer.Context,
    name: str,
    version: Annotated[int | None, typer.Option(help="A former version.")] = None,
) -> None:
    """Print a retriever's spec."""
    info = state(ctx).db().retriever(name, version).info
    console.print_json(to_json(info))


@app.command()
def run(
    ctx: typer.Context, name: str, inputs: InputsOption = None, as_json: JsonOption = False
) -> None:
    """Run a saved retriever."""
    hits = state(ctx).db().retriever(name).run(parse_inputs(inputs)).hits
    if as_json:
        console.print_json(to_json(hits))
    elif hits:
        console.print(hits_table(hits, title=name))
    else:
        console.print("no hits")


@app.command()
def explain(
    ctx: typer.Context, name: str, inputs: InputsOption = None, as_json: JsonOption = False
) -> None:
    """Run a saved retriever and show each stage: time, candidates in and out, notes."""
    result = state(ctx).db().retriever(name).explain(parse_inputs(inputs))
    if as_json:
        console.print_json(to_json(result))
        return
    console.print(stages_table(result))
    if result.hits:
        console.print(hits_table(result.hits, title=name))


@app.command()
def delete(ctx: typer.Context, name: str) -> None:
    """Delete a retriever, every version of it."""
    state(ctx).db().delete_retriever(name)
    console.print(f"deleted retriever {name}")


def evaluate(
    ctx: typer.Context,
    retriever: Annotated[str, typer.Argument(help="A saved retriever.")],
    qrels: Annotated[
        Path, typer.Option(help="Labelled queries, JSON Lines (see docs/retrievers.md).")
    ],
    k: Annotated[int, typer.Option("-k", min=1, max=1000, help="Cut-off rank.")] = 10,
    as_json: JsonOption = False,
) -> None:
    """Score a retriever on labelled queries: recall@k, MRR, nDCG@k."""
    from omnidex.retrieval.evaluation import evaluate as score
    from omnidex.retrieval.evaluation import load_qrels

    saved = state(ctx).db().retriever(retriever)
    report = score(lambda inputs: saved.run(inputs).hits, load_qrels(qrels), k)
    if as_json:
        console.print_json(to_json(report))
    else:
        console.print(eval_table(report, retriever))


def read_spec(path: Path) -> dict[str, Any]:
    """A spec file as a dict: YAML for .yaml/.yml, else JSON."""
    if not path.is_file():
        raise InvalidSpecError(f"{path}: no such file", field="spec")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except (ValueError, ImportError) as exc:
        raise InvalidSpecError(f"{path}: cannot read the spec: {exc}", field="spec") from None
    if not isinstance(data, dict):
        raise InvalidSpecError(f"{path}: a spec is a mapping of name, stages…", field="spec")
    return data


def parse_inputs(items: list[str] | None) -> dict[str, str]:
    """``["query=red car", "since=2024-01-01"]`` → a dict; the retriever converts the types."""
    inputs = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InvalidSpecError(f"input {item!r} is not NAME=VALUE", field="inputs")
        inputs[name.strip()] = value
    return inputs
