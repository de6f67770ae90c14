"""Serving the champion: the FastAPI app (`app.create_app`), hot swap (`holder`), request
limits (`limits`), canary routing (`routing`) and request models (`schema`)."""
