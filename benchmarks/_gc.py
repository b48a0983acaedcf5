import gc, time
from benchmarks.common import iter_apps
from tomo.marketplace.parse import parse_definition
blobs = [(a.path, t.encode()) for a, t in iter_apps(10000)]
for label, n in (("1k", 1000), ("10k", 10000)):
    for mode in ("gc on", "gc off"):
        if mode == "gc off": gc.disable()
        t = time.perf_counter()
        keep = [parse_definition(p, b, max_bytes=1 << 20) for p, b in blobs[:n]]
        dt = time.perf_counter() - t
        gc.enable(); del keep; gc.collect()
        print(label, mode, f"{dt:.2f}s  {dt / n * 1000:.3f} ms/file")
