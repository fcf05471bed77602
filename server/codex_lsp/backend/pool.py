"""Giving connections back to httpx's pool (kept free of auth imports: auth.manager uses it)."""

from __future__ import annotations

import httpx

MAX_DRAIN_BYTES = 64 * 1024


async def release_response(response: httpx.Response, limit: int = MAX_DRAIN_BYTES) -> None:
    """Read a small unread body to its end, then close the response.

    A streamed response closed unread makes httpx drop its connection, so the next request (the
    retry after a 401) pays a new TCP (and TLS) handshake. Read to the end, the connection goes
    back to the pool. A body larger than ``limit`` is not worth reading: it is just closed.
    """
    try:
        if not response.is_stream_consumed:
            received = 0
            async for chunk in response.aiter_raw():
                received += len(chunk)
                if received > limit:
                    break
    except httpx.HTTPError:
        pass  # a broken body: closing drops the connection, as before
    finally:
        await response.aclose()
