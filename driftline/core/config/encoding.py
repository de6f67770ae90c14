"""Config section about how feature columns are encoded for each kind of estimator."""

from __future__ import annotations

from pydantic import Field

from driftline.core.config.section import Section


class Encoding(Section):
    """How categorical and free-text columns reach the estimators (`driftline.core.encoding`).

    A categorical column with more distinct values than `high_cardinality_levels` is target
    encoded (cross-fitted); a column of free text (listed in `text`, or detected: many distinct
    values of several words each) goes through TF-IDF. Nothing is one-hot encoded level by level
    beyond `max_one_hot_levels` per column.
    """

    high_cardinality_levels: int = Field(
        255, ge=2, description="Distinct values above which a categorical is target encoded."
    )
    min_frequency: int = Field(
        5, ge=1, description="Rows a level needs to keep its own code; rarer ones are grouped."
    )
    max_one_hot_levels: int = Field(
        100, ge=2, description="One-hot columns per categorical for the linear models at most."
    )
    text: list[str] = Field(
        default_factory=list,
        description="Categorical columns that hold free text (others are detected).",
    )
    text_min_words: float = Field(
        3.0, gt=0, description="Mean words per value from which a column is detected as text."
    )
    text_min_levels: int = Field(
        50, ge=2, description="Distinct values a column needs before it is detected as text."
    )
