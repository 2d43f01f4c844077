"""The model catalog (``catalog.yaml`` beside this module): models, versions, families, lifecycle dates.

One data file that the Pulumi stack config and the gateway share::

    catalog = load_catalog()
    catalog.family_of("gpt-5-mini").name          # "reasoning"
    catalog.version("gpt-4o", "2024-11-20").retirement   # date(2026, 10, 1)
    catalog.gpu_regions("Standard_NC24ads_A100_v4")     # the regions that offer the size

A family says which parameters its models accept: the name of the output-token cap, parameters that
are renamed (``max_tokens`` -> ``max_completion_tokens`` for reasoning models), refused outright, or
accepted only at their default value. ``shared.model_catalog.shaping`` applies it to a request.
How to update the file is in ``infra/README.md`` ("Updating the model catalog").
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

CATALOG_FILE = Path(__file__).with_name("catalog.yaml")
FamilyName = Literal["chat", "reasoning", "embeddings"]
FAMILIES: tuple[str, ...] = ("chat", "reasoning", "embeddings")


class CatalogError(ValueError):
    """The catalog file is missing or invalid."""


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Family(_Entry):
    name: str = ""
    token_limit: Literal["max_tokens", "max_completion_tokens", "none"]
    renamed: dict[str, str] = Field(default_factory=dict)
    rejects: frozenset[str] = frozenset()
    default_only: dict[str, float] = Field(default_factory=dict)
    min_api_version: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}(-preview)?$")

    @cached_property
    def touched(self) -> frozenset[str]:
        """Every parameter this family renames, refuses or fixes (what shaping looks for)."""
        return frozenset(self.renamed) | self.rejects | frozenset(self.default_only)

    def accepts_api_version(self, api_version: str) -> bool:
        """``v1`` takes every family; a dated version must not predate the family."""
        if api_version == "v1" or self.min_api_version is None:
            return True
        return api_version[:10] >= self.min_api_version[:10]


class ModelVersion(_Entry):
    retirement: dt.date | None = None

    def retired_on(self, today: dt.date) -> bool:
        return self.retirement is not None and self.retirement <= today


class CatalogModel(_Entry):
    family: FamilyName
    versions: dict[str, ModelVersion] = Field(min_length=1)


class GpuSize(_Entry):
    regions: frozenset[str] = frozenset()


class ModelCatalog(_Entry):
    checked: dt.date
    default_api_version: str = Field(pattern=r"^(v1|\d{4}-\d{2}-\d{2}(-preview)?)$")
    families: dict[FamilyName, Family]
    models: dict[str, CatalogModel]
    gpu_sizes: dict[str, GpuSize] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _name_families(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("families"), dict):
            data = {**data, "families": {k: {**v, "name": k} if isinstance(v, dict) else v
                                         for k, v in data["families"].items()}}
        return data

    @model_validator(mode="after")
    def _every_family_described(self) -> ModelCatalog:
        missing = [f for f in FAMILIES if f not in self.families]
        if missing:
            raise ValueError(f"families missing: {', '.join(missing)}")
        return self

    def model(self, name: str) -> CatalogModel | None:
        return self.models.get(name)

    def version(self, model: str, version: str) -> ModelVersion | None:
        entry = self.models.get(model)
        return entry.versions.get(version) if entry else None

    def family(self, name: str) -> Family:
        return self.families[name]  # type: ignore[index]

    def family_of(self, model: str) -> Family | None:
        """The family of a catalog model; ``None`` for a model the catalog does not know."""
        entry = self.models.get(model)
        return self.families[entry.family] if entry else None

    def gpu_regions(self, size: str) -> frozenset[str] | None:
        entry = self.gpu_sizes.get(size)
        return entry.regions if entry else None


def parse_catalog(raw: Any, source: str = "catalog") -> ModelCatalog:
    try:
        return ModelCatalog.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "<root>"
        raise CatalogError(f"{source}: {where}: {first['msg']}") from None


@lru_cache(maxsize=4)
def load_catalog(path: Path = CATALOG_FILE) -> ModelCatalog:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogError(f"cannot read the model catalog {path}: {exc}") from None
    return parse_catalog(raw, str(path))


__all__ = ["CATALOG_FILE", "FAMILIES", "CatalogError", "CatalogModel", "Family", "FamilyName", "ModelCatalog",
           "ModelVersion", "load_catalog", "parse_catalog"]
