"""Config sections about the data: where it is, the target, the features, the suite."""

from __future__ import annotations

import codecs
from typing import Literal

from pydantic import Field, field_validator, model_validator

from driftline.core.config.section import Section


class DataSource(Section):
    """Where the raw batches are: one file, a glob, or a folder of CSV/Parquet files."""

    source: str = Field(description="File, glob or folder, relative to the config file.")
    format: Literal["auto", "csv", "parquet"] = "auto"
    encoding: str = Field("utf-8", description="Text encoding of CSV files, e.g. latin-1.")

    @field_validator("encoding")
    @classmethod
    def _known(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r} (e.g. utf-8, latin-1, cp1252)") from None
        return value


class Target(Section):
    column: str
    positive_label: str | int | bool = 1


class Features(Section):
    """Feature columns by kind; both empty means: infer from the data (numbers are numeric)."""

    numeric: list[str] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _disjoint(self) -> Features:
        both = set(self.numeric) & set(self.categorical)
        if both:
            raise ValueError(f"columns listed as both numeric and categorical: {sorted(both)}")
        return self


class Expectations(Section):
    suite: str = Field(description="Name of expectations/<suite>.json.")
    directory: str = "expectations"
