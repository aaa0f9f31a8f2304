"""Shards: ``i/n`` spreads a list of jobs (tracks, models, variants) over n machines sharing one output
folder, machine i taking every n-th job from the i-th."""


def parse_shard(text: str) -> tuple[int, int]:
    """``(i, n)`` of ``"i/n"``; ValueError naming the text unless ``0 <= i < n``."""
    index, _, count = str(text).partition("/")
    if not (index.isdigit() and count.isdigit() and int(index) < int(count)):
        raise ValueError(f"shard {text!r} must be i/n with 0 <= i < n, e.g. 0/4")
    return int(index), int(count)


def shard_of(jobs, shard=None) -> list:
    """The jobs of machine ``shard=(i, n)``: every n-th from the i-th; all of them for None."""
    jobs = list(jobs)
    if shard is None:
        return jobs
    index, count = shard
    if not 0 <= index < count:
        raise ValueError(f"shard {index}/{count}: the index must be in [0, {count})")
    return jobs[index::count]
