"""Step 5, base against head with the case as the unit: the per-case statistics (``stats``), the
comparison of two sets of cases (``cases``) and where a baseline comes from (``baseline``: a
stored run or a committed file)."""
