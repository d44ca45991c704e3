"""Command-line entry points: thin wrappers that turn domain errors into one line and an
exit code (0 ok, 1 some inputs failed, 2 usage or configuration error)."""
