"""The batches this cache knows, kept in the cache itself: which requests each covers, its last
seen status and its bill. A record is written before a create is sent (status `sending`) and
turned into the accepted batch the moment the API answers, so no batch is paid for unrecorded.

Keys: `batch:<BASE_URL> <id>` holds a record as JSON, `batches:index` those names in order of creation,
`batch-slug:<BASE_URL>:<model>` the model slug the Batch API accepted, `batch-rejected:...` those
it refused.
"""
import json
import time
import uuid
from dataclasses import asdict, dataclass, field, replace

INDEX = "batches:index"
OPEN_STATUSES = ("sending", "lost")   # a create with no answer yet: a batch may exist


@dataclass(frozen=True)
class Covered:
    """One request of a batch, and the cache key its answer belongs under (the sync one)."""
    custom_id: str
    seed: int
    kind: str
    attempt: int
    key: str


@dataclass(frozen=True)
class BatchRecord:
    id: str
    base_url: str
    model: str                       # the request bodies' own model
    slug: str                        # the model slug sent to the Batch API
    asks: tuple[Covered, ...]
    sent: float = field(default_factory=time.time)
    estimate: float = 0.0            # dollars held against BUDGET until the bill is known
    status: str = "sending"
    counts: tuple[int, int, int] = (0, 0, 0)   # total, completed, failed
    cost: float | None = None        # the bill (reported, or priced from tokens)
    collected: bool = False          # its results are in the cache; nothing more to do
    note: str = ""

    @property
    def keys(self) -> set[str]:
        return {ask.key for ask in self.asks}

    @property
    def unconfirmed(self) -> bool:
        """A create that has not been answered: the batch may or may not exist."""
        return self.status in OPEN_STATUSES


def encode(record: BatchRecord) -> str:
    data = asdict(record)
    data["asks"] = [list(asdict(ask).values()) for ask in record.asks]
    return json.dumps(data)


def decode(text: str) -> BatchRecord:
    data = json.loads(text)
    data["asks"] = tuple(Covered(*ask) for ask in data["asks"])
    data["counts"] = tuple(data["counts"])
    return BatchRecord(**data)


class Ledger:
    """Batch records of one BASE_URL in an open cache."""

    def __init__(self, cache, base_url: str):
        self.cache, self.base_url = cache, base_url

    def entries(self) -> list[str]:
        return json.loads(self.cache.get(INDEX) or "[]")

    def ids(self) -> list[str]:
        return [record.id for record in self.records()]

    def records(self) -> list[BatchRecord]:
        found = (self.cache.get(f"batch:{name}") for name in self.entries())
        records = [decode(text) for text in found if text]
        return [record for record in records if record.base_url == self.base_url]

    def open(self) -> list[BatchRecord]:
        return [record for record in self.records() if not record.collected]

    def write(self, record: BatchRecord) -> BatchRecord:
        """Stored under its BASE_URL and id: two servers may hand out the same id (one that numbers
        its batches from 1, say). A record of an older version, under its id alone, is moved."""
        name = f"{record.base_url} {record.id}"   # a URL holds no space
        with self.cache.transact():
            self.cache.set(f"batch:{name}", encode(record))
            entries = self.entries()
            if name not in entries:
                if self.is_legacy(record):
                    self.cache.delete(f"batch:{record.id}")
                    entries = [name if entry == record.id else entry for entry in entries]
                else:
                    entries.append(name)
                self.cache.set(INDEX, json.dumps(entries))
        return record

    def is_legacy(self, record: BatchRecord) -> bool:
        """Whether an older version recorded this batch of this BASE_URL under its id alone."""
        old = self.cache.get(f"batch:{record.id}")
        return record.id in self.entries() and bool(old) and decode(old).base_url == record.base_url

    def sending(self, model: str, slug: str, asks: list[Covered], estimate: float) -> BatchRecord:
        """Recorded before the create is sent: if the answer never comes, the next run knows."""
        return self.write(BatchRecord(f"sending-{uuid.uuid4().hex[:12]}", self.base_url, model, slug, tuple(asks),
                                      estimate=estimate))

    def accept(self, pending: BatchRecord, batch_id: str, status: str, note: str = "") -> BatchRecord:
        """The API gave the batch an id: one transaction swaps the pending record for the batch."""
        with self.cache.transact():
            accepted = self.write(replace(pending, id=batch_id, status=status, note=note))
            self.forget(pending)
        return accepted

    def forget(self, record: BatchRecord) -> None:
        """A create the API definitely refused: no batch exists."""
        name = f"{record.base_url} {record.id}"
        with self.cache.transact():
            self.cache.delete(f"batch:{name}")
            self.cache.set(INDEX, json.dumps([entry for entry in self.entries() if entry != name]))

    def accepted_slug(self, model: str) -> str | None:
        return self.cache.get(f"batch-slug:{self.base_url}:{model}")

    def remember_slug(self, model: str, slug: str) -> None:
        self.cache.set(f"batch-slug:{self.base_url}:{model}", slug)

    def rejected_slugs(self, model: str) -> dict[str, str]:
        """Slugs the Batch API refused for this model, with its words."""
        return json.loads(self.cache.get(f"batch-rejected:{self.base_url}:{model}") or "{}")

    def reject_slug(self, model: str, slug: str, reason: str) -> None:
        rejected = self.rejected_slugs(model) | {slug: reason}
        self.cache.set(f"batch-rejected:{self.base_url}:{model}", json.dumps(rejected))
