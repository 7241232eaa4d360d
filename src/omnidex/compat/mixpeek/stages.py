"""Mixpeek retriever stages as omnidex stages.

``feature_search``, ``attribute_filter``, ``rerank``, ``group_by``, ``sort_attribute`` (omnidex's
``sort``) and ``limit``, with the parameters docs/mixpeek.md lists for each.

Mixpeek's ``{{INPUT.name}}`` (or ``{{inputs.name}}``) references become omnidex's
``{{inputs.name}}``; an unknown stage or parameter value is a 4xx naming what is supported.
"""

from __future__ import annotations

import json
import re
from typing import Any

from omnidex.compat.mixpeek.extractors import resolve
from omnidex.errors import InvalidSpecError

STAGES = ("attribute_filter", "feature_search", "group_by", "limit", "rerank", "sort_attribute")
_TEMPLATE = re.compile(r"\{\{\s*(?:INPUTS?|inputs?)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_INPUT = re.compile(r"\{\{inputs\.[A-Za-z_][A-Za-z0-9_]*\}\}")
_OPERATORS = {
    "eq": "=",
    "ne": "!=",
    "gt": ">",
    "gte": ">=",
    "lt": "<",
    "lte": "<=",
    "in": "in",
    "nin": "not in",
    "contains": "contains",
}
FIELDS = {
    "document_id": "id",
    "start_time": "start_s",
    "end_time": "end_s",
    "page_number": "page",
    "source_object_id": "metadata.source_object_id",
    "root_object_id": "metadata.source_object_id",
    "bucket_id": "metadata.bucket_id",
}
"""Mixpeek document fields and the omnidex fields they are."""
_FUSIONS = ("rrf", "weighted", "max")


def template(value: Any) -> Any:
    """``value`` with Mixpeek's input references written as omnidex's."""
    if isinstance(value, str):
        return _TEMPLATE.sub(lambda m: "{{inputs." + m[1] + "}}", value)
    if isinstance(value, dict):
        return {k: template(v) for k, v in value.items()}
    if isinstance(value, list):
        return [template(v) for v in value]
    return value


def input_names(value: Any) -> list[str]:
    return list(dict.fromkeys(_TEMPLATE.findall(json.dumps(value))))


def stage_parts(stage: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The stage's id and parameters from ``{stage_name, config: {stage_id, parameters}}``."""
    config = stage.get("config") or {}
    stage_id = str(config.get("stage_id") or stage.get("stage_name") or "")
    params = config.get("parameters")
    if params is None:
        params = {k: v for k, v in config.items() if k != "stage_id"}
    if not isinstance(params, dict):
        raise InvalidSpecError(
            "stage parameters must be an object", field="stages.config.parameters"
        )
    return stage_id, params


def omnidex_stage(stage: dict[str, Any], index: int) -> dict[str, Any]:
    stage_id, params = stage_parts(stage)
    if stage_id not in STAGES:
        raise InvalidSpecError(
            f"stage {index} has stage_id {stage_id!r}; omnidex maps: {', '.join(STAGES)}",
            field=f"stages[{index}].config.stage_id",
        )
    params = template(params)
    mapped = {
        "feature_search": _feature_search,
        "attribute_filter": _attribute_filter,
        "rerank": _rerank,
        "group_by": _group_by,
        "sort_attribute": _sort,
        "limit": _limit,
    }[stage_id](params, f"stages[{index}].config.parameters")
    kind = {"sort_attribute": "sort"}.get(stage_id, stage_id)
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", str(stage.get("stage_name") or stage_id))[:64]
    return {"type": kind, "id": name, "params": mapped}


def _feature_search(params: dict[str, Any], at: str) -> dict[str, Any]:
    searches = params.get("searches") or []
    if not searches:
        raise InvalidSpecError("feature_search needs at least one search", field=f"{at}.searches")
    out = []
    for i, search in enumerate(searches):
        query = search.get("query")
        if isinstance(query, dict):
            mode = query.get("input_mode", "text")
            if mode != "text":
                raise InvalidSpecError(
                    f"query input_mode {mode!r} is not supported; omnidex searches with text",
                    field=f"{at}.searches[{i}].query.input_mode",
                )
            query = query.get("value", query.get("text"))
        if not isinstance(query, str):
            raise InvalidSpecError(
                "a search's query must be text", field=f"{at}.searches[{i}].query"
            )
        entry: dict[str, Any] = {
            "feature": resolve(str(search.get("feature_uri", "")), bool(search.get("lexical"))),
            "query": query,
            "name": f"search{i}",
        }
        for key in ("top_k", "min_score", "weight"):
            if search.get(key) is not None:
                entry[key] = search[key]
        out.append(entry)
    fusion = params.get("fusion") or "rrf"
    if fusion not in _FUSIONS:
        raise InvalidSpecError(
            f"fusion {fusion!r} is not supported; omnidex fuses with: {', '.join(_FUSIONS)}",
            field=f"{at}.fusion",
        )
    return {"searches": out, "fusion": fusion, "top_k": int(params.get("final_top_k") or 25)}


def field_name(name: str) -> str:
    return FIELDS.get(name, name)


def _literal(value: Any, at: str) -> str:
    if (
        isinstance(value, str)
        and _TEMPLATE.fullmatch("{{" + value.strip("{} ") + "}}")
        and value.startswith("{{")
    ):
        return value  # an input, bound as a value by the filter stage
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if value is None:
        return "null"
    raise InvalidSpecError(f"filter value {value!r} must be text, a number or a boolean", field=at)


def _condition(cond: dict[str, Any], at: str) -> str:
    for key, joiner in (("AND", " and "), ("OR", " or ")):
        if key in cond or key.lower() in cond:
            parts = cond.get(key, cond.get(key.lower())) or []
            return "(" + joiner.join(_condition(p, at) for p in parts) + ")"
    if "NOT" in cond or "not" in cond:
        inner = cond.get("NOT", cond.get("not"))
        parts = inner if isinstance(inner, list) else [inner]
        return "not (" + " and ".join(_condition(p, at) for p in parts) + ")"
    operator = str(cond.get("operator", "eq"))
    if operator not in _OPERATORS:
        raise InvalidSpecError(
            f"filter operator {operator!r} is not supported; omnidex supports: "
            f"{', '.join(_OPERATORS)}",
            field=f"{at}.operator",
        )
    field, value = field_name(str(cond.get("field", ""))), cond.get("value")
    if not field:
        raise InvalidSpecError("a filter condition needs a field", field=f"{at}.field")
    if operator in ("in", "nin"):
        values = value if isinstance(value, list) else [value]
        listed = ", ".join(_literal(v, at) for v in values)
        return f"{field} {_OPERATORS[operator]} ({listed})"
    if value is None and operator in ("eq", "ne"):
        return f"{field} is {'not ' if operator == 'ne' else ''}null"
    return f"{field} {_OPERATORS[operator]} {_literal(value, at)}"


def where_of(conditions: dict[str, Any], at: str = "filters") -> str:
    """An omnidex ``where`` expression for Mixpeek filter conditions (``{"AND": [...]}`` or one
    ``{field, operator, value}``), with input references bound as values."""
    return _condition(template(conditions), at)


def _attribute_filter(params: dict[str, Any], at: str) -> dict[str, Any]:
    if params.get("conditions"):
        return {"where": _condition(params["conditions"], at)}
    if params.get("field"):
        return {"where": _condition(params, at)}
    raise InvalidSpecError("attribute_filter needs field/operator/value or conditions", field=at)


def _rerank(params: dict[str, Any], at: str) -> dict[str, Any]:
    out: dict[str, Any] = {"field": field_name(str(params.get("document_field") or "text"))}
    model = params.get("inference_name") or params.get("model_id")
    if model:
        out["model_id"] = model
    for key in ("query", "top_k"):
        if params.get(key) is not None:
            out[key] = params[key]
    return out


def _group_by(params: dict[str, Any], at: str) -> dict[str, Any]:
    field = str(params.get("group_by_field") or params.get("field") or "source_object_id")
    mapped = (
        "object_id"
        if field in ("source_object_id", "root_object_id", "object_id")
        else field_name(field)
    )
    out: dict[str, Any] = {"field": mapped}
    if params.get("max_per_group"):
        out["top_n"] = params["max_per_group"]
    return out


def _sort(params: dict[str, Any], at: str) -> dict[str, Any]:
    if not params.get("field"):
        raise InvalidSpecError("sort_attribute needs a field", field=f"{at}.field")
    return {
        "field": field_name(str(params["field"])),
        "order": "desc" if params.get("direction") == "desc" else "asc",
    }


def _limit(params: dict[str, Any], at: str) -> dict[str, Any]:
    return {"limit": params.get("limit", 10), "offset": params.get("offset", 0)}
