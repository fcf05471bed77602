"""The fake backend's own contract (other suites, the demo and the benchmarks rely on it)."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from codex_lsp.fakes.backend import FakeBackend, bundled_models, shell_call, text

pytestmark = pytest.mark.timeout(30)


def sse_types(body: str) -> list[str]:
    return [
        json.loads(line[len("data: ") :])["type"]
        for line in body.splitlines()
        if line.startswith("data: ")
    ]


def test_models_etag_and_304(fake: FakeBackend) -> None:
    with httpx.Client(base_url=fake.base_url) as client:
        first = client.get("/backend-api/codex/models", params={"client_version": "1.0.0"})
        assert first.status_code == 200
        assert first.json()["models"] == bundled_models()
        etag = first.headers["etag"]
        assert etag == fake.models_etag
        again = client.get("/backend-api/codex/models", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        fake.models = [{"slug": "only-one"}]
        changed = client.get("/v1/models", headers={"If-None-Match": etag})
        assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert fake.requests[0].query == {"client_version": "1.0.0"}


def test_request_log_records_method_path_headers_and_json(fake: FakeBackend) -> None:
    with httpx.Client(base_url=fake.base_url) as client:
        client.post(
            "/v1/responses",
            json={"input": [], "model": "m"},
            headers={"Authorization": "Bearer tok"},
        )
    [recorded] = fake.requests
    assert (recorded.method, recorded.path) == ("POST", "/v1/responses")
    assert recorded.body == {"input": [], "model": "m"}
    assert recorded.bearer == "tok"
    assert "tok" not in repr(recorded)


def test_scripts_are_used_in_order_then_the_default(fake: FakeBackend) -> None:
    fake.script_next([text("first")])
    fake.script_next([shell_call(["echo", "hi"], call_id="call-7")])
    with httpx.Client(base_url=fake.base_url) as client:
        bodies = [client.post("/responses", json={"input": []}).text for _ in range(3)]
    assert '"delta": "first"' in bodies[0]
    assert '"call_id": "call-7"' in bodies[1]
    assert "Hello from the fake backend" in bodies[2]
    for body in bodies:
        types = sse_types(body)
        assert types[0] == "response.created" and types[-1] == "response.completed"


def test_rate_limit_headers_on_responses(fake: FakeBackend) -> None:
    with httpx.Client(base_url=fake.base_url) as client:
        response = client.post("/responses", json={"input": []})
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["x-codex-primary-window-minutes"] == "300"


def test_accepted_tokens_and_401_once(fake: FakeBackend) -> None:
    fake.accepted_tokens = {"good"}
    with httpx.Client(base_url=fake.base_url) as client:
        assert client.get("/wham/usage", headers={"Authorization": "Bearer bad"}).status_code == 401
        assert client.get("/wham/usage").status_code == 401
        ok = client.get("/wham/usage", headers={"Authorization": "Bearer good"})
        assert ok.status_code == 200 and ok.json()["plan_type"] == "pro"
        fake.faults.unauthorized_once = True
        good = {"Authorization": "Bearer good"}
        assert [client.get("/wham/usage", headers=good).status_code for _ in range(2)] == [401, 200]


def test_faults_count_down_and_respect_path_suffix(fake: FakeBackend) -> None:
    fake.faults.server_errors = 1
    fake.faults.rate_limited = 1
    fake.faults.retry_after_s = 2
    fake.faults.path_suffix = "/models"
    with httpx.Client(base_url=fake.base_url) as client:
        assert client.get("/api/codex/usage").status_code == 200  # not a /models path
        limited = client.get("/models")
        assert limited.status_code == 429 and limited.headers["retry-after"] == "2"
        assert client.get("/models").status_code == 500
        assert client.get("/models").status_code == 200


def test_disconnect_mid_stream(fake: FakeBackend) -> None:
    fake.faults.disconnect_after_events = 2
    with httpx.Client(base_url=fake.base_url) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.post("/responses", json={"input": []})
        assert client.post("/responses", json={"input": []}).status_code == 200


def test_stop_releases_a_stalled_stream_quickly() -> None:
    fake = FakeBackend().start()
    fake.faults.stall_after_events = 1
    errors: list[BaseException] = []

    def read_stream() -> None:
        try:
            with httpx.Client(base_url=fake.base_url, timeout=20) as client:
                client.post("/responses", json={"input": []})
        except httpx.HTTPError as exc:
            errors.append(exc)

    reader = threading.Thread(target=read_stream)
    reader.start()
    time.sleep(0.3)
    assert reader.is_alive()  # stalled
    start = time.monotonic()
    fake.stop()
    reader.join(timeout=10)
    assert not reader.is_alive()
    assert time.monotonic() - start < 6
    assert errors, "the stalled stream should end with a protocol error"


def test_unknown_route_is_404(fake: FakeBackend) -> None:
    with httpx.Client(base_url=fake.base_url) as client:
        response = client.get("/nope")
    assert response.status_code == 404 and "no route" in response.json()["error"]["message"]
