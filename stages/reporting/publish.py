"""Upload a `make card` folder to a Hugging Face Hub dataset repository with huggingface_hub:
create the repository if it is missing, then one commit holding every file of the folder.

The token is handed to huggingface_hub for the Authorization header and kept nowhere else; an
error message never carries it.
"""
from pathlib import Path

from ..errors import PipelineError


def folder_files(folder: Path) -> list[Path]:
    files = sorted(path for path in folder.rglob("*") if path.is_file() and not path.name.startswith("."))
    if not any(path.name == "README.md" for path in files):
        raise PipelineError(f"{folder} holds no README.md dataset card: run `make card` first")
    return files


def upload(folder: Path, repo: str, token: str, endpoint: str | None = None, private: bool = False) -> str:
    """Upload the folder to the dataset repository `repo` (user/name); the commit's URL."""
    from huggingface_hub import CommitOperationAdd, HfApi
    from huggingface_hub.errors import HfHubHTTPError
    operations = [CommitOperationAdd(path_in_repo=path.relative_to(folder).as_posix(), path_or_fileobj=str(path))
                  for path in folder_files(folder)]
    api = HfApi(endpoint=endpoint, token=token)
    try:
        api.create_repo(repo, repo_type="dataset", private=private, exist_ok=True)
        info = api.create_commit(repo, operations, commit_message="Upload identity conversations and their card",
                                 repo_type="dataset")
    except (HfHubHTTPError, OSError) as err:
        message = " ".join(str(err).replace(token, "[token]").split())[:300]
        raise PipelineError(f"upload to {repo} failed: {message}; check REPO and HF_TOKEN") from None
    return info.commit_url
