"""Fuzzing the JSON-RPC envelope itself: id/method/jsonrpc/params types, batches, duplicate keys,
huge ids, stray result/error members.

Envelopes are sent in pipelined bursts (ENVELOPE_BURST per hypothesis example) so that >= 10,000
of them (FUZZ_ENVELOPES to change) run in well under a minute. An oracle written here, independent
of the server's validator, says what each envelope must get: well-formed requests an answer with
their id, broken requests and notifications `-32600` with their id when it is a string or a
finite number (else `null`), notifications and responses nothing. No answer may carry a
non-scalar id, a traceback or a file path, and the server keeps serving.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rpc import BlockingRpc

ENVELOPES_PER_RUN = int(os.environ.get("FUZZ_ENVELOPES", "10000"))
ENVELOPE_BURST = 50
MISSING = object()
_ids = itertools.count(1)
_sent = Counter[str]()

# Each field is drawn as a "kind"; concrete ids are made unique when the envelope is built.
JSONRPC_KINDS = st.sampled_from(["2.0"] * 6 + ["1.0", 2.0, None, ["2.0"], MISSING, ""])
ID_KINDS = st.sampled_from(
    ["int"] * 4
    + ["str"] * 3
    + ["huge", "long", "missing", "null", "bool", "float", "nan-ish", "list", "dict", "negative"]
)
METHOD_KINDS = st.sampled_from(
    ["account/read"] * 3 + ["fuzz/unknown", "$/fuzz", MISSING, 5, None, [], {"m": 1}, True, ""]
)
PARAMS_KINDS = st.sampled_from([MISSING, {}, None, [], "str", 5, {"x": [1, {"y": None}]}, [1, 2]])
EXTRA_KINDS = st.sampled_from([None] * 8 + ["result", "error", "both"])
DUPLICATE_KINDS = st.sampled_from([None] * 6 + ["id", "method", "jsonrpc"])
WHOLE_KINDS = st.sampled_from(
    ["object"] * 20 + ["batch", "empty-batch", "scalar", "string", "null"]
)


def _make_id(kind: str) -> Any:
    n = next(_ids)
    return {
        "int": n,
        "str": f"s-{n}",
        "huge": 2**64 + n,
        "long": f"L{n}-" + "x" * 3000,
        "negative": -n,
        "null": None,
        "bool": n % 2 == 0,
        "float": n + 0.5,
        "nan-ish": 1e400,
        "list": [n],
        "dict": {"id": n},
    }.get(kind, MISSING)


def _expected(message: Any) -> tuple[str, Any]:
    """("answer", id) | ("invalid", id-or-None) | ("none", None), from JSON-RPC 2.0 alone."""
    if not isinstance(message, dict):
        return ("invalid", None)

    def echo(raw: Any) -> Any:
        if isinstance(raw, bool) or raw is None:
            return None
        if isinstance(raw, float):
            return raw if math.isfinite(raw) else None
        return raw if isinstance(raw, int | str) else None

    if "method" not in message and ("result" in message or "error" in message):
        return ("none", None)  # a (possibly broken) response: never answered
    raw_id = message.get("id")
    good = (
        message.get("jsonrpc") == "2.0"
        and isinstance(message.get("method"), str)
        and "result" not in message
        and "error" not in message
        and (
            "id" not in message or (isinstance(raw_id, int | str) and not isinstance(raw_id, bool))
        )
    )
    if not good:
        return ("invalid", echo(raw_id))
    return ("answer", raw_id) if "id" in message else ("none", None)


def _encode(pairs: list[tuple[str, Any]]) -> str:
    """An object with possibly duplicate keys (the last one wins, as in Python's json)."""
    return "{" + ",".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in pairs) + "}"


envelope_shapes = st.tuples(
    WHOLE_KINDS, JSONRPC_KINDS, ID_KINDS, METHOD_KINDS, PARAMS_KINDS, EXTRA_KINDS, DUPLICATE_KINDS
)


def _build(shape: tuple[Any, ...]) -> tuple[str, Any]:
    whole, jsonrpc, id_kind, method, params, extra, duplicate = shape
    pairs: list[tuple[str, Any]] = []
    if duplicate == "id":
        pairs.append(("id", [0]))
    elif duplicate == "method":
        pairs.append(("method", 7))
    elif duplicate == "jsonrpc":
        pairs.append(("jsonrpc", "1.0"))
    for key, value in (
        ("jsonrpc", jsonrpc),
        ("id", _make_id(id_kind)),
        ("method", method),
        ("params", params),
    ):
        if value is not MISSING:
            pairs.append((key, value))
    if extra in ("result", "both"):
        pairs.append(("result", {"ok": True}))
    if extra in ("error", "both"):
        pairs.append(("error", {"code": -1, "message": "m"}))
    text = _encode(pairs)
    message = dict(pairs) if not any(v == 1e400 for _, v in pairs) else json.loads(text)
    if whole == "batch":
        return f"[{text},{text}]", [message, message]
    return {
        "empty-batch": ("[]", []),
        "scalar": ("5", 5),
        "string": ('"hello"', "hello"),
        "null": ("null", None),
    }.get(whole, (text, message))


@pytest.fixture(scope="module")
def envelope_server(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("envelopes")
    home = tmp / "home"
    home.mkdir()
    stderr = tmp / "stderr.log"
    rpc = BlockingRpc(
        home,
        ["--log-level", "DEBUG"],
        stderr_path=stderr,
        env={"CODEX_APP_SERVER_LOGIN_ISSUER": "http://127.0.0.1:9"},
    )
    init = rpc.request(
        "initialize", {"processId": None, "rootUri": tmp.as_uri(), "capabilities": {}}
    )
    assert "result" in init
    rpc.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
    assert "result" in rpc.request("account/read", {})
    yield rpc, stderr
    rpc.close()


def _key(msg_id: Any) -> str:
    return json.dumps(msg_id)


def _assert_clean(message: dict[str, Any]) -> None:
    text = json.dumps(message)
    assert "Traceback" not in text and 'File "' not in text and ".py" not in text, text[:500]
    assert "/work/" not in text and "site-packages" not in text, text[:500]


@settings(
    max_examples=max(1, ENVELOPES_PER_RUN // ENVELOPE_BURST),
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(shapes=st.lists(envelope_shapes, min_size=ENVELOPE_BURST, max_size=ENVELOPE_BURST))
def test_every_envelope_gets_the_answer_json_rpc_requires(envelope_server, shapes) -> None:
    rpc, _ = envelope_server
    frames, wanted_ids, wanted_invalid, wanted_null = [], Counter[str](), Counter[str](), 0
    for shape in shapes:
        text, message = _build(shape)
        frames.append(text)
        kind, msg_id = _expected(message)
        _sent["envelopes"] += 1
        if kind == "answer":
            wanted_ids[_key(msg_id)] += 1
        elif kind == "invalid" and msg_id is None:
            wanted_null += 1
        elif kind == "invalid":
            wanted_invalid[_key(msg_id)] += 1
    start = len(rpc.answers)
    rpc.send_many(frames)
    want = sum(wanted_ids.values()) + sum(wanted_invalid.values()) + wanted_null
    deadline = time.monotonic() + 20
    while len(rpc.answers) - start < want and time.monotonic() < deadline:
        time.sleep(0.002)
    got = rpc.answers[start:]
    assert len(got) == want, (len(got), want, frames[:5])
    for answer in got:
        _assert_clean(answer)
        assert answer.get("jsonrpc") == "2.0"
        assert answer["id"] is None or isinstance(answer["id"], int | float | str), answer
        assert ("result" in answer) != ("error" in answer), answer
        key = _key(answer["id"])
        if answer["id"] is None:
            assert answer["error"]["code"] == -32600, answer
            wanted_null -= 1
        elif wanted_invalid[key]:
            assert answer["error"]["code"] == -32600, answer
            assert answer["error"]["message"].startswith("Invalid Request")
            wanted_invalid[key] -= 1
        else:
            assert wanted_ids[key] > 0, ("unexpected answer", answer)
            if "error" in answer:
                assert answer["error"]["code"] in (-32601, -32602), answer
            wanted_ids[key] -= 1
    assert wanted_null == 0 and not +wanted_invalid and not +wanted_ids
    assert rpc.alive()
    _sent["bursts"] += 1


def test_zz_envelopes_ran_and_nothing_leaked_a_traceback(envelope_server) -> None:
    rpc, stderr = envelope_server
    assert _sent["envelopes"] >= ENVELOPES_PER_RUN, _sent
    assert "result" in rpc.request("account/read", {})  # still serving
    for note in rpc.notifications:
        _assert_clean(note)
    log = Path(stderr).read_text(errors="replace")
    assert "Traceback" not in log
    assert "answering an invalid request with -32600" in log


@pytest.mark.parametrize(
    ("frame", "answer_id"),
    [
        ('{"jsonrpc":"2.0","id":[1,2],"method":"account/read"}', None),
        ('{"jsonrpc":"2.0","id":{"a":1},"method":"account/read"}', None),
        ('{"jsonrpc":"2.0","id":"m-num","method":5}', "m-num"),
        ('{"jsonrpc":"2.0","id":77001,"method":null}', 77001),
        ('{"id":77002,"method":"account/read"}', 77002),
        ('{"jsonrpc":"1.0","id":"old","method":"account/read"}', "old"),
        ('[{"jsonrpc":"2.0","id":77003,"method":"account/read"}]', None),
    ],
)
def test_the_reported_envelopes_get_invalid_request(envelope_server, frame, answer_id) -> None:
    rpc, _ = envelope_server
    start = len(rpc.answers)
    rpc.send(frame)
    assert "result" in rpc.request("account/read", {})  # answered in order, and still serving
    got = [a for a in rpc.answers[start:] if a.get("error")]
    assert len(got) == 1, rpc.answers[start:]
    assert got[0]["id"] == answer_id and got[0]["error"]["code"] == -32600
    assert "data" not in got[0]["error"]
    _assert_clean(got[0])
