"""``omnidex serve``: the REST API (and, later, the Studio) on 127.0.0.1 unless told otherwise."""

from __future__ import annotations

from typing import Annotated

import typer

from omnidex.cli.context import errors, state
from omnidex.errors import MissingDependencyError


def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Address to bind [127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [8000].")] = None,
    workers: Annotated[int | None, typer.Option(help="Ingest workers [2].")] = None,
    dev: Annotated[
        bool, typer.Option("--dev", help="No API keys: anyone who reaches the port may write.")
    ] = False,
    runner: Annotated[
        str | None, typer.Option(help="Run ingests 'local'ly or on a 'ray' cluster [local].")
    ] = None,
    address: Annotated[
        str | None, typer.Option(help="Ray cluster address (ray://host:10001) [RAY_ADDRESS].")
    ] = None,
) -> None:
    """Serve the REST API. Every route but /v1/health and /v1/ready needs an API key
    (`omnidex key create`)."""
    try:
        import uvicorn

        from omnidex.config import Settings
        from omnidex.server.app import create_app
        from omnidex.server.config import ServerConfig
    except ImportError:
        raise MissingDependencyError(
            "the server needs FastAPI and uvicorn: pip install 'omnidex[server]'",
            dependency="fastapi",
        ) from None
    settings = Settings.from_env(home=state(ctx).data)
    config = ServerConfig.from_env(
        host=host, port=port, workers=workers, dev=dev or None, runner=runner, ray_address=address
    )
    if config.dev:
        errors.print(
            "[bold red]DEV MODE: authentication is OFF.[/] Anyone who can reach "
            f"{config.host}:{config.port} can read and write every namespace. Never expose it."
        )
    uvicorn.run(create_app(settings, config), host=config.host, port=config.port)
