"""Config sections about the data: where it is, the target, the features, the suite."""

from __future__ import annotations

import codecs
from typing import Literal

from pydantic import Field, field_validator, model_validator

from driftline.core.config.section import Section
from driftline.core.contracts import TaskKind


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
    """The column to predict, the task it poses (inferred from its values when not given) and,
    for a binary task, the label that counts as positive."""

    column: str
    task: TaskKind | None = Field(
        None, description="binary, multiclass or regression; none: inferred from the target."
    )
    positive_label: str | int | bool = 1

    @model_validator(mode="after")
    def _binary_only(self) -> Target:
        if "positive_label" in self.model_fields_set and self.task not in (None, "binary"):
            raise ValueError(
                f"positive_label applies to binary targets only; remove it (task is '{self.task}')"
            )
        return self

    @property
    def positive_label_set(self) -> bool:
        """Whether the config names a positive label (rather than taking the default 1)."""
        return "positive_label" in self.model_fields_set


class Features(Section):
    """Feature columns by kind; both empty means: infer from the data (numbers are numeric).

    `exclude` drops columns from the features (inferred or listed): a leak, a free-text note.
    """

    numeric: list[str] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _disjoint(self) -> Features:
        both = set(self.numeric) & set(self.categorical)
        if both:
            raise ValueError(f"columns listed as both numeric and categorical: {sorted(both)}")
        return self


class Expectations(Section):
    suite: str = Field(description="Name of expectations/<suite>.json.")
    directory: str = "expectations"
