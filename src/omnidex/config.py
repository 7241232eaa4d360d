"""Settings: where data lives and the limits every input must respect, overridable by environment.

Each field can be set with an ``OMNIDEX_`` variable of the same name in upper case, e.g.
``OMNIDEX_HOME=/data/omnidex`` or ``OMNIDEX_MAX_FILE_BYTES=1000000``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError, field_validator

from omnidex.errors import InvalidSettingError

ENV_PREFIX = "OMNIDEX_"

Model = TypeVar("Model", bound=BaseModel)


def build_from_env(cls: type[Model], prefix: str, overrides: dict[str, Any]) -> Model:
    """``cls`` from its ``<prefix><FIELD>`` variables, then ``overrides`` (None is ignored).

    A variable whose value the field refuses is an :class:`InvalidSettingError` naming the
    variable, the value and what the field expects, not a pydantic traceback.
    """
    from_env = {
        name: raw for name in cls.model_fields if (raw := os.environ.get(prefix + name.upper()))
    }
    values = from_env | {k: v for k, v in overrides.items() if v is not None}
    try:
        return cls(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else ""
        if name not in from_env or overrides.get(name) is not None:
            raise
        variable = prefix + name.upper()
        raise InvalidSettingError(
            f"{variable}={from_env[name]!r} is invalid: {error['msg']}",
            field=variable,
        ) from None


class Limits(BaseModel):
    """Limits enforced before heavy work, so that one hostile file cannot exhaust the host."""

    max_file_bytes: int = Field(2 * 1024**3, gt=0, description="largest file accepted")
    max_image_pixels: int = Field(
        100_000_000, gt=0, description="width x height above which an image is refused"
    )
    max_pdf_pages: int = Field(5_000, gt=0, description="pages above which a PDF is refused")
    max_text_chars: int = Field(
        50_000_000, gt=0, description="characters of one text file or PDF above which it is refused"
    )
    max_duration_s: float = Field(
        6 * 3600, gt=0, description="longest video or audio accepted, in seconds"
    )
    max_video_pixels: int = Field(
        8192 * 4320, gt=0, description="width x height of a video frame above which it is refused"
    )
    max_pdf_memory_bytes: int = Field(
        2 * 1024**3,
        gt=0,
        description="memory the child process that reads or renders a PDF may allocate; a PDF "
        "that inflates past it (a decompression bomb) fails alone",
    )
    decode_timeout_s: float = Field(
        3600, gt=0, description="time one decoding child process may take before it is killed"
    )
    max_metadata_keys: int = Field(
        100,
        gt=0,
        description="top-level keys one object's metadata may have (each may become "
        "a typed column)",
    )
    max_metadata_key_chars: int = Field(
        128, gt=0, description="characters of one metadata key, at any depth"
    )
    max_metadata_bytes: int = Field(
        32 * 1024, gt=0, description="size of one object's metadata as JSON, values included"
    )
    max_metadata_depth: int = Field(
        8, gt=0, description="how deeply metadata objects and lists may nest"
    )
    max_metadata_columns: int = Field(
        512,
        gt=0,
        description="typed metadata columns one collection may have (a column per "
        "top-level key and kind of value)",
    )


class Settings(BaseModel):
    home: Path = Field(default_factory=lambda: Path.home() / ".omnidex")
    documents_uri: str | None = Field(
        None,
        description="where the LanceDB documents live: a folder or s3:// / gs:// URI "
        "(credentials and endpoint from the environment); default <home>/documents",
    )
    catalog_url: str | None = Field(
        None,
        description="the catalog: postgresql://user:password@host/db (shared by several servers "
        "and Ray drivers) or sqlite:///path; default <home>/catalog.sqlite",
    )
    catalog_pool_size: int = Field(
        10, ge=1, le=1000, description="most connections one process opens to a PostgreSQL catalog"
    )
    catalog_timeout_s: float = Field(
        5.0,
        gt=0,
        le=600,
        description="how long a call waits for a PostgreSQL connection before failing (503)",
    )
    limits: Limits = Field(default_factory=Limits)
    ocr_dpi: int = Field(200, ge=72, le=600, description="resolution scanned PDF pages are read at")
    thumbnail_width: int = Field(
        320, ge=32, le=2048, description="longest side of stored thumbnails"
    )
    ingest_batch_segments: int = Field(
        256, gt=0, description="segments gathered across objects before extractors run"
    )
    model_endpoints: list[str] = Field(
        default_factory=list,
        description="base URLs of the model servers this operator runs (comma-separated in the "
        "environment): they may be on the inside network and get OMNIDEX_OPENAI_API_KEY; any "
        "other base_url must be a public address and gets no key",
    )

    @field_validator("model_endpoints", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @property
    def documents(self) -> str:
        """The document store's URI: ``documents_uri``, else ``<home>/documents``."""
        return self.documents_uri or str(self.home.expanduser() / "documents")

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Defaults, then ``OMNIDEX_*`` variables, then explicit ``overrides`` (None is ignored)."""
        limits = build_from_env(Limits, ENV_PREFIX, {})
        return build_from_env(cls, ENV_PREFIX, {"limits": limits} | overrides)
