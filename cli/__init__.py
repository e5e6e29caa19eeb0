"""The `shriven` command: an adapter that runs the flows and the core's short steps."""
