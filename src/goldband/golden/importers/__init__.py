"""Importers: golden sets from OpenAI Evals, promptfoo, CSV and JSONL files.

Each importer reads a peer's file into an ``Imported`` set and lists what it could not
map (``Unmapped``: where, what, why); ``write`` writes the golden set (a JSONL beside it
for large sets), prompt files and a targets file, never over an existing file. The
``goldband import`` command (``goldband.cli.importcmd``) is their front end.
"""

from goldband.golden.importers.common import Imported, Unmapped, write
from goldband.golden.importers.openai_evals import from_registry, from_samples
from goldband.golden.importers.promptfoo import from_promptfoo
from goldband.golden.importers.table import from_table, parse_mapping

__all__ = ["Imported", "Unmapped", "from_promptfoo", "from_registry", "from_samples", "from_table",
           "parse_mapping", "write"]
