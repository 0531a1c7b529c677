"""The advisor's knowledge as reviewable data files (rules, tasks, cases, glossary).

This package holds no logic: only YAML files and their JSON Schema. Code that reads
them lives in :mod:`advisor.knowledge_base`. ``DATA_DIR`` points at the files in a way
that also works after installation (``importlib.resources``).
"""

from importlib.resources import files
from importlib.resources.abc import Traversable

DATA_DIR: Traversable = files(__name__)
