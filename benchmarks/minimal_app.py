"""The baseline of the serving benchmark: the smallest FastAPI app serving a model file.

`python -m benchmarks.minimal_app MODEL_FILE PORT`: loads the joblib file and answers
POST /predict `{"records": [...]}` with `predict_proba(pd.DataFrame(records))`, nothing else
(no validation, no log, no ids), as a team would write it first.
"""

from __future__ import annotations

import sys
from typing import Any

import joblib
import pandas as pd
import uvicorn
from fastapi import FastAPI


def build(model_file: str) -> FastAPI:
    model = joblib.load(model_file)
    app = FastAPI()

    @app.post("/predict")
    def predict(body: dict[str, Any]) -> dict[str, Any]:
        proba = model.predict_proba(pd.DataFrame(body["records"]))[:, 1]
        return {"predictions": [{"probability": float(p)} for p in proba]}

    return app


if __name__ == "__main__":
    uvicorn.run(build(sys.argv[1]), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
