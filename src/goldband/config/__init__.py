"""Configuration: the strict pydantic base and its file:line errors (``base``), goldband.yaml
(``project``), the pytest options and ``GOLDBAND_*`` variables (``settings``, standard library
only), and the ``monitors:`` and ``alerts:`` sections (``monitors``, ``alerts``)."""
