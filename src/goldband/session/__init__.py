"""The composition root of a run: ``Session`` (config, planner, store, engine, judge, recorder,
outcomes), planning, the judge's wiring (``judging``), ``settle`` (the one verdict rule), the run
recorder and its writer, pre-merge, and ``goldband.run`` (``api``). Nothing below imports it."""
