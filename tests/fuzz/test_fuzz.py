"""Fuzzing: generated JSON-RPC messages and params for every registered method.

>= 10,000 cases per run (FUZZ_EXAMPLES to change), against one real server over real framing.
The server never crashes, answers every request with a result or a well-formed JSON-RPC error,
and no error message, notification or log line ever contains a token.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rpc import BlockingRpc

from codex_lsp.fakes.issuer import FakeIssuer
from codex_lsp.protocol import client_requests, to_wire
from codex_lsp.protocol.examples import EXAMPLES

EXAMPLES_PER_RUN = int(os.environ.get("FUZZ_EXAMPLES", "10000"))
METHODS = sorted(m.name for m in client_requests() if m.name != "initialize")
VALID_CODES = {-32700, -32600, -32601, -32602, -32603, -32002, -32001, -32800} | set(
    range(-32099, -32000)
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def _mutations(example: Any) -> st.SearchStrategy[Any]:
    """Valid examples with one field dropped, replaced by junk, or given a wrong type."""
    if not isinstance(example, dict) or not example:
        return st.just(example)
    keys = sorted(example)

    def drop(key: str) -> dict[str, Any]:
        return {k: v for k, v in example.items() if k != key}

    return st.one_of(
        st.just(example),
        st.sampled_from(keys).map(drop),
        st.tuples(st.sampled_from(keys), json_values).map(lambda kv: {**example, kv[0]: kv[1]}),
        st.tuples(st.text(max_size=10), json_values).map(lambda kv: {**example, kv[0]: kv[1]}),
    )


def _params_for(method: str) -> st.SearchStrategy[Any]:
    example = EXAMPLES.get(method, (None, None))[0]
    base = to_wire(example) if example is not None else {}
    if method == "command/exec":
        base = {"command": ["true"], "timeoutMs": 2000}  # never let the fuzzer run real programs
        return st.one_of(
            st.just(base),
            json_values.filter(lambda v: not isinstance(v, dict) or "command" not in v),
        )
    if method in ("turn/start", "account/logout"):
        # turn/start without a thread is refused; logout would drop the seeded token mid-run.
        return (
            json_values.filter(
                lambda v: not (isinstance(v, dict) and {"threadId", "input"} <= v.keys())
            )
            if method == "turn/start"
            else st.just("not an object")
        )
    return st.one_of(_mutations(base), json_values, st.sampled_from([None, [], {}]))


cases = st.one_of(
    st.sampled_from(METHODS).flatmap(
        lambda m: st.tuples(st.just(m), _params_for(m), st.just(False))
    ),
    st.tuples(st.sampled_from(METHODS), st.none(), st.just(True)),  # params key omitted
    # Unknown / garbage method names (hypothesis also draws string constants from our code, so it
    # finds real LSP methods too; only the two that end the session are left out).
    st.tuples(
        st.text(max_size=20).filter(lambda m: m not in ("shutdown", "exit")),
        json_values,
        st.booleans(),
    ),
)


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("fuzz")
    home = tmp / "home"
    home.mkdir()
    stderr = tmp / "stderr.log"
    with FakeIssuer() as issuer:
        secret = issuer.make_jwt(email="fuzz@example.com", account_id="acct-fuzz")
        rpc = BlockingRpc(
            home,
            ["--log-level", "DEBUG", "-c", 'chatgpt_base_url="http://127.0.0.1:9/backend-api"'],
            env={
                "CODEX_APP_SERVER_LOGIN_ISSUER": "http://127.0.0.1:9",
                "CODEX_LOGIN_CALLBACK_PORTS": "0",
            },
            stderr_path=stderr,
        )
        init = rpc.request(
            "initialize", {"processId": None, "rootUri": tmp.as_uri(), "capabilities": {}}
        )
        assert "result" in init
        rpc.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        login = rpc.request(
            "account/login/start",
            {"type": "chatgptAuthTokens", "accessToken": secret, "chatgptAccountId": "acct-fuzz"},
        )
        yield rpc, secret, stderr, login
        rpc.close()


def _check_answer(answer: dict[str, Any], secret: str) -> None:
    assert ("result" in answer) != ("error" in answer), answer
    if "error" in answer:
        error = answer["error"]
        assert isinstance(error.get("code"), int) and error["code"] in VALID_CODES, error
        assert isinstance(error.get("message"), str) and error["message"], error
        assert secret not in json.dumps(error)
        assert "Traceback" not in json.dumps(error)


@settings(
    max_examples=EXAMPLES_PER_RUN,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(case=cases)
def test_every_request_gets_an_answer_and_no_answer_leaks_a_token(fuzz_server, case) -> None:
    rpc, secret, _, _ = fuzz_server
    method, params, omit = case
    answer = rpc.request(method, params, omit_params=omit)
    _check_answer(answer, secret)
    assert rpc.alive()


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(
    frame=st.one_of(
        json_values.map(json.dumps),  # any JSON at all as a frame
        st.text(max_size=40),  # not JSON
        st.fixed_dictionaries(
            {"jsonrpc": st.just("2.0"), "method": st.sampled_from(METHODS), "params": json_values}
        ),
    )
)
def test_garbage_frames_and_notifications_do_not_kill_the_server(fuzz_server, frame) -> None:
    rpc, secret, _, _ = fuzz_server
    rpc.send(frame)
    answer = rpc.request("account/read", {})
    _check_answer(answer, secret)


def test_zz_after_fuzzing_nothing_leaked(fuzz_server) -> None:
    rpc, secret, stderr, login = fuzz_server
    assert login.get("result", {}).get("type") == "chatgptAuthTokens", login
    answer = rpc.request("account/read", {})
    assert "result" in answer and rpc.alive()  # still healthy (the fuzzer may have logged out)
    assert secret not in json.dumps(rpc.notifications)
    assert secret not in json.dumps(rpc.unmatched)
    log = Path(stderr).read_text(errors="replace")
    assert secret not in log
    assert secret.split(".")[1] not in log  # not even the payload part
