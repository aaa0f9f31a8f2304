"""The original Wave-U-Net's released models by name, fetched once from its ``models.zip``, then offline.

The zip holds TF1 checkpoints as ``checkpoints/<config>/<config>-<step>.{index,meta,data-...}``.
Installing imports each exactly as ``import-original`` does into ``<cache>/models/<name>.keras``;
all three are checked and imported before any is moved into place, so a corrupt zip or one that
lacks a model installs nothing. After that, no run opens a connection.
"""

import dataclasses
import glob
import os
import re
import shutil
import tempfile
import zipfile

from wavenet_j.backend import require_tensorflow
from wavenet_j.interop.download import DownloadError, download
from wavenet_j.startup import cache_root

# The link in the original's README (f90/Wave-U-Net).
MODELS_URL = "https://www.dropbox.com/s/oq0woy3cmf5s8y7/models.zip?dl=1"
DEFAULT = "M5-HighSR"
_INSTALLING = "installing the original's released models (TF1 checkpoints)"


@dataclasses.dataclass(frozen=True)
class Released:
    name: str
    config: str  # the original's config, which is also its checkpoint folder
    separates: str
    rate: int
    published: str  # MUSDB18 test, median SDR (mean), and where the figure comes from


RELEASED = {
    model.name: model
    for model in (
        Released(
            "M4",
            "baseline_stereo",
            "vocals, accompaniment",
            22050,
            "vocals 4.46 dB (0.65), accompaniment 10.69 dB (11.85): Wave-U-Net paper",
        ),
        Released(
            "M5-HighSR",
            "full_44KHz",
            "vocals, accompaniment",
            44100,
            "vocals 4.95 dB (1.01), accompaniment 11.16 dB (12.87): original's README",
        ),
        Released("M6", "full_multi_instrument", "bass, drums, other, vocals", 22050, "none quoted here"),
    )
}


class PretrainedError(OSError):
    """A released model that cannot be installed: the message names the file or URL and the way out."""

    def __str__(self):
        return self.args[0]


def models_url():
    return os.environ.get("WAVENET_J_MODELS_URL") or MODELS_URL


def model_path(name):
    """Where the released model ``name`` lives once installed."""
    return os.path.join(cache_root(), "models", f"{name}.keras")


def installed(name):
    return os.path.isfile(model_path(name))


def released_table():
    """The released models as a markdown table: config, sources, rate, published scores, cache path."""
    lines = [
        "| model | config | separates | rate | published (MUSDB18 test, median SDR (mean)) | cached |",
        "|---|---|---|---|---|---|",
    ]
    for name, model in RELEASED.items():
        cached = model_path(name) if installed(name) else "no"
        default = " (default)" if name == DEFAULT else ""
        lines.append(
            f"| {name}{default} | {model.config} | {model.separates} | {model.rate} Hz | {model.published} "
            f"| {cached} |"
        )
    return "\n".join(lines)


def released_model(name, progress=None):
    """The path of the released model ``name``'s ``.keras`` file, downloading the zip on first use."""
    if not installed(name):
        install_from_url(models_url(), progress)
    return model_path(name)


def install_from_url(url, progress=None):
    """Download the models zip (resuming a killed download), install every model, remove the zip."""
    require_tensorflow(_INSTALLING)
    archive = os.path.join(_made(os.path.join(cache_root(), "downloads")), "models.zip")
    how = "; or download it yourself and run: wavenet-j pretrained --from-zip models.zip"
    try:
        download(url, archive, progress)
    except DownloadError as error:
        raise PretrainedError(f"{error}{how}") from error
    try:
        install_from_zip(archive)
    except PretrainedError as error:
        raise PretrainedError(f"{error} (downloaded from {url}{how})") from error
    finally:
        if os.path.exists(archive):
            os.remove(archive)  # installed, or not a zip to resume: either way fetched anew next time


def install_from_zip(path):
    """Install every released model from the original's ``models.zip`` at ``path``."""
    require_tensorflow(_INSTALLING)
    try:
        with zipfile.ZipFile(path) as archive:
            broken = archive.testzip()
            if broken is not None:
                raise PretrainedError(f"{path!r} is corrupt: {broken!r} fails its CRC; nothing installed")
            with tempfile.TemporaryDirectory(prefix=".unzipped-", dir=_made(cache_root())) as folder:
                archive.extractall(folder)
                install_from_dir(folder, shown=path)
    except (zipfile.BadZipFile, EOFError) as error:
        raise PretrainedError(f"{path!r} is not a whole zip file ({error}); nothing installed") from error


def install_from_dir(folder, shown=None):
    """Install every released model from an unzipped ``checkpoints/`` folder (or the folder above it)."""
    from wavenet_j.configs import resolve_config
    from wavenet_j.interop.original import CheckpointMismatch, import_original_checkpoint
    from wavenet_j.models import build_separator

    require_tensorflow(_INSTALLING)
    shown = shown or folder
    prefixes = {name: _checkpoint(folder, model, shown) for name, model in RELEASED.items()}
    staging = tempfile.mkdtemp(prefix=".installing-", dir=_made(os.path.join(cache_root(), "models")))
    try:
        for name, prefix in prefixes.items():
            try:
                model = import_original_checkpoint(
                    build_separator(resolve_config(RELEASED[name].config)), prefix
                )
            except CheckpointMismatch as error:
                raise PretrainedError(f"{shown!r}: {name}: {error}; nothing installed") from error
            model.save(os.path.join(staging, f"{name}.keras"))
        for name in RELEASED:  # renames within one folder: each model appears whole or not at all
            os.replace(os.path.join(staging, f"{name}.keras"), model_path(name))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _checkpoint(folder, model, shown):
    """The prefix of ``model``'s checkpoint (its latest step) under ``folder``."""
    roots = [os.path.join(folder, "checkpoints"), folder]
    found = []
    for root in roots:
        found = glob.glob(os.path.join(glob.escape(root), model.config, f"{model.config}-*.index"))
        if found:
            break
    steps = [int(m.group(1)) for m in (re.search(r"-(\d+)\.index$", p) for p in found) if m]
    if not steps:
        raise PretrainedError(
            f"{shown!r} holds no {model.name} checkpoint "
            f"(checkpoints/{model.config}/{model.config}-<step>.index); nothing installed"
        )
    return os.path.join(os.path.dirname(found[0]), f"{model.config}-{max(steps)}")


def _made(folder):
    os.makedirs(folder, exist_ok=True)
    return folder
