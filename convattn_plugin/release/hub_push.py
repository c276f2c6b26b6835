"""Upload a release's timm folder to the Hugging Face Hub."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

__all__ = ['PublishError', 'hub_token', 'push_release']


class PublishError(RuntimeError):
    """Publishing cannot go on (no Hub token, no network, ...); the message says what to do."""


def hub_token(token: Optional[str] = None) -> str:
    """The Hugging Face token to push with: ``token``, else the logged-in one or ``HF_TOKEN``.

    Raises:
        PublishError: None is available (checked before anything is written).
    """
    try:
        from huggingface_hub import get_token
    except ImportError as e:
        raise PublishError('--push needs huggingface_hub: pip install huggingface_hub') from e
    token = token or get_token()
    if not token:
        raise PublishError('--push needs a Hugging Face token: run `huggingface-cli login` or set HF_TOKEN '
                           '(or publish without --push and upload the timm folder later)')
    return token


def push_release(timm_dir: Path, repo_id: str, token: Optional[str] = None, private: bool = False) -> str:
    """Upload a release's timm folder, as written and verified, to a Hugging Face Hub repository.

    The files go up byte for byte (``huggingface_hub.HfApi.upload_folder``): what the Hub holds
    is what :func:`~.load.verify_release` checked and ``manifest.json`` lists.

    Returns:
        The commit URL.

    Raises:
        PublishError: No token, or the upload failed (no network, no permission).
    """
    from huggingface_hub import HfApi

    token = hub_token(token)
    try:
        api = HfApi(token=token)
        api.create_repo(repo_id, private=private, exist_ok=True)
        commit = api.upload_folder(repo_id=repo_id, folder_path=str(timm_dir),
                                   commit_message='Add model (convattn_plugin release)')
    except Exception as e:  # noqa: BLE001 - network, auth and Hub errors all end the push the same way
        raise PublishError(f'pushing to the Hugging Face Hub ({repo_id}) failed: {type(e).__name__}: {e}. '
                           f'The release folder is complete; upload it later with '
                           f'`huggingface-cli upload {repo_id} {timm_dir}`') from e
    return str(getattr(commit, 'commit_url', commit))
