"""``edge-detect --scheduler``: the same run spread over a Dask cluster (``pamedge[dask]``).

A unit of work is a chunk of one recording: frames ``[c0, c1)`` starting on a level-period
boundary.  Its task first replays enough audio before ``c0`` (and, when the recording
continues an earlier one, the end of that one) to rebuild the ROI detector's state, then
keeps the ROIs whose event started in the chunk and the level periods inside it, so the
merged outputs equal a single-process run's.  Modules: ``plan`` (units and their warm-up
spans, no Dask), ``task`` (what runs on a worker, no Dask), ``client`` (scheduling,
gathering, committing; imports ``distributed`` when called).
"""
