"""goldband's tests: one folder per folder of ``src/goldband``, one ``test_<module>.py`` per source module.

Shared helpers stay at this level (``judgekit``, ``monitorkit``, ``storefixtures``) and are imported by
bare name (``pythonpath = ["tests"]`` in pyproject.toml); fixtures for every folder are in ``conftest.py``.
Files that test no single module stay here too: ``test_readme.py`` and ``test_layers.py``.
"""
