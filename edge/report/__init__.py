"""The run report: one self-contained HTML page summarising an output folder.

It reads only files of ``OUTDIR`` (``run.json``, ``detections.csv``, ``levels.csv``,
``raven/``, ``plots/index.json`` and the PNGs it lists), never the audio, so any producer
of those files (``edge-detect``, a cluster run, an export from the shore database) gets the
same page.  ``data`` gathers and aggregates with bounded memory (the detections CSV is
streamed), ``charts`` draws the run-level charts, ``page`` writes the HTML with the
standard library, ``build`` ties them together (``write_report``).
"""
