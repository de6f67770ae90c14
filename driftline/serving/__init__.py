"""Serving the champion: the FastAPI app (`app.create_app`), hot swap (`holder`), the
prediction log and its readers (`predlog`), canary routing (`routing`), request models (`schema`).

The log readers are re-exported here for the monitoring flow.
"""

from driftline.serving.predlog import (
    log_root,
    read_feedback,
    read_labelled_log,
    read_prediction_log,
)

__all__ = ["log_root", "read_feedback", "read_labelled_log", "read_prediction_log"]
