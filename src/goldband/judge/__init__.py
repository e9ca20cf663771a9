"""The rubric-driven LLM judge: rubrics, fenced prompts, strict replies, cache, calibration.

One module per concern, each small:

- ``rubric``: the ``rubrics/NAME.yaml`` format, its validation (file:line) and hashes.
- ``prompt``: renders a rubric and fences the data under test (random per-call delimiters).
- ``reply``: the pydantic reply model, its JSON Schema, and the strict parse of a reply.
- ``scoring``: judge samples -> weighted rubric score and per-criterion scores (pure).
- ``check``: the ``rubric`` check (found by name by ``goldband.checks``; graded by the runtime).
- ``endpoint``: which judge grades a rubric, and the judge's identity (its hash).
- ``runtime``: the engine's ``Judge``: one judge request per output through the engine,
  honouring the run mode, the judge cassettes and the judge ``cache`` (a two-method
  protocol: the session's store, a SQLite file, or memory).
- ``agreement`` / ``calibrate`` / ``gate``: agreement with human labels (kappa), its
  record, whether a rubric may gate, and the run's judge-error share (``gate.health``).
- ``noise``: judge versus generation variance; ``pairwise``: position-swapped comparison;
  ``workflows``: calibration, noise and pairwise runs for ``goldband judge``.

Nothing here is imported by ``goldband.plugin``: the checks registry imports
``goldband.judge.check`` by name when a golden set first names a rubric, and the
session (``goldband.session.judging``) wires the runtime into a run.
"""
