"""Thread history on disk, in upstream's rollout format (see agent-loop.md §2).

- ``rollout`` — paths, line envelope, ids, timestamps.
- ``policy`` — pure: what is persisted, secret scrubbing, turn notifications → ``event_msg``.
- ``recorder`` — one writer task per thread (record / flush / aclose), file lock.
- ``reader`` — load a rollout, list threads from heads and tails, names, archive moves.
- ``turns`` — pure: `Thread.turns` and the model context rebuilt from a rollout.
"""
