"""Defaults, paths and the click options shared by several stages, defined once.

Every option maps to the make variable of the same name (also read from the environment).
"""
import functools
from pathlib import Path

import click
from click.core import ParameterSource

from .given import IDENTITY_HOLDS, TextFile
from .storage.run import (DEFAULT_ATTEMPTS, DEFAULT_THRESHOLD, SETTING_NAMES, RunSettings,
                  changed_files, plain, read_record, record_path, variable, write_record)
from .storage.dataformats import WRITABLE
from .transport.batch import BatchSettings
from .transport.baseurl import BaseURL
from .transport.formats import DEFAULT_FORMAT, RESPONSE_FORMATS
from .transport.server import OPENROUTER_MODES, REASONING_WORDS


class MakeOption(click.Option):
    """An option whose errors name the make variable the user typed (N, WORKERS), not `--n`."""

    def get_error_hint(self, ctx) -> str:
        return self.envvar if isinstance(self.envvar, str) else super().get_error_hint(ctx)


def option(name: str, **kwargs):
    """A long option `--name` that also reads the environment variable NAME."""
    flag = "--" + name.lower().replace("_", "-")
    return click.option(flag, name.lower(), envvar=name, show_default=True, cls=MakeOption, **kwargs)


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
        if isinstance(value, (tuple, list)):  # already converted, or read back from the run record
            return tuple((str(model), float(weight)) for model, weight in value)
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


def ascii_option(func):
    return option("ASCII", type=click.BOOL, default=False,
                  help="Reject conversations with non-ASCII text (1 or 0).")(func)


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


def file_option(name: str, help: str, holds: str):
    """IDENTITY or CONTEXT: a non-empty UTF-8 text file, else one line before any stage runs."""
    return option(name, type=TextFile(holds), default=None, help=help)


# Every run setting's option, by RunSettings field; defaults come from RunSettings itself.
DEFAULTS = RunSettings()
RUN_OPTIONS = {
    "n": option("N", type=click.IntRange(min=0), default=DEFAULTS.n, help="Number of seeds (conversations): 0..N-1."),
    "seeds": option("SEEDS", type=SeedRange(), default=None, help="Only seeds a..b-1 (overrides N), e.g. 0:500."),
    "base_url": option("BASE_URL", type=BaseURL(), default=DEFAULTS.base_url,
                       help="OpenAI-compatible API root; /chat/completions is appended."),
    "openrouter": option("OPENROUTER", type=click.Choice(OPENROUTER_MODES), default="auto",
                         help="Send OpenRouter-only fields and keys: auto (when BASE_URL is openrouter.ai), 1 or 0."),
    "model": option("MODEL", default=DEFAULTS.model, help="Model id sent to the API."),
    "models": option("MODELS", type=ModelMix(), default="",
                     help="A mix of generator models drawn per seed, e.g. a,b,c or a=3,b=1 (overrides MODEL)."),
    "reasoning": option("REASONING", type=Reasoning(), default=DEFAULTS.reasoning,
                        help="OpenRouter's reasoning: off, low, medium, high, a token budget, or default (no field sent)."),
    "response_format": option("RESPONSE_FORMAT", type=click.Choice(RESPONSE_FORMATS), default=DEFAULT_FORMAT,
                              help="How requests ask for JSON: json_schema (strict), json_object (with the schema, for "
                                   "llama-cpp-python's server) or none (the prompt says it)."),
    "temperature": option("TEMPERATURE", type=click.FloatRange(0, 2), default=DEFAULTS.temperature,
                          help="Sampling temperature."),
    "max_tokens": option("MAX_TOKENS", type=click.IntRange(min=1), default=DEFAULTS.max_tokens,
                         help="Answer token cap (credits are checked against it)."),
    "identity": file_option("IDENTITY", "Identity file instead of prompts/identity.md.", IDENTITY_HOLDS),
    "context": file_option("CONTEXT", "Background document (e.g. a README) for the prompt.",
                           "a background document, such as your model's README"),
    "ascii": option("ASCII", type=click.BOOL, default=False, help="Reject conversations with non-ASCII text (1 or 0)."),
    "max_attempts": option("MAX_ATTEMPTS", type=click.IntRange(min=1), default=DEFAULT_ATTEMPTS,
                           help="Answers asked per seed until one is valid."),
    "judge": option("JUDGE", type=click.BOOL, default=False,
                    help="Have JUDGE_MODEL check each conversation against the identity (1 or 0)."),
    "judge_model": option("JUDGE_MODEL", default="", help="Model of the judge pass; empty means MODEL."),
    "format": option("FORMAT", type=click.Choice(WRITABLE), default=DEFAULTS.format,
                     help="Line shape: array (nanochat), messages, sharegpt or chatml."),
    "dedup": option("DEDUP", type=click.BOOL, default=True, help="Drop exact and near duplicates (1 or 0)."),
    "dedup_threshold": option("DEDUP_THRESHOLD", type=click.FloatRange(0.5, 1), default=DEFAULT_THRESHOLD,
                              help="Similarity (Jaccard of word shingles) from which two conversations are near "
                                   "duplicates."),
    "cache_dir": option("CACHE_DIR", type=click.Path(file_okay=False, path_type=Path), default=DEFAULTS.cache_dir,
                        help="Folder of the answer cache (paid for; clean keeps it)."),
    "split": option("SPLIT", type=click.FloatRange(0, 1, max_open=True), default=0.0,
                    help="Share of seeds written to the .val.jsonl validation file."),
}
assert set(RUN_OPTIONS) == set(SETTING_NAMES), "every run setting has exactly one option"
GIVEN = (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
# Settings that say one thing together: giving one of them sets the others to their defaults, not the record's.
TOGETHER = ({"n", "seeds"},)


def as_setting(value: object) -> object:
    """An option's converted value as RunSettings holds it."""
    if isinstance(value, range):
        return f"{value.start}:{value.stop}"
    if isinstance(value, Path):
        return str(value)
    return value


def convert_given(ctx: click.Context, name: str, value: object) -> object:
    """A value from the record or CONFIG, through the option's own type (a vanished IDENTITY file stops here)."""
    if value is None:
        return None
    param = next(p for p in ctx.command.params if p.name == name)
    return as_setting(param.type_cast_value(ctx, value))


def read_config(ctx: click.Context, path: Path | None) -> dict:
    """CONFIG=run.yaml (or .json): settings by make variable name, as the run record holds them."""
    if path is None:
        return {}
    import yaml  # here: only CONFIG needs it
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise click.UsageError(f"CONFIG={path} cannot be read: {str(err).splitlines()[0]}")
    data = data.get("settings", data) if isinstance(data, dict) else data
    if not isinstance(data, dict):
        raise click.UsageError(f"CONFIG={path} must map setting names to values, e.g. N: 100")
    unknown = sorted(set(map(str, data)) - {variable(name) for name in SETTING_NAMES})
    if unknown:
        raise click.UsageError(f"CONFIG={path}: unknown setting {unknown[0]}; known: "
                               + ", ".join(variable(name) for name in SETTING_NAMES))
    return data


def resolve_settings(ctx: click.Context, given: dict, config: dict, record: dict) -> tuple[RunSettings, list[str]]:
    """Each setting from the command line or environment, else CONFIG, else the run record, else its
    default; and `VAR=value (recorded: old)` for each one given that differs from the record."""
    values, differ = {}, []
    explicit_names = {name for name in SETTING_NAMES if ctx.get_parameter_source(name) in GIVEN or variable(name) in config}
    for group in TOGETHER:
        if group & explicit_names:
            record = {var: value for var, value in record.items() if var.lower() not in group}
    for name in SETTING_NAMES:
        var = variable(name)
        if ctx.get_parameter_source(name) in GIVEN:
            value, explicit = as_setting(given[name]), True
        elif var in config:
            value, explicit = convert_given(ctx, name, config[var]), True
        elif var in record:
            value, explicit = convert_given(ctx, name, record[var]), False
        else:
            value, explicit = as_setting(given[name]), False
        if explicit and var in record and plain(value) != plain(convert_given(ctx, name, record[var])):
            differ.append(f"{var}={shown(value)} (recorded: {shown(record[var])})")
        values[name] = value
    return RunSettings(**values), differ


def shown(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(f"{model}={weight:g}" for model, weight in value) or "''"
    return "''" if value in (None, "") else str(value)


def announce(ctx: click.Context, data_dir: Path, settings: RunSettings, differ: list[str], writes: bool) -> None:
    """One line on stderr when this command's settings are not the recorded run's, or its files changed."""
    name, record = ctx.info_name, record_path(data_dir)
    if differ:
        verb = "the run now has" if writes else "using, for this command only,"
        click.echo(f"{name}: {verb} " + ", ".join(differ) + f" ({record})", err=True)
    changed = [] if writes else changed_files(data_dir, settings)
    if changed:
        click.echo(f"{name}: the {' and '.join(changed)} file changed since the run was recorded in {record}; "
                   "`make dataset` brings the run up to date", err=True)


def run_options(writes: bool = False):
    """All run settings, handed to the command as one `run: RunSettings` read from DATA_DIR's run
    record where not given; commands that start or change a run (`writes`) record them."""
    def decorate(func):
        @functools.wraps(func)
        def command(*args, config, **kwargs):
            ctx = click.get_current_context()
            given = {name: kwargs.pop(name) for name in SETTING_NAMES}
            data_dir = kwargs["data_dir"]
            settings, differ = resolve_settings(ctx, given, read_config(ctx, config), read_record(data_dir))
            if writes and not settings.seed_range:
                raise click.UsageError(f"N={settings.n} leaves no seed to work on: give N=1 or more "
                                       "(nothing was written)")
            announce(ctx, data_dir, settings, differ, writes)
            if writes:
                write_record(data_dir, settings)
            return func(*args, run=settings, **kwargs)
        for name in reversed(SETTING_NAMES):
            command = RUN_OPTIONS[name](command)
        return option("CONFIG", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
                      help="A YAML or JSON file of settings by make variable name (N: 100); the command line wins.")(
            data_dir_option(command))
    return decorate
