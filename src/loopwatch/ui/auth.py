"""Who is asking, and may they act: tokens, roles, browser sessions and CSRF tokens.

A user proves who they are with a token, read at start from the environment
variable the spec (``ui.users``) or ``--user`` names. A browser sends the token
once, to ``/login``, and then holds a session cookie; a script may instead send
``Authorization: Bearer <token>`` with every request.

Tokens are compared in constant time: the SHA-256 digests of the given and of
every known token are compared with :func:`hmac.compare_digest`, all of them,
so neither the length of a token nor which user matched shows in the time taken.

CSRF: a form posted from a browser session must carry the session's own CSRF
token (a synchronizer token, random per session, in a hidden field) and, when
the browser sends an ``Origin`` header, that origin must be the dashboard's own.
The session cookie is also ``SameSite=Strict`` and ``HttpOnly``. The
synchronizer token is what protects; the cookie attribute and the origin check
are a second and third fence (docs/DESIGN-NOTES.md, "The dashboard").

Examples
--------
>>> from loopwatch.core.ui_spec import UiUser
>>> users = [UiUser(name="ana", role="operator", token_env="ANA"), UiUser(name="ben", role="read",
...          token_env="BEN")]
>>> tokens = Tokens.from_env(users, {"ANA": "a" * 24, "BEN": "b" * 24})
>>> tokens.find("a" * 24), tokens.find("wrong")
(User(name='ana', role='operator'), None)
>>> sessions = Sessions(ttl_seconds=60)
>>> s = sessions.start(tokens.find("b" * 24))
>>> sessions.get(s.id).user.may_act, sessions.get("other")
(False, None)
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from loopwatch.core.ui_spec import Role, UiUser
from loopwatch.errors import InputError

__all__ = ["MIN_TOKEN_LENGTH", "Attempts", "Session", "Sessions", "Tokens", "User", "parse_user",
           "same_origin"]

#: The shortest token accepted: 16 characters (``secrets.token_urlsafe(16)`` gives 22).
MIN_TOKEN_LENGTH = 16


@dataclass(frozen=True)
class User:
    """Someone the dashboard knows: the name the audit log records, and what they may do."""

    name: str
    role: Role

    @property
    def may_act(self) -> bool:
        return self.role == "operator"


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class Tokens:
    """The users of the dashboard, found by token in constant time."""

    def __init__(self, known: Sequence[tuple[User, str]]) -> None:
        self._known = [(user, _digest(token)) for user, token in known]

    @classmethod
    def from_env(cls, users: Sequence[UiUser], environ: Mapping[str, str]) -> Tokens:
        """Each user's token from the variable it names; a missing, short or shared one is an error."""
        if not users:
            raise InputError("the dashboard has no users: name at least one in the spec's ui.users "
                             "(name, role read|operator, token_env) or with --user NAME:ROLE:ENV_VAR, "
                             "and put a token of at least 16 characters in that environment variable")
        known: list[tuple[User, str]] = []
        for u in users:
            token = environ.get(u.token_env, "")
            if not token.strip():
                raise InputError(f"user {u.name}: the environment variable {u.token_env} is not set or "
                                 "empty; it must hold the user's token (e.g. from "
                                 "`python -c 'import secrets; print(secrets.token_urlsafe(24))'`)")
            if len(token) < MIN_TOKEN_LENGTH:
                raise InputError(f"user {u.name}: the token in {u.token_env} has {len(token)} characters; "
                                 f"a token needs at least {MIN_TOKEN_LENGTH}")
            for other, seen in known:
                if hmac.compare_digest(_digest(seen), _digest(token)):
                    raise InputError(f"users {other.name} and {u.name} have the same token; each user "
                                     "needs their own, or the audit log cannot tell them apart")
            known.append((User(u.name, u.role), token))
        return cls(known)

    def find(self, token: str) -> User | None:
        """The user whose token this is; every known token is compared, whichever matches."""
        given = _digest(token)
        found: User | None = None
        for user, digest in self._known:
            if hmac.compare_digest(given, digest):
                found = user
        return found


def parse_user(text: str) -> UiUser:
    """``NAME:ROLE:ENV_VAR`` of ``--user`` as a :class:`UiUser`.

    >>> parse_user("ana:operator:LW_TOKEN_ANA").role
    'operator'
    """
    from pydantic import ValidationError

    parts = text.rsplit(":", 2)
    if len(parts) != 3:
        raise InputError("--user: expected NAME:ROLE:ENV_VAR such as ana:operator:LW_TOKEN_ANA; "
                         f"got {text!r}")
    name, role, env = parts
    try:
        return UiUser.model_validate({"name": name, "role": role, "token_env": env})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InputError(f"--user {text!r}: {problems} (role is read or operator)") from None


@dataclass(frozen=True)
class Session:
    """A browser's login: its cookie value ``id``, the user and the CSRF token of its forms."""

    id: str
    user: User
    csrf: str
    expires: float

    def csrf_matches(self, given: str) -> bool:
        return hmac.compare_digest(given.encode(), self.csrf.encode())


class Sessions:
    """Browser sessions, in this process's memory: a restart signs everyone out.

    Only a hash of each cookie value is kept, so a dump of the process's memory
    cannot be replayed as a cookie.
    """

    def __init__(self, *, ttl_seconds: float = 12 * 3600,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._by_hash: dict[bytes, Session] = {}

    def start(self, user: User | None) -> Session:
        if user is None:
            raise ValueError("a session needs a user")
        now = self._clock()
        session = Session(id=secrets.token_urlsafe(32), user=user, csrf=secrets.token_urlsafe(32),
                          expires=now + self.ttl)
        with self._lock:
            for key in [k for k, s in self._by_hash.items() if s.expires <= now]:
                del self._by_hash[key]
            self._by_hash[_digest(session.id)] = session
        return session

    def get(self, session_id: str) -> Session | None:
        with self._lock:
            found = self._by_hash.get(_digest(session_id))
            if found is not None and found.expires <= self._clock():
                del self._by_hash[_digest(session_id)]
                return None
            return found

    def end(self, session_id: str) -> None:
        with self._lock:
            self._by_hash.pop(_digest(session_id), None)


def same_origin(origin: str | None, *, scheme: str, host: str | None) -> bool:
    """Whether a request's ``Origin`` header (when the browser sent one) is the dashboard's own.

    >>> same_origin("http://127.0.0.1:8765", scheme="http", host="127.0.0.1:8765")
    True
    >>> same_origin("http://evil.example", scheme="http", host="127.0.0.1:8765")
    False
    >>> same_origin(None, scheme="http", host="127.0.0.1:8765")
    True
    """
    if origin is None:
        return True
    return host is not None and origin == f"{scheme}://{host}"


class Attempts:
    """Failed sign-ins per client address: past ``limit`` in ``window`` seconds, that address waits.

    Tokens of 16 characters or more cannot be guessed at any rate; this keeps a
    client that tries from filling the log and the CPU, and makes a leaked prefix
    or a short token useless to brute force.

    >>> now = [0.0]
    >>> attempts = Attempts(limit=2, window=60, clock=lambda: now[0])
    >>> attempts.failed("10.0.0.1"); attempts.failed("10.0.0.1"); attempts.wait("10.0.0.1")
    0.0
    >>> attempts.failed("10.0.0.1"); attempts.wait("10.0.0.1"), attempts.wait("10.0.0.2")
    (60.0, 0.0)
    >>> now[0] = 61.0; attempts.wait("10.0.0.1")
    0.0
    """

    def __init__(self, *, limit: int = 10, window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self._clock = limit, window, clock
        self._lock = threading.Lock()
        self._failures: dict[str, list[float]] = {}

    def _recent(self, client: str, now: float) -> list[float]:
        kept = [t for t in self._failures.get(client, []) if now - t < self.window]
        if kept:
            self._failures[client] = kept
        else:
            self._failures.pop(client, None)
        return kept

    def failed(self, client: str) -> None:
        with self._lock:
            now = self._clock()
            self._failures[client] = [*self._recent(client, now), now]

    def wait(self, client: str) -> float:
        """Seconds ``client`` must wait before its next try (0 when it may try now)."""
        with self._lock:
            now = self._clock()
            recent = self._recent(client, now)
            if len(recent) <= self.limit:
                return 0.0
            return max(self.window - (now - recent[-self.limit - 1]), 0.0)
