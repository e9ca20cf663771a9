"""Step 5, verdicts (pure functions): band settings (``spec``), intervals for a pass rate and a
mean score (``intervals``), the fixed-N rule (``decide``), adaptive stopping (``sprt``), control
limits and flip rates (``control``), bands learned from a case's history (``history``), and the
verdict of one case's trials (``verdict``)."""
