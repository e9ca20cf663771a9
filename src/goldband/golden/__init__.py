"""Step 1, collect: golden sets (``goldenset``: load, validate with file:line errors, hash) and
their lock files (``lock``: a changed hash under an unchanged version is an error)."""
