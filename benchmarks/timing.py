"""The clocks every benchmark script reads: plain Python, so they run where TensorFlow is absent."""

import statistics
import time


def timed(function, repeats=5, warmup=1):
    """``(min, median)`` seconds of ``function()``, which waits for its result, after ``warmup`` calls."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def timed_in_turns(functions, repeats=4, warmup=1):
    """Minimum seconds of each of ``functions``, timed in turns so that a change in the machine's load
    during the run reaches all of them alike."""
    for function in functions:
        for _ in range(warmup):
            function()
    times = [[] for _ in functions]
    for _ in range(repeats):
        for function, kept in zip(functions, times):
            start = time.perf_counter()
            function()
            kept.append(time.perf_counter() - start)
    return [min(kept) for kept in times]
