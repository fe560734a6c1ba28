"""The REST service over a loaded run (FastAPI; `movierec serve` runs it under uvicorn).

Endpoints (OpenAPI docs at ``/docs``):

- ``GET /health``: status, the models, the catalogue's size;
- ``GET /recommendations/{user_id}?k=10&model=NAME&because=0``: a known user's top k;
- ``POST /recommendations`` with ``{"history": [ids], "k": 10, "model": null, "because": 0}``:
  a new user's top k from a history (fold-in), with the ids the run does not know;
- ``POST /recommendations/batch`` with ``{"histories": [{"user": id, "history": [ids]}, ...],
  "k": 10, "model": null}``: each new user's top k, scored together (fold-in), with the
  ids the run does not know and the users left without a list;
- ``GET /items/{item_id}/similar?k=10&model=NAME``: the top k for someone who watched
  that item alone (fold-in).

Errors are JSON ``{"error": message}``: an unknown user, item or model 404, a malformed
body (an unknown field too), a k out of range or a model without fold-in 422, a body
over the size bound 413, a POST body not sent as JSON 415, a missing or wrong bearer
token 401 (the OpenAPI page and schema stay open, and declare the bearer scheme so
that the page's Authorize button sends it). With ``because`` > 0 each item lists the
watched items that add most to its score (models whose scores are such sums: EASE,
DLAE, iALS; others 422). Requests never change the loaded models.
"""

from __future__ import annotations

import hmac
import socket
from typing import Any

import numpy as np
import pandas as pd
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr
from starlette.exceptions import HTTPException as StarletteHTTPException

from movierec.exceptions import ConfigError
from movierec.serving.errors import EmptyHistory, NoExplanation, NoFoldIn, UnknownItem, UnknownModel, UnknownUser
from movierec.serving.loaded import LoadedRun

MAX_BODY_BYTES = 1_000_000
MAX_HISTORY = 10_000
MAX_BATCH = 1_000  # users per batch request
JSON_BODY_ROUTES = ("/recommendations", "/recommendations/batch")  # where a POST carries JSON (elsewhere: 404/405)


class HistoryRequest(BaseModel):
    """A new user's history, oldest first."""

    model_config = ConfigDict(extra="forbid")  # a misspelt field ("histroy") is an error, not ignored

    # strict: true is not item 1, and 1.0 not item 1 (a string id such as "50" still finds 50)
    history: list[StrictInt | StrictStr] = Field(max_length=MAX_HISTORY, description="item ids, in the order watched")
    k: StrictInt = Field(10, description="list length, 1 to the catalogue's size")  # not true, not "3"
    model: str | None = Field(None, description="a model of the run (default: the one best on validation)")
    because: StrictInt = Field(0, ge=0, description="per item, up to this many watched items behind it (0: none)")


class UserHistory(BaseModel):
    """One user of a batch: an id of the caller's choosing and the history, oldest first."""

    model_config = ConfigDict(extra="forbid")

    user: StrictInt | StrictStr
    history: list[StrictInt | StrictStr] = Field(min_length=1, max_length=MAX_HISTORY,
                                                 description="item ids, in the order watched")


class BatchRequest(BaseModel):
    """New users' histories, scored together."""

    model_config = ConfigDict(extra="forbid")

    histories: list[UserHistory] = Field(min_length=1, max_length=MAX_BATCH, description="one entry per user")
    k: StrictInt = Field(10, description="list length, 1 to the catalogue's size")
    model: str | None = Field(None, description="a model of the run (default: the one best on validation)")


class ErrorBody(BaseModel):
    """Every error's body."""

    error: str = Field(description="what was wrong, naming the parameter")


ERRORS = {status: {"model": ErrorBody, "description": description} for status, description in (
    (401, "missing or wrong bearer token (when the service has one)"),
    (404, "unknown user, item, model or route"),
    (413, "body over the size bound"),
    (415, "a POST body not sent as application/json"),
    (422, "a malformed request or parameter (k, because), a model that cannot do what is asked (fold in, "
          "explain), a history the model scores every item alike for"))}
OPEN_PATHS = ("/health", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json")  # no token needed


class RecommendedItem(BaseModel):
    item: int | str
    score: float
    title: str | None = None
    because: list[int | str] | None = Field(None, description="watched items adding most to the score, if asked")


class Recommendations(BaseModel):
    user: int | str | None
    model: str
    items: list[RecommendedItem]
    unknown_items: list[int | str] | None = None


class UserRecommendations(BaseModel):
    user: int | str
    items: list[RecommendedItem]


class BatchRecommendationsBody(BaseModel):
    model: str
    users: list[UserRecommendations] = Field(description="the users with a list, in the request's order")
    unknown_items: list[int | str] = Field(description="history ids the run does not know (left out)")
    unscored_users: list[int | str] = Field(description="users the model scores every item alike for: no list")


class SimilarItems(BaseModel):
    item: int | str
    model: str
    items: list[RecommendedItem]


def create_app(run: LoadedRun, *, default_model: str | None = None, token: str | None = None,
               max_body_bytes: int = MAX_BODY_BYTES) -> FastAPI:
    """The service for `run`; `token` (if given) is required as ``Authorization: Bearer``
    on every endpoint but ``/health`` and the OpenAPI docs (`OPEN_PATHS`).

    Raises
    ------
    ConfigError
        An empty `token` (a request with an empty bearer would pass), or a default
        model the run does not hold.
    """
    if token is not None and not token.strip():
        raise ConfigError("the bearer token (--token, $MOVIEREC_SERVE_TOKEN) is empty: give one, or leave both "
                          "unset to serve without")
    model_name = default_model or run.default_model()
    run.model(model_name)  # a default the run does not hold is refused at start, not on every request
    for name in run.models:  # every model loaded (and checked) once, before the first request
        run.model(name)
    # the Guard checks the token; declaring the scheme gives the docs page its Authorize button
    secured = [Depends(HTTPBearer(auto_error=False))] if token is not None else []
    # the schema is open under a token: it names the run's models, not where the run lies
    app = FastAPI(title="movierec", description=f"Recommendations from a movierec run ({', '.join(run.models)})")

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.__cause__ is not None:  # FastAPI could not decode the body
            return error(422, f"body: not readable as JSON ({type(exc.__cause__).__name__}: {exc.__cause__})")
        return error(exc.status_code, str(exc.detail))  # unknown routes and methods answer like the rest

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        return error(422, f"{_where(tuple(first.get('loc', ())))}: {first.get('msg', 'invalid')}")

    raw_items = run.items.to_numpy().tolist()  # plain Python ids, once
    titles = (run.catalogue["title"].where(run.catalogue["title"].notna(), None).tolist()
              if "title" in run.catalogue else [None] * run.n_items)

    def listed(items, scores, reasons: list | None = None) -> list[dict]:
        entries = [{"item": raw_items[i], "score": float(score), "title": titles[i]}
                   for i, score in zip(items.tolist(), scores.tolist())]
        for entry, why in zip(entries, reasons or []):
            entry["because"] = [raw_items[i] for i in why.tolist()]
        return entries

    def answer(user: Any, name: str, items, scores, unknown: list | None = None,
               reasons: list | None = None) -> JSONResponse:
        body = {"user": _plain(user), "model": name, "items": listed(items, scores, reasons)}
        if unknown is not None:
            body["unknown_items"] = [_plain(i) for i in unknown]
        return JSONResponse(body)  # shaped as `Recommendations`; returned as is, not validated again

    def fold_in_model(requested: str | None) -> str:
        """The model a history is scored with: the one asked for; else the service's
        default where it was named at start or can fold in; else the best that can."""
        return requested or (model_name if default_model or run.can_fold_in(model_name) else run.history_model())

    def respond(function) -> Any:
        try:
            return function()
        except (UnknownUser, UnknownItem, UnknownModel) as exc:
            return error(404, str(exc))
        except (NoFoldIn, NoExplanation, ConfigError, EmptyHistory) as exc:
            return error(422, str(exc))

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "models": run.models, "default_model": model_name, "users": run.n_users,
                "items": run.n_items}

    @app.get("/recommendations/{user_id}", response_model=Recommendations, dependencies=secured,
             responses={status: ERRORS[status] for status in (401, 404, 422)})
    def for_user(user_id: str, k: int = Query(10, description="list length"), model: str | None = None,
                 because: int = Query(0, ge=0, description="per item, up to this many watched items behind it")):
        name = model or model_name

        def recommend():
            user = run.user_index(user_id)
            run.check_because(because, name)  # before the ranking
            items, scores = run.top_for_users(np.array([user]), k, name)
            reasons = run.reasons(items[0], because, name, user_index=user) if because else None
            return answer(run.users[user], name, items[0], scores[0], reasons=reasons)

        return respond(recommend)

    @app.post("/recommendations", response_model=Recommendations, dependencies=secured, responses=ERRORS)
    def for_history(request: HistoryRequest):
        name = fold_in_model(request.model)

        def recommend():
            run.check_because(request.because, name)  # before the ranking
            items, scores, unknown = run.top_for_history(request.history, request.k, name)
            reasons = run.reasons(items, request.because, name, history=request.history) if request.because else None
            return answer(None, name, items, scores, unknown, reasons)

        return respond(recommend)

    @app.post("/recommendations/batch", response_model=BatchRecommendationsBody, dependencies=secured,
              responses=ERRORS)
    def for_histories(request: BatchRequest):
        name = fold_in_model(request.model)

        def recommend():
            users = [entry.user for entry in request.histories]
            if len(set(users)) < len(users):
                raise ConfigError(f"histories: user {next(u for u in users if users.count(u) > 1)!r} appears twice")
            table = pd.DataFrame({  # each history's order as its times 1, 2, ...
                "user": pd.Series([entry.user for entry in request.histories for _ in entry.history], dtype=object),
                "item": pd.Series([item for entry in request.histories for item in entry.history], dtype=object),
                "timestamp": [place for entry in request.histories for place in range(1, len(entry.history) + 1)]})
            result = run.recommend_histories(table, request.k, name)
            codes = run.items.get_indexer(result.lists["item"])
            rows = {user: [] for user in users}
            for user, item, score in zip(result.lists["user"], codes.tolist(), result.lists["score"].tolist()):
                rows[user].append({"item": raw_items[item], "score": score, "title": titles[item]})
            return JSONResponse({"model": name, "users": [{"user": user, "items": rows[user]} for user in users
                                                          if rows[user]],
                                 "unknown_items": [_plain(i) for i in result.unknown_items],
                                 "unscored_users": [_plain(u) for u in result.unscored_users]})

        return respond(recommend)

    @app.get("/items/{item_id}/similar", response_model=SimilarItems, dependencies=secured,
             responses={status: ERRORS[status] for status in (401, 404, 422)})
    def similar(item_id: str, k: int = Query(10, description="list length"), model: str | None = None,
                because: int = Query(0, ge=0, description="not offered: only a user's or a history's list "
                                     "has watched items behind it (0)")):
        name = fold_in_model(model)

        def recommend():
            if because:  # refused, as the CLI refuses --because with --similar-to, not silently dropped
                raise ConfigError("because explains a user's or a history's list; a similar-items list has no "
                                  "watched items behind it")
            item = run.items[run.item_index(item_id)]
            items, scores = run.top_similar(item, k, name)
            return JSONResponse({"item": _plain(item), "model": name, "items": listed(items, scores)})

        return respond(recommend)

    return Guard(app, token=token, max_body_bytes=max_body_bytes)


class Guard:
    """ASGI middleware in front of the app: the bearer token, and the body size bound.

    A body without Content-Length is read here, at most `max_body_bytes`, and handed on
    whole; one that declares or sends more is refused with 413 before the app sees it.
    """

    def __init__(self, app, *, token: str | None, max_body_bytes: int) -> None:
        self.app, self.token, self.max_body_bytes = app, token, max_body_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if self.token is not None and scope["path"] not in OPEN_PATHS:
            scheme, _, given = headers.get(b"authorization", b"").partition(b" ")
            # the scheme's case does not matter (RFC 7235); the token is compared in constant time
            if scheme.lower() != b"bearer" or not hmac.compare_digest(given, self.token.encode()):
                await _refuse(401, "missing or wrong bearer token", scope, receive, send)
                return
        if scope["method"] == "POST" and scope["path"] in JSON_BODY_ROUTES:
            kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if kind != b"application/json":
                await _refuse(415, f"a POST body is JSON: send Content-Type: application/json, got "
                                   f"{kind.decode('latin-1') or 'none'}", scope, receive, send)
                return
        declared = headers.get(b"content-length")
        too_large = f"request body over {self.max_body_bytes} bytes"
        if declared is not None:
            if not declared.isdigit() or int(declared) > self.max_body_bytes:
                await _refuse(413, too_large, scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_body_bytes:
                await _refuse(413, too_large, scope, receive, send)
                return
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


UNION_BRANCHES = ("int", "str")  # what pydantic appends to a place for each branch of `StrictInt | StrictStr`


def _where(loc: tuple) -> str:
    """A validation error's place: ("body", "k") -> "k"; ("query", "k") -> "query.k";
    ("body", "history", 3, "int") -> "history[3]" (the last part names a union's branch);
    ("body", "histories", 0, "history") -> "histories[0].history"; ("body", 1)
    (malformed JSON at character 1) -> "body"."""
    parts = list(loc[1:] if loc[:1] == ("body",) else loc)
    if not parts or isinstance(parts[0], int):
        return "body"
    if len(parts) >= 2 and parts[-1] in UNION_BRANCHES:
        parts = parts[:-1]
    return "".join(f"[{part}]" if isinstance(part, int) else (f".{part}" if index else str(part))
                   for index, part in enumerate(parts))


async def _refuse(status: int, message: str, scope, receive, send) -> None:
    await JSONResponse({"error": message}, status_code=status)(scope, receive, send)


def _plain(value: Any) -> Any:
    """numpy scalars as Python values, for JSON."""
    return value.item() if hasattr(value, "item") else value


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port) and listening, for uvicorn to serve on.

    Binding before the server starts lets the caller report a busy port itself, and port
    0 take a free one. The family follows the host as uvicorn's does: IPv6 for an
    address with a colon, else IPv4 (a name such as "localhost" resolves to IPv4).

    Raises
    ------
    OSError
        When the address cannot be bound (in use, not this machine's, not resolvable:
        ``socket.gaierror``).
    """
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: restarts need no wait
        listener.bind((host, port))
        listener.listen(2048)
    except OSError:
        listener.close()
        raise
    return listener


def address_url(host: str, port: int) -> str:
    """The service's base URL (an IPv6 address in brackets)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
