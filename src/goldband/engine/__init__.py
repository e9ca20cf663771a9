"""Steps 2-3, plan and run: a ``CasePlan`` per item (``plan``, with the ``Judge`` protocol and
``Services``), targets rendered into requests (``targets``), one asyncio scheduler for every call
(``scheduler``), the provider clients (``providers``), record/replay (``cassettes``), the run's
``budget``, and running one case's batches until its band is settled (``execute``)."""
