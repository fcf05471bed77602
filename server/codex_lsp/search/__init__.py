"""Fuzzy file search (`fuzzyFileSearch`): an incremental, .gitignore-aware index of each root
(`index.py`), a scorer (`matcher.py`) and the service that runs searches off the event loop with
cancellation tokens (`service.py`)."""
