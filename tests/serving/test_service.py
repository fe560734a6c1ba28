"""`movierec serve` over a real socket: answers, errors, a bounded load test, the token.

The service runs in its own process (`python -m movierec.cli serve --port 0`): it binds a
free loopback port and prints it; requests go through httpx like any client's.
"""

from __future__ import annotations

import json
import re
import select
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

import movierec

pytestmark = pytest.mark.realdata


@contextmanager
def serving(run_dir: Path, *extra: str):
    """The service on the free port it picks itself (--port 0) and prints."""
    process = subprocess.Popen([sys.executable, "-m", "movierec.cli", "serve", "--run", str(run_dir),
                                "--port", "0", *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base, lines, deadline = None, [], time.monotonic() + 60
        while base is None and time.monotonic() < deadline:  # warnings may come before the address
            ready, _, _ = select.select([process.stdout], [], [], max(deadline - time.monotonic(), 0))
            line = process.stdout.readline() if ready else ""
            if not line:
                break  # the process ended, or the deadline passed
            lines.append(line)
            match = re.search(r"serving .* on (http://127\.0\.0\.1:\d+) ", line)
            base = match.group(1) if match else None
        if base is None:
            process.terminate()
            raise AssertionError(f"the service did not start: {''.join(lines)}{process.stdout.read()}")
        assert httpx.get(f"{base}/health", timeout=5).status_code == 200  # listening once it says so
        yield base
        assert process.poll() is None, "the service is still up after every request"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_busy_port_is_one_line_and_no_served_address(run_dir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "movierec.cli", "serve", "--run", str(run_dir),
                               "--port", str(port)], capture_output=True, text=True, timeout=120)
        pinned = subprocess.run([sys.executable, "-m", "movierec.cli", "serve", "--run", str(run_dir),
                                 "--port", str(port), "--model", "rerank"], capture_output=True, text=True, timeout=120)
    # a default that cannot fold in is said at start, before the port is even tried
    assert "note: --model rerank cannot fold in a new user" in pinned.stderr and "(models that can: ease" in pinned.stderr
    assert done.returncode == 2 and "serving" not in done.stdout
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr and "--port 0" in done.stderr
    assert "Traceback" not in done.stderr
    beyond = subprocess.run([sys.executable, "-m", "movierec.cli", "serve", "--run", str(run_dir), "--port", "70000"],
                            capture_output=True, text=True, timeout=120)
    assert beyond.returncode == 2 and "serving" not in beyond.stdout and "65535" in beyond.stderr


@pytest.fixture(scope="module")
def service(run_dir):
    with serving(run_dir, "--model", "ease") as base:
        yield base


@pytest.fixture(scope="module")
def loaded(run_dir):
    return movierec.load_run(run_dir)


def test_health_and_docs(service, loaded):
    health = httpx.get(f"{service}/health").json()
    assert health == {"status": "ok", "models": ["ease", "ensemble", "pop", "rerank"], "default_model": "ease",
                      "users": loaded.n_users, "items": loaded.n_items}
    assert httpx.get(f"{service}/docs").status_code == 200
    schema = httpx.get(f"{service}/openapi.json").json()
    assert "/recommendations/{user_id}" in schema["paths"]
    answers = schema["paths"]["/recommendations"]["post"]["responses"]
    assert {"401", "404", "413", "415", "422"} <= set(answers)  # the errors as they come: {"error": "..."}
    assert answers["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")


def test_a_known_user_gets_the_run_s_own_list(service, run_dir):
    written = pd.read_csv(run_dir / "recommendations" / "ease.csv")
    for user in written["user"].unique()[:100]:
        answer = httpx.get(f"{service}/recommendations/{user}", params={"k": 10}).json()
        theirs = written[written["user"] == user]
        assert answer["user"] == int(user) and answer["model"] == "ease"
        assert [entry["item"] for entry in answer["items"]] == theirs["item"].tolist()
        np.testing.assert_allclose([entry["score"] for entry in answer["items"]], theirs["score"], rtol=1e-5)
        assert all(entry["title"] for entry in answer["items"])


def test_a_posted_full_history_gives_the_same_list_for_ease(service, loaded):
    user = loaded.users[11]
    history = [int(item) for item in loaded.items[loaded.known[11].indices]] + ["not-a-film"]
    posted = httpx.post(f"{service}/recommendations", json={"history": history, "k": 10}).json()
    known = httpx.get(f"{service}/recommendations/{user}").json()
    assert posted["items"] == known["items"] and posted["unknown_items"] == ["not-a-film"]
    assert posted["user"] is None


def test_an_ensemble_folds_in_a_posted_history(service, loaded):
    user = loaded.users[11]
    history = [int(item) for item in loaded.items[loaded.known[11].indices]]
    posted = httpx.post(f"{service}/recommendations", json={"history": history, "model": "ensemble"}).json()
    known = httpx.get(f"{service}/recommendations/{user}", params={"model": "ensemble"}).json()
    ease = httpx.get(f"{service}/recommendations/{user}", params={"model": "ease"}).json()
    assert posted["model"] == "ensemble" and posted["items"] == known["items"]
    assert [entry["item"] for entry in known["items"]] != [entry["item"] for entry in ease["items"]]  # a blend


def test_a_batch_of_histories_gets_each_user_the_list_its_history_alone_gets(service, loaded):
    full = [int(item) for item in loaded.items[loaded.known[11].indices]]
    histories = [{"user": "anna", "history": full + ["not-a-film"]}, {"user": 7, "history": [50, 181]},
                 {"user": "cy", "history": ["not-a-film"]}]
    answer = httpx.post(f"{service}/recommendations/batch", json={"histories": histories, "k": 5})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model"] == "ease" and [entry["user"] for entry in body["users"]] == ["anna", 7]
    for entry, history in zip(body["users"], (full, [50, 181])):
        alone = httpx.post(f"{service}/recommendations", json={"history": history, "k": 5}).json()
        assert [i["item"] for i in entry["items"]] == [i["item"] for i in alone["items"]]
        np.testing.assert_allclose([i["score"] for i in entry["items"]], [i["score"] for i in alone["items"]],
                                   rtol=1e-5)
        assert [i["title"] for i in entry["items"]] == [i["title"] for i in alone["items"]]
    assert body["unknown_items"] == ["not-a-film"] and body["unscored_users"] == ["cy"]


def test_an_item_the_model_learned_nothing_from_is_a_422_not_a_list(service, loaded):
    """An item in no training history has an empty row of B: every item would score 0."""
    ease = loaded.model("ease")
    unlearned = int(loaded.items[np.flatnonzero(~ease.B_.any(axis=1))[0]])
    for response in (httpx.get(f"{service}/items/{unlearned}/similar"),
                     httpx.post(f"{service}/recommendations", json={"history": [unlearned]})):
        assert response.status_code == 422 and "scores every item alike for this history" in response.json()["error"]
    assert httpx.post(f"{service}/recommendations", json={"history": [unlearned, 50]}).status_code == 200


def test_similar_items_of_one_item(service, loaded):
    answer = httpx.get(f"{service}/items/50/similar", params={"k": 5}).json()
    assert answer["item"] == 50 and answer["model"] == "ease"
    assert [entry["item"] for entry in answer["items"]] == loaded.similar_items(50, k=5, model="ease")["item"].tolist()
    assert all(entry["title"] for entry in answer["items"])
    blend = httpx.get(f"{service}/items/50/similar", params={"model": "ensemble"}).json()
    assert blend["model"] == "ensemble" and len(blend["items"]) == 10
    schema = httpx.get(f"{service}/openapi.json").json()
    assert "404" in schema["paths"]["/items/{item_id}/similar"]["get"]["responses"]


def test_because_lists_the_watched_items_behind_each_item(service, loaded):
    user = loaded.users[11]
    answer = httpx.get(f"{service}/recommendations/{user}", params={"k": 5, "because": 2}).json()
    expected = loaded.recommend([user], k=5, model="ease", because=2)
    assert [entry["because"] for entry in answer["items"]] == expected["because"].tolist()
    plain = httpx.get(f"{service}/recommendations/{user}", params={"k": 5}).json()
    assert "because" not in plain["items"][0]
    posted = httpx.post(f"{service}/recommendations", json={"history": [50, 181, 172], "k": 3, "because": 1}).json()
    assert [entry["because"] for entry in posted["items"]] == loaded.recommend_history(
        [50, 181, 172], k=3, model="ease", because=1).items["because"].tolist()


@pytest.mark.parametrize("method, path, body, status, message", [
    ("GET", "/recommendations/1?because=2&model=ensemble", None, 422, "'ensemble' cannot say which watched items"),
    ("GET", "/recommendations/1?because=-1", None, 422, "query.because: Input should be greater than or equal"),
    ("POST", "/recommendations", {"history": [1], "because": -2}, 422, "because: Input should be greater than or"),
    ("POST", "/recommendations", {"history": [1], "because": 1, "model": "pop"}, 422, "'pop' cannot say which"),
    ("POST", "/recommendations", {"history": [1], "because": 1.0}, 422, "because: Input should be a valid integer"),
    ("GET", "/recommendations/123456789", None, 404, "user '123456789' is not in this run"),
    ("GET", "/items/no-such-film/similar", None, 404, "item 'no-such-film' is not in this run's catalogue"),
    ("GET", "/items/50/similar?model=rerank", None, 422, "'rerank' cannot score a new user"),
    ("GET", "/items/50/similar?model=nope", None, 404, "model 'nope' is not in this run"),
    ("GET", "/items/50/similar?k=0", None, 422, "k must be a whole number between 1 and"),
    ("GET", "/items/50/similar?because=2", None, 422, "because explains a user's or a history's list"),
    ("GET", "/recommendations/1?model=nope", None, 404, "model 'nope' is not in this run"),
    ("GET", "/recommendations/1?k=0", None, 422, "k must be a whole number between 1 and the catalogue's 1682"),
    ("GET", "/recommendations/1?k=100000", None, 422, "k must be a whole number between 1 and"),
    ("GET", "/recommendations/1?k=ten", None, 422, "query.k: Input should be a valid integer"),
    ("POST", "/recommendations", {"history": [1, 2], "model": "rerank"}, 422, "'rerank' cannot score a new user"),
    ("POST", "/recommendations", {"history": "1,2"}, 422, "history: Input should be a valid list"),
    ("POST", "/recommendations", {"k": 3}, 422, "history: Field required"),
    ("POST", "/recommendations", {"history": [1], "k": -1}, 422, "k must be a whole number"),
    ("POST", "/recommendations", {"history": [1], "k": True}, 422, "k: Input should be a valid integer"),
    ("POST", "/recommendations", {"history": [1], "k": "3"}, 422, "k: Input should be a valid integer"),
    ("POST", "/recommendations", {"history": [1, None]}, 422, "history[1]: Input should be a valid"),
    ("POST", "/recommendations", {"history": [50, True]}, 422, "history[1]: Input should be a valid"),  # not item 1
    ("POST", "/recommendations", {"history": [1.0]}, 422, "history[0]: Input should be a valid"),
    ("POST", "/recommendations", {"history": [1], "kk": 3}, 422, "kk: Extra inputs are not permitted"),
    ("POST", "/recommendations", b"{not json", 422, "body: JSON decode error"),
    ("POST", "/recommendations", {"history": ["no-such-film"], "model": "ease"}, 422, "no item of the history is in"),
    ("POST", "/recommendations", {"history": []}, 422, "scores an empty history all alike"),
    ("POST", "/recommendations", b'{"history": ["\xff"]}', 422, "body: not readable as JSON (UnicodeDecodeError"),
    ("POST", "/recommendations", b'{"history": ' + b"[" * 50_000, 422, "body: not readable as JSON (RecursionError"),
    ("POST", "/recommendations/batch", {"histories": []}, 422, "histories: List should have at least 1 item"),
    ("POST", "/recommendations/batch", {"histories": [{"user": 1, "history": []}]}, 422,
     "histories[0].history: List should have at least 1 item"),
    ("POST", "/recommendations/batch", {"histories": [{"user": 1, "history": [1]}, {"user": 1, "history": [2]}]}, 422,
     "histories: user 1 appears twice"),
    ("POST", "/recommendations/batch", {"histories": [{"user": 1, "history": [1]}], "model": "rerank"}, 422,
     "'rerank' cannot score a new user"),
    ("POST", "/recommendations/batch", {"histories": [{"user": 1, "history": [1]}], "k": 0}, 422,
     "k must be a whole number"),
    ("POST", "/recommendations/batch", {"histories": [{"user": 1.5, "history": [1]}]}, 422,
     "histories[0].user: Input should be a valid"),
    ("POST", "/recommendations/batch", {"histories": [{"user": 1, "items": [1]}]}, 422, "histories[0].history"),
    ("GET", "/no-such-route", None, 404, "Not Found"),
    ("POST", "/no-such-route", None, 404, "Not Found"),  # no JSON content type: still the route's answer, not 415
    ("DELETE", "/health", None, 405, "Method Not Allowed"),
    ("POST", "/health", None, 405, "Method Not Allowed"),
])
def test_bad_requests_get_a_4xx_with_a_message(service, method, path, body, status, message):
    content = body if isinstance(body, bytes) else None
    response = httpx.request(method, f"{service}{path}", json=None if content else body, content=content,
                             headers={"content-type": "application/json"} if content else None)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]


def test_a_post_body_not_sent_as_json_gets_a_415_naming_the_content_type(service):
    for headers in ({"content-type": "text/plain"}, {}):
        response = httpx.post(f"{service}/recommendations", content=b'{"history": [1]}', headers=headers)
        assert response.status_code == 415 and "Content-Type: application/json" in response.json()["error"]
    assert httpx.post(f"{service}/recommendations", json={"history": [1]}).status_code == 200  # and still serving


def test_bodies_are_bounded_with_or_without_a_length(service):
    big = json.dumps({"history": list(range(400_000))}).encode()
    assert httpx.post(f"{service}/recommendations", content=big,
                      headers={"content-type": "application/json"}).status_code == 413

    def chunks():
        for start in range(0, len(big), 65536):
            yield big[start:start + 65536]

    response = httpx.post(f"{service}/recommendations", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413 and "over" in response.json()["error"]


def test_two_thousand_mixed_requests_from_eight_clients(service, loaded):
    """Bounded load on loopback: every response 200 and well-formed, nothing 5xx."""
    rng = np.random.default_rng(0)
    users = loaded.users[rng.integers(0, loaded.n_users, 2000)]
    histories = [loaded.items[rng.choice(loaded.n_items, size=20, replace=False)].tolist() for _ in range(50)]
    failures: list[str] = []

    def client(part: int) -> int:
        done = 0
        with httpx.Client(base_url=service, timeout=30) as session:
            for position in range(part, 2000, 8):
                if position % 4 == 0:
                    response = session.post("/recommendations", json={"history": histories[position % 50], "k": 10})
                else:
                    response = session.get(f"/recommendations/{users[position]}", params={"k": 10})
                body = response.json()
                if response.status_code != 200 or len(body["items"]) != 10 or body["model"] != "ease":
                    failures.append(f"{response.status_code} {response.text[:200]}")
                done += 1
        return done

    with ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(client, range(8))) == 2000
    assert failures == []


def test_an_empty_token_is_refused_at_start(run_dir, monkeypatch):
    from typer.testing import CliRunner

    from movierec.cli import app

    result = CliRunner().invoke(app, ["serve", "--run", str(run_dir), "--port", "0", "--token", " "])
    assert result.exit_code == 2 and "bearer token (--token, $MOVIEREC_SERVE_TOKEN) is empty" in result.output
    monkeypatch.setenv("MOVIEREC_SERVE_TOKEN", "")
    result = CliRunner().invoke(app, ["serve", "--run", str(run_dir), "--port", "0"])
    assert result.exit_code == 2 and "is empty" in result.output


def test_a_token_guards_everything_but_health_and_the_docs(run_dir):
    with serving(run_dir, "--token", "s3cret") as base:
        assert httpx.get(f"{base}/health").status_code == 200
        refused = httpx.get(f"{base}/recommendations/1")
        assert refused.status_code == 401 and "bearer token" in refused.json()["error"]
        assert httpx.get(f"{base}/recommendations/1", headers={"Authorization": "Bearer wrong"}).status_code == 401
        for path in ("/items/50/similar", "/recommendations"):
            assert httpx.request("POST" if path == "/recommendations" else "GET", f"{base}{path}").status_code == 401
        # the docs page works without the token, and its Authorize button sends one: the scheme is declared
        assert httpx.get(f"{base}/docs").status_code == 200
        schema = httpx.get(f"{base}/openapi.json").json()
        assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
        assert schema["paths"]["/recommendations/{user_id}"]["get"]["security"] == [{"HTTPBearer": []}]
        assert str(run_dir) not in json.dumps(schema)  # open to anyone: it names no path of the server's
        allowed = httpx.get(f"{base}/recommendations/1", headers={"Authorization": "Bearer s3cret"})
        assert allowed.status_code == 200 and len(allowed.json()["items"]) == 10
        assert httpx.get(f"{base}/recommendations/1", headers={"Authorization": "bearer s3cret"}).status_code == 200
        assert httpx.get(f"{base}/recommendations/1", headers={"Authorization": "Basic s3cret"}).status_code == 401
