"""Frame schemas: stable columns and dtypes, even when a loader finds nothing.

A schema maps column name to dtype name. ``"category"`` means a categorical of strings
(Prometheus labels, Kubernetes names); ``"timestamp"`` means ``datetime64[ns, UTC]``.

>>> schema = {"pod": "category", "timestamp": "timestamp", "value": "float64"}
>>> empty_frame(schema).dtypes.astype(str).tolist()
['category', 'datetime64[ns, UTC]', 'float64']
>>> conform(pd.DataFrame({"value": [1]}), schema)["pod"].isna().all()
np.True_
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

TIMESTAMP_DTYPE = "datetime64[ns, UTC]"
Schema = Mapping[str, str]


def _dtype(name: str) -> object:
    if name == "category":
        return pd.CategoricalDtype(pd.Index([], dtype="str"))
    if name == "timestamp":
        return TIMESTAMP_DTYPE
    return name


def empty_frame(schema: Schema) -> pd.DataFrame:
    """An empty frame with exactly the schema's columns and dtypes."""
    return pd.DataFrame({col: pd.Series([], dtype=_dtype(kind)) for col, kind in schema.items()})


def as_category(values: pd.Series) -> pd.Series:
    """Strings as a categorical whose categories are ``str`` (also when empty or all missing)."""
    series = values.astype("str").where(values.notna())
    categories = pd.Index(sorted(series.dropna().unique()), dtype="str")
    return pd.Series(
        pd.Categorical(series, categories=categories), index=values.index, name=values.name
    )


def conform(frame: pd.DataFrame, schema: Schema, keep_extra: bool = False) -> pd.DataFrame:
    """Reorder, add missing (as NA) and cast columns to the schema.

    Columns the schema does not name are dropped unless ``keep_extra``.
    """
    out = {}
    for column, kind in schema.items():
        if column not in frame.columns:
            out[column] = pd.Series(
                pd.NA if kind not in ("float64", "timestamp") else None,
                index=frame.index,
                dtype=_dtype(kind) if kind != "category" else "object",
            )
        else:
            out[column] = frame[column]
        if kind == "category":
            out[column] = as_category(out[column])
        elif kind == "timestamp":
            out[column] = pd.to_datetime(out[column], utc=True).astype(TIMESTAMP_DTYPE)
        else:
            out[column] = out[column].astype(kind)
    result = pd.DataFrame(out, index=frame.index)
    if keep_extra:
        extra = [c for c in frame.columns if c not in schema]
        result = pd.concat([result, frame[extra]], axis=1)
    return result
