"""The shore side: verify, decode, deduplicate and store frames from buoys; export records.

``store`` (SQLite) holds what was accepted; ``ingest`` reads frames from a folder, an MQTT
topic or RockBLOCK web-hook POSTs; ``export`` writes ``detections.csv`` columns and Raven
tables.  Frame format: ``docs/reference/frames.md``.
"""
