"""The Batch API's calls, made through the one client: create, poll, results (inline or paged), list.

In: a BASE_URL and a key. Out: what the API said, as plain records; a create whose answer was
lost (sent, then the connection dropped) raises CreateLost, never a retry.
"""
import json
from dataclasses import dataclass
from typing import Callable

from ..errors import FatalAPIError
from .answers import Usage, number
from .client import Request, TransientHTTP, get_json, send

ENDPOINT = "/v1/chat/completions"
TERMINAL = ("completed", "failed", "expired", "cancelled")
PAGE = 1000


class CreateLost(Exception):
    """The create was sent but its answer never came: a batch may exist, and be billed."""


class ResultsWithheld(Exception):
    """HTTP 402 on a finished batch: its results wait until credits are added."""


@dataclass(frozen=True)
class BatchState:
    """One poll of a batch."""
    id: str
    status: str
    total: int = 0
    completed: int = 0
    failed: int = 0
    usage: Usage | None = None       # tokens, and the cost when the API reports one
    cost: float | None = None        # the batch's usage.cost: its bill
    results: list | None = None      # inline results, when the batch object carries them
    error: str = ""
    started: bool = False            # it got past validating (so the model slug was accepted)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


def read_state(data: object) -> BatchState:
    """A batch object as BatchState; TransientHTTP when it is not one."""
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data.get("status"):
        raise TransientHTTP("the batch answer has no id or status")
    counts, usage = data.get("request_counts"), data.get("usage")
    cost = usage.get("cost") if isinstance(usage, dict) else None
    error = data.get("error")
    status = str(data["status"])
    return BatchState(
        data["id"], status, number(counts, "total"), number(counts, "completed"), number(counts, "failed"),
        Usage(number(usage, "prompt_tokens"), number(usage, "completion_tokens")) if isinstance(usage, dict) else None,
        float(cost) if isinstance(cost, (int, float)) else None,
        data.get("results") if isinstance(data.get("results"), list) else None,
        str(error.get("message", "")) if isinstance(error, dict) else str(error or ""),
        data.get("in_progress_at") is not None or status in ("in_progress", "finalizing", "completed"))


@dataclass
class BatchAPI:
    base_url: str
    key: Callable[[], str]     # read on first use, so a run with nothing to send needs no key
    timeout: float = 120.0

    def url(self, *parts: str) -> str:
        return "/".join([self.base_url.rstrip("/"), "batches", *parts])

    def create(self, slug: str, requests: list[dict]) -> BatchState:
        """POST /batches with `endpoint` and `model` before `requests` (the API insists on the order)."""
        body = {"endpoint": ENDPOINT, "model": slug, "requests": requests}
        try:
            text = send(Request(self.url(), body, self.key(), self.timeout))
        except TransientHTTP as err:
            if err.status is None and not err.unreachable:
                raise CreateLost(str(err)) from None
            raise
        try:
            return read_state(json.loads(text))
        except (ValueError, TransientHTTP):
            raise CreateLost("the create answer is not a batch") from None

    def get(self, batch_id: str) -> BatchState:
        return read_state(self.call(self.url(batch_id), batch_id))

    def results(self, state: BatchState) -> list:
        """The results of a terminal batch: inline when it carries them, else paged from /results."""
        if state.results is not None:
            return state.results
        found, cursor = [], ""
        while True:
            query = f"?limit={PAGE}" + (f"&cursor={cursor}" if cursor else "")
            try:
                page = self.call(self.url(state.id, "results") + query, state.id)
            except FatalAPIError as err:
                if err.status == 404:   # no results endpoint here, and none inline
                    return found
                raise
            data = page.get("data") if isinstance(page, dict) else None
            if not isinstance(data, list):
                raise TransientHTTP("a results page has no data list")
            found += data
            cursor = str(page.get("next_cursor") or "")
            if not page.get("has_more") or not cursor:
                return found

    def listed(self) -> list[dict]:
        """GET /batches: the account's batches, newest first."""
        data = self.call(self.url(), "")
        listed = data.get("data") if isinstance(data, dict) else None
        return [b for b in listed if isinstance(b, dict)] if isinstance(listed, list) else []

    def call(self, url: str, batch_id: str) -> object:
        try:
            return get_json(url, self.key(), self.timeout)
        except FatalAPIError as err:
            if err.status == 402 and batch_id:
                raise ResultsWithheld(batch_id) from None
            raise
