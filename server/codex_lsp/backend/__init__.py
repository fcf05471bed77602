"""HTTP clients for the Codex backend: provider resolution, the shared httpx client, the
Responses streaming client, rate limits and usage."""
