"""One file over HTTP, resumable: bytes go to ``<file>.part`` and become ``<file>`` only when whole."""

import errno
import http.client
import os
import socket
import urllib.error
import urllib.request

from wavenet_j.atomic import DiskFull

CHUNK = 1 << 20


class DownloadError(OSError):
    """A download that did not complete; the message names the URL and what went wrong."""

    def __str__(self):
        return self.args[0]


def download(url, path, progress=None, timeout=60):
    """Fetch ``url`` into ``path``. A ``path + ".part"`` left by a killed or failed run is continued
    with an HTTP range request (from zero where the server ignores ranges); ``progress(done, total)``
    is called as bytes arrive (``total`` None where the server does not say)."""
    part = f"{path}.part"
    have = os.path.getsize(part) if os.path.isfile(part) else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and have:  # the part holds every byte: a run killed before its rename
            os.replace(part, path)
            return path
        raise DownloadError(f"cannot download {url}: HTTP {error.code} {error.reason}") from error
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise DownloadError(f"cannot download {url}: {reason}") from error
    with response:
        if have and response.status != 206:
            have = 0  # the server sent the whole file again
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        done = _copy(response, part, have, total, url, progress)
    if total is not None and done != total:
        raise DownloadError(
            f"the download of {url} stopped at {done} of {total} bytes; run the command again to resume"
        )
    os.replace(part, path)
    return path


def _copy(response, part, have, total, url, progress):
    """Append the response's bytes to ``part`` (kept on failure, for the next run); the bytes it holds."""
    done = have
    try:
        with open(part, "ab" if have else "wb") as handle:
            while chunk := response.read(CHUNK):
                handle.write(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
    except OSError as error:
        if error.errno == errno.ENOSPC:
            raise DiskFull(part) from error
        if isinstance(error, (socket.timeout, ConnectionError)):
            raise DownloadError(
                f"the download of {url} stopped at {done} bytes ({error}); run the command again to resume"
            ) from error
        raise
    except http.client.IncompleteRead:
        pass  # the byte count below says how far it got
    return done
