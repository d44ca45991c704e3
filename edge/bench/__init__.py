"""``edge-bench``: per-stage timings, real-time factor, CPU time, memory and energy of the
runtime on the machine it runs on, with a projection to a buoy's daily energy."""
