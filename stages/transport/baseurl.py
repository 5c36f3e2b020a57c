"""BASE_URL's shape, checked before any request is sent: an http or https scheme, a host, and a
path that is an API root rather than an endpoint under it.

In: the text a user gave. Out: None when it can be used, else one line naming BASE_URL, what is
wrong and the fix. `BaseURL` is the same check as a click type; `unusable_line` words a request
that the HTTP library refused to send because of its address.
"""
from __future__ import annotations
from urllib.parse import urlsplit

import click

SCHEMES = ("http", "https")
EXAMPLE = "https://openrouter.ai/api/v1"
# Paths a request adds to BASE_URL; a BASE_URL that already ends in one gets it twice.
ENDPOINTS = ("/chat/completions", "/completions", "/batches", "/models")


def problem(url: str) -> str | None:
    """What makes `url` unusable as BASE_URL, with the fix; None when its shape is fine."""
    text = str(url)
    if not text.strip():
        return f"BASE_URL is empty; set it to the API root, e.g. BASE_URL={EXAMPLE}"
    if text != text.strip() or any(char.isspace() for char in text):
        return f"BASE_URL {text!r} holds a space; write the API root without spaces, e.g. BASE_URL={EXAMPLE}"
    if "://" not in text:
        return (f"BASE_URL {text} has no scheme; write it with http:// or https:// in front, "
                f"e.g. BASE_URL=http://{text.lstrip('/')}")
    try:
        parts = urlsplit(text)
    except ValueError as err:  # an unclosed [ of an IPv6 host, say
        return f"BASE_URL {text} is not a valid URL ({err}); e.g. BASE_URL={EXAMPLE}"
    if parts.scheme.lower() not in SCHEMES:
        return (f"BASE_URL {text} uses the scheme {parts.scheme or 'nothing'}://, which an OpenAI-compatible "
                f"API is not served over; use http:// or https://, e.g. BASE_URL={EXAMPLE}")
    return host_problem(text, parts) or path_problem(text, parts)


def host_problem(text: str, parts) -> str | None:
    try:
        host, _ = parts.hostname, parts.port  # .port raises on a port that is not a number in range
    except ValueError:
        return f"BASE_URL {text} has a port that is not a number from 1 to 65535; e.g. BASE_URL=http://127.0.0.1:8080/v1"
    if not host:
        return f"BASE_URL {text} names no host; write it as {parts.scheme}://HOST/PATH, e.g. BASE_URL={EXAMPLE}"
    return None


def path_problem(text: str, parts) -> str | None:
    if parts.query or parts.fragment:
        return (f"BASE_URL {text} holds a query or fragment (after ? or #); give the API root alone, "
                f"e.g. BASE_URL={EXAMPLE}")
    path = parts.path.rstrip("/").lower()
    endpoint = next((end for end in ENDPOINTS if path.endswith(end)), None)
    if endpoint:
        root = text.rstrip("/")[:-len(endpoint)]
        return (f"BASE_URL {text} ends in the endpoint {endpoint}, which each request adds itself; "
                f"set BASE_URL to the API root, BASE_URL={root}")
    return None


def base_of(request_url: str) -> str:
    """The BASE_URL a request URL was made from: the part before the endpoint it adds."""
    for endpoint in ENDPOINTS:
        at = request_url.rfind(endpoint)
        if at >= 0:
            return request_url[:at]
    return request_url


def unusable_line(request_url: str, reason: str) -> str:
    """A request the HTTP library would not send because of its address: no retry can help."""
    base = base_of(request_url)
    said = problem(base)
    if said:
        return said
    return f"BASE_URL {base} cannot be used ({reason}); set it to the API root over http:// or https://, e.g. {EXAMPLE}"


class BaseURL(click.ParamType):
    """BASE_URL as a click type: refused with `problem`'s line, else passed on unchanged."""
    name = "url"

    def convert(self, value, param, ctx):
        said = problem(value)
        if said:
            self.fail(said, param, ctx)
        return value
