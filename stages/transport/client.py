"""The one place that talks HTTP: a connection per worker thread and a total deadline per request.

`send` makes any call (a chat completion, a batch create or poll, the models list) and returns
the body text of a 2xx answer, or raises TransientHTTP / FatalAPIError; `post_completion` is
the chat-completions case. requests is imported on the first call, so a run with nothing to
send never loads it.
"""
from __future__ import annotations

import functools
import json
import threading
import time
from dataclasses import dataclass, field

from ..errors import FatalAPIError
from .answers import FATAL_STATUSES, TransientAnswer, error_message, fatal_error, key_wanted
from .baseurl import unusable_line
from .refusal import shorten
from .server import rejection_line

CONNECT_TIMEOUT = 10.0
_local = threading.local()


class TransientHTTP(TransientAnswer):
    """A failure worth retrying later: 408, 429, 5xx, a dropped connection, a deadline.

    `unreachable` marks a connection that was never made (refused, DNS, TLS): if nothing in a
    run ever connects, fetch stops instead of retrying for minutes.
    """

    def __init__(self, reason: str, status: int | None = None, retry_after: float | None = None,
                 unreachable: bool = False, detail: str = ""):
        super().__init__(reason)
        self.status = status
        self.retry_after = retry_after
        self.unreachable = unreachable
        self.detail = detail  # the server's own words, if it said any


def connection_failure(err: requests.RequestException) -> TransientHTTP:
    """Name why a request got no answer, telling a server never reached from a dropped answer."""
    import requests
    if isinstance(err, requests.exceptions.SSLError):
        return TransientHTTP("TLS error", unreachable=True)
    if isinstance(err, requests.exceptions.ConnectTimeout):
        return TransientHTTP("connect timeout", unreachable=True)
    text = str(err)
    if "NameResolutionError" in text or "Name or service not known" in text or "getaddrinfo" in text:
        return TransientHTTP("DNS lookup failed", unreachable=True)
    if "Connection refused" in text or "NewConnectionError" in text:
        return TransientHTTP("connection refused", unreachable=True)
    return TransientHTTP(f"connection failed: {type(err).__name__}")


def unsendable() -> tuple[type, ...]:
    """The errors of an address requests will not send to at all: no scheme, another scheme, a bad host or port."""
    import requests
    return (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema,
            requests.exceptions.URLRequired)


@dataclass
class Request:
    url: str
    body: dict | None                     # sent as JSON; None sends no body (a GET)
    key: str | None = field(repr=False)   # None or "": no Authorization header (a server that wants none, the models list)
    timeout: float = 120.0
    method: str = "POST"

    def headers(self) -> dict:
        headers = {"X-Title": "identity-chats"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        return headers


@dataclass
class Link:
    """A worker thread's way to the API: its own connection (requests' adapters are not
    shared across threads safely) and the proxy and CA settings read once from the environment."""
    adapter: requests.adapters.HTTPAdapter
    proxies: dict
    verify: bool | str


def thread_link(url: str) -> Link:
    import requests
    if not hasattr(_local, "link"):
        settings = requests.Session().merge_environment_settings(url, {}, None, None, None)
        # Retries happen in fetch, where all workers share one rate limiter.
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=1, max_retries=0)
        _local.link = Link(adapter, settings["proxies"], settings["verify"])
    return _local.link


@functools.lru_cache(maxsize=8)
def prepared_url(url: str) -> str:
    """The URL as requests would send it (IDNA host, quoting), worked out once per URL."""
    import requests
    prepared = requests.PreparedRequest()
    prepared.prepare_url(url, None)
    return prepared.url


@functools.lru_cache(maxsize=1)
def base_headers() -> dict[str, str]:
    import requests
    return dict(requests.utils.default_headers())


def prepare(request: Request) -> requests.PreparedRequest:
    """The call as a requests.Session would prepare it, without the session's per-request merging
    of cookies, hooks, auth, settings and redirects, which an API call with a bearer key does not
    use and which cost more CPU than the rest of the request (see `make bench`)."""
    import requests
    from requests.structures import CaseInsensitiveDict
    prepared = requests.PreparedRequest()
    prepared.method = request.method
    prepared.url = prepared_url(request.url)
    headers = {**base_headers(), **request.headers()}
    if request.body is not None:
        payload = json.dumps(request.body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
        headers.update({"Content-Type": "application/json", "Content-Length": str(len(payload))})
        prepared.body = payload
    prepared.headers = CaseInsensitiveDict(headers)
    return prepared


class Watchdog:
    """One thread that shuts the sockets of answers still being read at their deadline.

    Keep-alive whitespace resets a read timeout, so only a timer can bound a whole answer.
    """

    def __init__(self):
        self.deadlines: dict[int, tuple[float, object]] = {}
        self.cond = threading.Condition()
        self.thread: threading.Thread | None = None
        self.next_wake = 0.0

    def watch(self, sock, deadline: float) -> int:
        with self.cond:
            if self.thread is None:
                self.thread = threading.Thread(target=self.run, daemon=True)
                self.thread.start()
            ticket = id(sock)
            self.deadlines[ticket] = (deadline, sock)
            if deadline < self.next_wake:  # usually not: every request gets the same TIMEOUT
                self.cond.notify()
            return ticket

    def forget(self, ticket: int) -> bool:
        """Stop watching; True when the deadline had already fired."""
        with self.cond:
            return self.deadlines.pop(ticket, None) is None

    def run(self) -> None:
        with self.cond:
            while True:
                now = time.monotonic()
                for ticket, (deadline, sock) in list(self.deadlines.items()):
                    if deadline <= now:
                        del self.deadlines[ticket]
                        shutdown_socket(sock)
                self.next_wake = min((d for d, _ in self.deadlines.values()), default=now + 60)
                self.cond.wait(timeout=max(0.01, self.next_wake - now))


WATCHDOG = Watchdog()


def retry_after_seconds(response: requests.Response) -> float | None:
    from urllib3.util.retry import Retry
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return Retry().parse_retry_after(value)  # seconds or an HTTP date
    except Exception:  # a malformed header is not worth failing over
        return None


def response_socket(response: requests.Response):
    """The socket under a streamed response, or None (as with mocked responses).

    http.client drops the connection's reference when the server says Connection: close,
    so fall back to the socket behind the body's file object.
    """
    sock = getattr(getattr(response.raw, "connection", None), "sock", None)
    if sock is None:
        body_file = getattr(getattr(response.raw, "_fp", None), "fp", None)
        sock = getattr(getattr(body_file, "raw", None), "_sock", None)
    return sock


def read_body(response: requests.Response, deadline: float) -> str:
    """Read the body; the watchdog cuts the socket if the deadline passes first."""
    import requests
    sock = response_socket(response)
    ticket = WATCHDOG.watch(sock, deadline) if sock else None
    try:
        content = response.content
    except requests.RequestException as err:
        raise TransientHTTP(f"answer cut off: {type(err).__name__}") from None
    finally:
        fired = ticket is not None and WATCHDOG.forget(ticket)
    if fired:  # a body that ended early because the socket was shut is not the whole answer
        raise TransientHTTP("deadline passed while reading the answer")
    return content.decode("utf-8", errors="replace")


def shutdown_socket(sock) -> None:
    try:
        sock.shutdown(2)  # wakes a thread blocked in recv(); close() alone may not
    except OSError:
        pass


def raise_for_status(response: requests.Response, sent_key: bool = True) -> None:
    """2xx passes (a batch create answers 202); the rest is fatal or worth retrying."""
    status = response.status_code
    if 200 <= status < 300:
        return
    if 300 <= status < 400:  # not followed: a redirected API root is a wrong BASE_URL
        where = response.headers.get("Location") or "another address"
        raise FatalAPIError(f"HTTP {status}: the API redirects to {where}; set BASE_URL to the address it names")
    detail = error_message(json_or_none(response))
    if status == 401 and not sent_key:
        raise key_wanted(detail)
    if status in FATAL_STATUSES:
        raise fatal_error(status, detail)
    refused = rejection_line(detail or response.text[:300], status) if status == 422 else None
    if refused:  # how FastAPI-based servers refuse a field
        raise FatalAPIError(refused, status, detail)
    if 400 <= status < 500 and status not in (408, 429):
        raise FatalAPIError(f"HTTP {status} from the API: {detail[:160] or 'no details'}; check BASE_URL and MODEL",
                            status, detail)
    said = detail or response.text.strip()[:300]
    reason = f"HTTP {status}: {shorten(said)}" if said else f"HTTP {status}"
    raise TransientHTTP(reason, status, retry_after_seconds(response), detail=said)


def json_or_none(response: requests.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return None


def send(request: Request) -> str:
    """One call on the thread's connection, with the total deadline and status handling; the 2xx body text."""
    import requests
    deadline = time.monotonic() + request.timeout
    link = thread_link(request.url)
    try:
        response = link.adapter.send(prepare(request), stream=True, verify=link.verify, proxies=link.proxies,
                                     timeout=(min(CONNECT_TIMEOUT, request.timeout), request.timeout))
    except requests.RequestException as err:
        if isinstance(err, unsendable()):  # no retry can fix the address: the run stops at its first request
            raise FatalAPIError(unusable_line(request.url, f"{type(err).__name__}: {err}")) from None
        raise connection_failure(err) from None
    with response:
        raise_for_status(response, sent_key=bool(request.key))
        return read_body(response, deadline)


def post_completion(request: Request) -> str:
    return send(request)


def get_json(url: str, key: str | None, timeout: float = 30.0) -> object:
    """GET a JSON document; TransientHTTP when the body is not JSON."""
    text = send(Request(url, None, key, timeout, method="GET"))
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise TransientHTTP(f"GET {url.rsplit('/', 1)[-1]}: the answer is not JSON") from None
