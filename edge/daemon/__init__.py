"""The buoy daemon behind ``edge-run``: recordings as they are written -> the detection log,
with effort and health records, backlog-aware degradation and a raw-audio retention policy."""
