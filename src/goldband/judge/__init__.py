"""The rubric-driven LLM judge: rubrics, fenced prompts, strict replies, cache, calibration.

One module per concern, each small:

- ``rubric``: the ``rubrics/NAME.yaml`` format, its validation (file:line) and hashes.
- ``prompt``: renders a rubric and fences the data under test (random per-call delimiters).
- ``reply``: the pydantic reply model, its JSON Schema, and the strict parse of a reply.
- ``scoring``: judge samples -> weighted rubric score and per-criterion scores (pure).
- ``runtime``: one judge request per output through the engine, honouring the run mode,
  the judge cassettes and the judge ``cache`` (a two-method protocol; SQLite today).
- ``setup``: wiring into a run (``Services.extras['judge']``, preflight checks).
- ``agreement`` / ``calibrate`` / ``gate``: agreement with human labels (kappa), its
  record, and whether a rubric may gate; ``summary``: the run's judge-error share.
- ``noise``: judge versus generation variance; ``pairwise``: position-swapped comparison;
  ``workflows``: calibration, noise and pairwise runs for ``goldband judge``.

Nothing here is imported by ``goldband.plugin``; the rubric check (``goldband.judge.check``)
loads it when a golden set names a rubric.
"""
