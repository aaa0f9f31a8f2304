"""The original's released models by name, served by a loopback HTTP server that counts requests."""

import http.server
import io
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile

import numpy as np
import pytest
import soundfile

from tf1_reference import save_original_checkpoint
from wavenet_j.configs import resolve_config
from wavenet_j.interop.pretrained import RELEASED
from wavenet_j.models import get_padding

pytestmark = pytest.mark.slow  # full-size TF1 checkpoints, processes

CLI = [os.path.join(os.path.dirname(sys.executable), "wavenet-j")]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """``checkpoints/<config>/<config>-<step>.*`` for each released model, from the TF1 reference graph
    at the model's full size (one training step, so Adam's slots are there as in the original's)."""
    root = tmp_path_factory.mktemp("original") / "checkpoints"
    for seed, model in enumerate(RELEASED.values()):
        config = resolve_config(model.config)
        folder = root / model.config
        folder.mkdir(parents=True)
        frames, _ = get_padding(config)
        mix = np.random.default_rng(seed).uniform(-0.5, 0.5, (1, frames, config["num_channels"]))
        prefix, _ = save_original_checkpoint(config, folder, mix.astype(np.float32), seed=seed)
        for path in folder.glob(os.path.basename(prefix) + ".*"):
            path.rename(folder / path.name.replace("model-", f"{model.config}-", 1))
        (folder / "checkpoint").unlink()
    return root


def zipped(checkpoints, leave_out=()):
    """The bytes of a models.zip in the original's layout."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(checkpoints.rglob("*")):
            if path.is_file() and path.parent.name not in leave_out:
                archive.write(path, path.relative_to(checkpoints.parent))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def models_zip(checkpoints):
    return zipped(checkpoints)


class Server:
    """``http://127.0.0.1:<port>/models.zip`` serving ``body``, with ranges; ``requests`` holds each
    request's Range header (None without); ``delay`` seconds after each 64 KiB slow it down."""

    def __init__(self, body, delay=0.0):
        self.body, self.delay, self.requests = body, delay, []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.headers.get("Range"))
                start = int(self.headers["Range"][6:].split("-")[0]) if self.headers.get("Range") else 0
                if start >= len(server.body) and start:
                    self.send_response(416)
                    self.end_headers()
                    return
                self.send_response(206 if start else 200)
                self.send_header("Content-Length", str(len(server.body) - start))
                self.end_headers()
                try:
                    for offset in range(start, len(server.body), 1 << 16):
                        self.wfile.write(server.body[offset : offset + (1 << 16)])
                        time.sleep(server.delay)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/models.zip"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve():
    servers = []

    def start(body, delay=0.0):
        servers.append(Server(body, delay))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def run(cache, *args, url="http://127.0.0.1:9/unused.zip", **kwargs):
    env = dict(os.environ, WAVENET_J_CACHE=str(cache), WAVENET_J_MODELS_URL=url)
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=600, env=env, **kwargs)


def song(path, seconds=3.0, rate=44100, seed=0):
    signal_ = np.random.default_rng(seed).uniform(-0.3, 0.3, (int(seconds * rate), 2)).astype(np.float32)
    soundfile.write(path, signal_, rate, subtype="FLOAT")
    return path


def stems(folder):
    return {path.name: soundfile.read(path)[0] for path in sorted(folder.rglob("*.wav"))}


def cached_models(cache):
    folder = cache / "models"
    return sorted(path.name for path in folder.iterdir()) if folder.is_dir() else []


def test_separate_downloads_m5_highsr_once_and_gives_its_checkpoints_stems(
    models_zip, checkpoints, serve, tmp_path
):
    server, cache = serve(models_zip), tmp_path / "cache"
    first = song(tmp_path / "first.wav")
    named = run(cache, "separate", str(first), "-o", str(tmp_path / "named"), "--no-xla", url=server.url)
    assert named.returncode == 0, named.stderr
    assert len(server.requests) == 1
    assert cached_models(cache) == ["M4.keras", "M5-HighSR.keras", "M6.keras"]
    assert not (cache / "downloads" / "models.zip").exists()  # the models are kept, not the zip
    prefix = checkpoints / "full_44KHz" / "full_44KHz-1"
    args = ["--original-ckpt", str(prefix), "--config", "full_44KHz", "--no-xla"]
    direct = run(cache, "separate", str(first), "-o", str(tmp_path / "direct"), *args)
    assert direct.returncode == 0, direct.stderr
    ours, theirs = stems(tmp_path / "named"), stems(tmp_path / "direct")
    assert list(ours) == ["accompaniment.wav", "vocals.wav"] and list(ours) == list(theirs)
    for name in ours:
        np.testing.assert_allclose(ours[name], theirs[name], atol=1e-6, err_msg=name)
        assert np.abs(ours[name]).max() > 1e-3  # a trained-looking model's output, not silence
    second = song(tmp_path / "second.wav", seed=1)
    again = run(cache, "separate", str(second), "-o", str(tmp_path / "named"), "--no-xla", url=server.url)
    assert again.returncode == 0, again.stderr
    assert len(server.requests) == 1  # offline from now on
    listed = run(cache, "pretrained")
    assert listed.returncode == 0 and listed.stdout.count(str(cache / "models")) == 3, listed.stdout


def test_a_download_killed_halfway_resumes_where_it_stopped(models_zip, serve, tmp_path):
    server, cache = serve(models_zip, delay=0.002), tmp_path / "cache"
    part = cache / "downloads" / "models.zip.part"
    env = dict(os.environ, WAVENET_J_CACHE=str(cache), WAVENET_J_MODELS_URL=server.url)
    process = subprocess.Popen(CLI + ["pretrained", "--download"], env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (part.exists() and part.stat().st_size > len(models_zip) // 2):
        assert process.poll() is None and time.monotonic() < deadline, "the download ended before halfway"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    kept = part.stat().st_size
    assert 0 < kept < len(models_zip) and cached_models(cache) == []
    server.delay = 0.0
    resumed = run(cache, "pretrained", "--download", url=server.url)
    assert resumed.returncode == 0, resumed.stderr
    assert server.requests[-1] == f"bytes={kept}-"  # only the rest was fetched
    assert cached_models(cache) == ["M4.keras", "M5-HighSR.keras", "M6.keras"]


@pytest.mark.parametrize("damage", ["corrupt", "without M6"])
def test_a_bad_zip_gives_one_line_and_caches_nothing(damage, models_zip, checkpoints, serve, tmp_path):
    if damage == "corrupt":
        body = bytearray(models_zip)
        body[len(body) // 2 : len(body) // 2 + 4096] = bytes(4096)  # inside a checkpoint's data
        body = bytes(body)
    else:
        body = zipped(checkpoints, leave_out={"full_multi_instrument"})
    server, cache = serve(body), tmp_path / "cache"
    mix = song(tmp_path / "song.wav")
    result = run(cache, "separate", str(mix), "-o", str(tmp_path / "out"), url=server.url)
    assert result.returncode == 1
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("wavenet-j separate: ") and "--from-zip" in line and server.url in line
    assert ("CRC" in line) if damage == "corrupt" else ("no M6 checkpoint" in line)
    assert cached_models(cache) == [] and not list((cache / "downloads").iterdir())
    assert not (tmp_path / "out").exists()


def test_a_refused_connection_names_the_url(tmp_path):
    with socket_closed() as url:
        result = run(tmp_path / "cache", "separate", str(song(tmp_path / "song.wav")), url=url)
    assert result.returncode == 1
    (line,) = [line for line in result.stderr.splitlines() if line.strip()][-1:]
    assert line.startswith(f"wavenet-j separate: cannot download {url}: ") and "refused" in line, line
    assert "--from-zip" in line and cached_models(tmp_path / "cache") == []


class socket_closed:
    """A loopback URL on a port nothing listens on."""

    def __enter__(self):
        import socket

        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        return f"http://127.0.0.1:{self.socket.getsockname()[1]}/models.zip"

    def __exit__(self, *_):
        self.socket.close()


def test_from_zip_and_from_dir_install_without_a_server(models_zip, checkpoints, tmp_path):
    archive = tmp_path / "models.zip"
    archive.write_bytes(models_zip)
    from_zip = run(tmp_path / "zip", "pretrained", "--from-zip", str(archive))
    assert from_zip.returncode == 0, from_zip.stderr
    assert cached_models(tmp_path / "zip") == ["M4.keras", "M5-HighSR.keras", "M6.keras"]
    unzipped = tmp_path / "unzipped"
    shutil.copytree(checkpoints, unzipped / "checkpoints")
    from_dir = run(tmp_path / "dir", "pretrained", "--from-dir", str(unzipped / "checkpoints"))
    assert from_dir.returncode == 0, from_dir.stderr
    assert archive.exists()  # the user's copy is theirs
    code = (
        "from wavenet_j.interop import load_separator\n"
        "model = load_separator('M6')\n"
        "print(model.model_config['task'], list(model.output))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=dict(
            os.environ, WAVENET_J_CACHE=str(tmp_path / "dir"), WAVENET_J_MODELS_URL="http://127.0.0.1:9/"
        ),
    )
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.split(None, 1) == ["multi_instrument", "['bass', 'drums', 'other', 'vocals']\n"]
