"""The applications built on the core and storage: the `driftline` command, the prediction
server and the demo."""
