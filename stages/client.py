"""The one place that talks HTTP: a session per thread and a total deadline per request.

`post_completion` returns the body text of an HTTP 200, or raises TransientHTTP / FatalAPIError.
"""
import threading
import time
from dataclasses import dataclass

import requests
from urllib3.util.retry import Retry

from .answers import FATAL_STATUSES, TransientAnswer, error_message, fatal_error
from .errors import FatalAPIError

CONNECT_TIMEOUT = 10.0
_local = threading.local()


class TransientHTTP(TransientAnswer):
    """A failure worth retrying later: 408, 429, 5xx, a dropped connection, a deadline."""

    def __init__(self, reason: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(reason)
        self.status = status
        self.retry_after = retry_after


@dataclass
class Request:
    url: str
    body: dict
    key: str
    timeout: float


def thread_session() -> requests.Session:
    """requests.Session is not thread-safe, so each worker thread keeps its own."""
    if not hasattr(_local, "session"):
        session = requests.Session()
        # Retries happen in fetch, where all workers share one rate limiter.
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=1, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        _local.session = session
    return _local.session


def retry_after_seconds(response: requests.Response) -> float | None:
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
    """Read the body, cutting the socket at the deadline.

    Keep-alive whitespace resets a read timeout, so only a timer can bound the whole answer.
    """
    sock = response_socket(response)
    timer = threading.Timer(max(0.0, deadline - time.monotonic()), shutdown_socket, [sock]) if sock else None
    if timer:
        timer.daemon = True
        timer.start()
    try:
        content = response.content
    except requests.RequestException as err:
        raise TransientHTTP(f"answer cut off: {type(err).__name__}") from None
    finally:
        if timer:
            timer.cancel()
    if time.monotonic() >= deadline:
        raise TransientHTTP("deadline passed while reading the answer")
    return content.decode("utf-8", errors="replace")


def shutdown_socket(sock) -> None:
    try:
        sock.shutdown(2)  # wakes a thread blocked in recv(); close() alone may not
    except OSError:
        pass


def raise_for_status(response: requests.Response) -> None:
    status = response.status_code
    if status == 200:
        return
    detail = error_message(json_or_none(response))
    if status in FATAL_STATUSES:
        raise fatal_error(status, detail)
    if 400 <= status < 500 and status not in (408, 429):
        raise FatalAPIError(f"HTTP {status} from the API: {detail[:160] or 'no details'}; check BASE_URL and MODEL")
    raise TransientHTTP(f"HTTP {status}", status, retry_after_seconds(response))


def json_or_none(response: requests.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return None


def post_completion(request: Request) -> str:
    deadline = time.monotonic() + request.timeout
    headers = {"Authorization": f"Bearer {request.key}", "X-Title": "identity-chats"}
    try:
        response = thread_session().post(request.url, json=request.body, headers=headers, stream=True,
                                         timeout=(min(CONNECT_TIMEOUT, request.timeout), request.timeout))
    except requests.RequestException as err:
        raise TransientHTTP(f"connection failed: {type(err).__name__}") from None
    with response:
        raise_for_status(response)
        return read_body(response, deadline)
