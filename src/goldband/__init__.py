"""goldband: LLM regression testing inside pytest.

Versioned golden sets run against prompt + model targets several times; every
output is scored by deterministic checks; the repeats become one honest
verdict per case. This module stays tiny: pytest imports goldband's plugin in
every project, so nothing heavy is imported here.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
