"""The edits e2e tests reuse the turn tests' helpers (`turns_support`)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "turns"))
