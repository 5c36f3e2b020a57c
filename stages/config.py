"""Defaults, paths and the click options shared by several stages, defined once.

Every option maps to the make variable of the same name (also read from the environment).
"""
import functools
from dataclasses import dataclass
from pathlib import Path

import click

from .given import IDENTITY_HOLDS, TextFile
from .transport.batch import BatchSettings
from .transport.baseurl import BaseURL
from .transport.server import OPENROUTER_MODES, REASONING_WORDS

DEFAULT_MODEL = "google/gemini-2.5-flash"
DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"
# Answers asked per seed. Only seeds whose answers keep failing use the later attempts; with a
# quarter of answers invalid, 8 leaves about 1 seed in 65,000 without a conversation, 3 would leave 1 in 64.
DEFAULT_ATTEMPTS = 8


def option(name: str, **kwargs):
    """A long option `--name` that also reads the environment variable NAME."""
    flag = "--" + name.lower().replace("_", "-")
    return click.option(flag, name.lower(), envvar=name, show_default=True, **kwargs)


def data_dir_option(func):
    return option("DATA_DIR", type=click.Path(file_okay=False, path_type=Path), default="data",
                  help="Folder for rendered prompts and outputs.")(func)


def cache_dir_option(func):
    return option("CACHE_DIR", type=click.Path(file_okay=False, path_type=Path), default="cache",
                  help="Folder of the answer cache (paid for; clean keeps it).")(func)


class SeedRange(click.ParamType):
    """`a:b` -> range(a, b), for splitting one run across machines or keys."""
    name = "a:b"

    def convert(self, value, param, ctx):
        if isinstance(value, range):
            return value
        start, sep, stop = str(value).partition(":")
        if not (sep and start.isdigit() and stop.isdigit() and int(start) < int(stop)):
            self.fail(f"{value!r} is not a seed range like 0:500 (start below stop)", param, ctx)
        return range(int(start), int(stop))


class ModelMix(click.ParamType):
    """`a,b,c` or `a=3,b=1` -> ((model, weight), ...). Slugs hold `/` and `:` but never `,` or `=`."""
    name = "model[=weight],..."

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        mix = []
        for part in filter(None, (piece.strip() for piece in str(value).split(","))):
            model, sep, weight = part.partition("=")
            mix.append((model.strip(), self.weight(weight.strip() if sep else "1", part, param, ctx)))
        names = [model for model, _ in mix]
        if any(not model for model in names):
            self.fail(f"{value!r} has an empty model name; write MODELS=a,b or a=3,b=1", param, ctx)
        if len(set(names)) < len(names):
            self.fail(f"{value!r} names a model twice; give it one weight instead", param, ctx)
        return tuple(mix)

    def weight(self, text: str, part: str, param, ctx) -> float:
        try:
            weight = float(text)
        except ValueError:
            weight = 0.0
        if not 0 < weight < float("inf"):
            self.fail(f"{part!r}: the weight after = must be a positive number, e.g. model=2", param, ctx)
        return weight


class Reasoning(click.ParamType):
    """REASONING: off, low, medium, high, a token budget (a positive integer), or default."""
    name = "off|low|medium|high|N|default"

    def convert(self, value, param, ctx):
        text = str(value).strip().lower()
        if text in REASONING_WORDS or (text.isdigit() and int(text) > 0):
            return text
        self.fail(f"{value!r} is not off, low, medium, high, a token budget like 2000, or default", param, ctx)


def count_option(func):
    """N, and SEEDS to work on a slice of 0..N-1 only."""
    func = option("N", type=click.IntRange(min=0), default=1000,
                  help="Number of seeds (conversations): 0..N-1.")(func)
    return option("SEEDS", type=SeedRange(), default=None,
                  help="Only seeds a..b-1 (overrides N), e.g. 0:500.")(func)


def seed_range(n: int, seeds: range | None) -> range:
    return seeds if seeds is not None else range(n)


def base_url_option(func):
    """Part of every cache key, with the request body and the attempt number."""
    return option("BASE_URL", type=BaseURL(), default=DEFAULT_BASE_URL,
                  help="OpenAI-compatible API root; /chat/completions is appended.")(func)


def openrouter_option(func):
    """OPENROUTER=auto|1|0: whether BASE_URL gets OpenRouter's own fields and keys (auto: by its host)."""
    return option("OPENROUTER", type=click.Choice(OPENROUTER_MODES), default="auto",
                  help="Send OpenRouter-only fields and keys: auto (when BASE_URL is openrouter.ai), 1 or 0.")(func)


def ascii_option(func):
    return option("ASCII", type=click.BOOL, default=False,
                  help="Reject conversations with non-ASCII text (1 or 0).")(func)


@dataclass(frozen=True)
class CheckChoice:
    """What decides whether an answer is kept: ASCII, the IDENTITY it must teach, the JUDGE pass."""
    ascii_only: bool = False
    identity: Path | None = None
    judge: bool = False
    judge_model: str = ""
    max_attempts: int = DEFAULT_ATTEMPTS  # answers per seed (and judge answers per conversation)


def check_options(func):
    """ASCII, IDENTITY, JUDGE, JUDGE_MODEL and MAX_ATTEMPTS, handed to the command as one `checks` argument."""
    @functools.wraps(func)
    def command(*args, ascii, identity, judge, judge_model, max_attempts, **kwargs):
        return func(*args, checks=CheckChoice(ascii, identity, judge, judge_model, max_attempts), **kwargs)
    path = TextFile(IDENTITY_HOLDS)
    command = option("MAX_ATTEMPTS", type=click.IntRange(min=1), default=DEFAULT_ATTEMPTS,
                     help="Answers asked per seed until one is valid.")(command)
    command = ascii_option(command)
    command = option("IDENTITY", type=path, default=None, help="Identity file instead of prompts/identity.md.")(command)
    command = option("JUDGE", type=click.BOOL, default=False,
                     help="Have JUDGE_MODEL check each conversation against the identity (1 or 0).")(command)
    return option("JUDGE_MODEL", default="", help="Model of the judge pass; empty means MODEL.")(command)


def location_options(func):
    """Where the prompts, outputs and answers of a run are: DATA_DIR, CACHE_DIR and BASE_URL."""
    for decorator in (data_dir_option, cache_dir_option, base_url_option):
        func = decorator(func)
    return func


def review_options(func):
    """What validate and dataset need to find and judge cached answers."""
    for decorator in (count_option, location_options, check_options):
        func = decorator(func)
    return func


def identity_options(func):
    """Replace the default identity and add a background document without editing prompts/."""
    func = option("IDENTITY", type=TextFile(IDENTITY_HOLDS), default=None,
                  help="Identity file instead of prompts/identity.md.")(func)
    return option("CONTEXT", type=TextFile("a background document, such as your model's README"), default=None,
                  help="Background document (e.g. a README) for the prompt.")(func)


def batch_options(func):
    """BATCH, BATCH_SIZE and BATCH_WAIT, handed to the command as one `batch` argument (None: sync)."""
    @functools.wraps(func)
    def command(*args, batch, batch_size, batch_wait, **kwargs):
        return func(*args, batch=BatchSettings(batch_size, batch_wait) if batch else None, **kwargs)
    command = option("BATCH", type=click.BOOL, default=False,
                     help="Send the requests through the Batch API (about half the price; answers take minutes "
                          "to hours) (1 or 0).")(command)
    command = option("BATCH_SIZE", type=click.IntRange(1, 100_000), default=1000,
                     help="Most requests per batch.")(command)
    return option("BATCH_WAIT", type=click.BOOL, default=True,
                  help="1 waits until every batch is collected; 0 submits and exits (run again to collect).")(command)


def option_variables(commands) -> set[str]:
    """The environment variables these commands read, e.g. to keep them out of a child's environment."""
    return {param.envvar for command in commands for param in command.params if param.envvar}


def prompt_dir(data_dir: Path) -> Path:
    return data_dir / "prompts"


def completions_url(base_url: str) -> str:
    return base_url.rstrip("/") + "/chat/completions"
