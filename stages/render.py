"""Stage 1: render one chat-completions request body per seed into DATA_DIR/prompts/<seed>.json.

Deterministic: each seed draws its example first messages, one item of each axis
(prompts/axes/*.txt) and, with MODELS, its generator model by their content (see stages/draw.py), so
re-rendering is byte-identical and editing a pool re-renders only the seeds whose draw changed.
The body suits the server: OpenRouter-only fields go to OpenRouter alone (see transport/server.py).
A rerun whose inputs (sources, settings, seeds, the code itself) and files are unchanged
compares a stamp instead of rendering again.
"""
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from string import Template

from .storage.run import DEFAULT_MODEL, RunSettings
from .draw import draw
from .errors import PipelineError
from .judging.checks import make_validator
from .judging.identity import load_identity
from .storage.codehash import code_digest
from .storage.files import write_atomic
from .storage.texts import PROMPTS_DIR, read_lines, read_schema, read_text
from .transport.formats import DEFAULT_FORMAT, with_format
from .transport.server import is_openrouter, server_fields

EXAMPLES_PER_SEED = 5
STAMP_FILE = ".fingerprint"


@dataclass(frozen=True)
class Sources:
    """The editable texts in prompts/ that every request is made from."""
    identity: str
    instructions: str
    first_messages: tuple[str, ...]
    schema: dict
    context: str = ""
    axes: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    model: str = DEFAULT_MODEL
    temperature: float = 1.0
    max_tokens: int = 4096
    models: tuple[tuple[str, float], ...] = ()  # MODELS: (model, weight) pairs; empty means `model` alone
    openrouter: bool = True                     # send OpenRouter's own fields (provider, reasoning)
    reasoning: str = "off"                      # REASONING, for OpenRouter only
    response_format: str = DEFAULT_FORMAT       # RESPONSE_FORMAT: json_schema, json_object or none (formats.py)


def read_axes(folder: Path) -> dict[str, tuple[str, ...]]:
    """Each prompts/axes/<name>.txt is one axis of variation; an empty axis is a mistake."""
    axes = {path.stem: read_lines(path) for path in sorted(folder.glob("*.txt"))}
    empty = [name for name, items in axes.items() if not items]
    if empty:
        raise PipelineError(f"axis file {folder / (empty[0] + '.txt')} has no items: add lines or remove the file")
    return axes


def load_sources(folder: Path = PROMPTS_DIR, identity: Path | None = None, context: Path | None = None) -> Sources:
    """The prompt sources; IDENTITY and CONTEXT files replace the defaults when given. The identity's
    facts block is left out: the checks read it (identity.load_identity), the prompt does not."""
    sources = Sources(
        identity=load_identity(identity, folder).prose,
        instructions=read_text(folder / "instructions.md"),
        first_messages=read_lines(folder / "first_messages.txt"),
        schema=read_schema(folder / "schema.json"),
        context=read_text(context).strip() if context else "",
        axes=read_axes(folder / "axes"),
    )
    if len(set(sources.first_messages)) < EXAMPLES_PER_SEED:
        raise PipelineError(f"{folder / 'first_messages.txt'} needs at least {EXAMPLES_PER_SEED} messages")
    return sources


def pick_examples(first_messages: tuple[str, ...], seed: int) -> list[str]:
    return draw("first_messages", seed, first_messages, EXAMPLES_PER_SEED)


def pick_axes(axes: dict[str, tuple[str, ...]], seed: int) -> dict[str, str]:
    """One item per axis, each axis its own pool, so adding an axis leaves the others' picks alone."""
    return {name: draw(f"axis:{name}", seed, items)[0] for name, items in axes.items()}


def pick_model(settings: Settings, seed: int) -> str:
    """MODELS draws each seed's generator by weight; without it every seed gets MODEL."""
    if not settings.models:
        return settings.model
    names, weights = zip(*settings.models)
    return draw("models", seed, names, 1, weights)[0]


def context_block(context: str) -> str:
    if not context:
        return ""
    return ("Background document about the model. Use it for facts about the model; do not quote it at length:\n"
            f"---\n{context}\n---\n")


def render_prompt(sources: Sources, seed: int) -> str:
    examples = "\n".join(f"- {text}" for text in pick_examples(sources.first_messages, seed))
    axes = "\n".join(f"- {name}: {item}" for name, item in pick_axes(sources.axes, seed).items())
    fields = {"identity": sources.identity, "context": context_block(sources.context),
              "axes": axes or "- anything that fits the rules", "examples": examples}
    try:
        return Template(sources.instructions).substitute(fields)
    except (KeyError, ValueError) as err:
        raise PipelineError(f"instructions.md has an unknown placeholder {err}: "
                            "use $identity, $context, $axes and $examples") from None


def request_body(sources: Sources, settings: Settings, seed: int) -> dict:
    """The prompt is one user message whose shared part comes first (see instructions.md), so a
    server that caches prompt prefixes reuses it across seeds."""
    body = {
        "model": pick_model(settings, seed),
        "temperature": settings.temperature,
        "max_tokens": settings.max_tokens,
        "messages": [{"role": "user", "content": render_prompt(sources, seed)}],
        **server_fields(settings.openrouter, settings.reasoning),
    }
    return with_format(body, settings.response_format, "conversation", sources.schema)


def encode_body(body: dict) -> str:
    # Compact, so the fast C encoder is used; `make show SEED=n` is the readable view.
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"


def write_if_changed(path: Path, text: str) -> bool:
    """Skip identical files so reruns are cheap and mtimes stay meaningful."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except FileNotFoundError:
        pass
    write_atomic(path, text)
    return True


def fingerprint(sources: Sources, settings: Settings, seeds: range) -> str:
    """Everything the rendered files are made from, hashed: the sources, the settings, the seeds
    and the code that renders them (codehash), so a change to any of them renders again."""
    parts = [asdict(sources), asdict(settings), seeds.start, seeds.stop, EXAMPLES_PER_SEED, code_digest()]
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def files_digest(out_dir: Path, seeds: range) -> str | None:
    """Name, inode, size, modification and status-change time of each rendered file, hashed; None
    when one is missing. A file edited, replaced or deleted since it was rendered no longer matches,
    even with its old size and modification time set back (no tool sets the status-change time back)."""
    digest = hashlib.sha256()
    for seed in seeds:
        try:
            info = (out_dir / f"{seed}.json").stat()
        except OSError:
            return None
        digest.update(f"{seed} {info.st_ino} {info.st_size} {info.st_mtime_ns} {info.st_ctime_ns}\n".encode())
    return digest.hexdigest()


def already_rendered(out_dir: Path, stamp: str, seeds: range) -> bool:
    """True when the last render had these inputs and its files are as it left them."""
    try:
        recorded = (out_dir / STAMP_FILE).read_text().split()
    except OSError:
        return False
    return recorded == [stamp, files_digest(out_dir, seeds)]


def render_all(sources: Sources, settings: Settings, seeds: range | int, out_dir: Path) -> int:
    """Write the bodies of these seeds (an int n means 0..n-1); return how many files changed.

    A rerun with the same inputs, whose files nobody touched since, only compares the stamp.
    """
    seeds = range(seeds) if isinstance(seeds, int) else seeds
    stamp = fingerprint(sources, settings, seeds)
    if already_rendered(out_dir, stamp, seeds):
        return 0
    make_validator(sources.schema)  # a broken schema is reported now, before any request carries it
    out_dir.mkdir(parents=True, exist_ok=True)
    changed = sum(write_if_changed(out_dir / f"{seed}.json", encode_body(request_body(sources, settings, seed)))
                  for seed in seeds)
    write_atomic(out_dir / STAMP_FILE, f"{stamp}\n{files_digest(out_dir, seeds)}\n")
    return changed



def prompt_settings(run: RunSettings) -> Settings:
    return Settings(model=run.model, temperature=run.temperature, max_tokens=run.max_tokens, models=run.models,
                    openrouter=is_openrouter(run.base_url, run.openrouter), reasoning=run.reasoning,
                    response_format=run.response_format)
