"""Prefect plumbing shared by flows, tasks and the applications: the hermetic environment,
events, task runners, run folders and the background Prefect server.

Nothing is imported here: `environment` must run before Prefect is first imported."""
