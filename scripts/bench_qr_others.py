#!/usr/bin/env python3
"""QR decoder comparison for scripts/bench-qr.sh: runs zxing-cpp and zbar over a corpus and summarises results.

Usage:
  bench_qr_others.py run <decoder> <corpus_dir>          -> JSON lines {"file","texts","ms"} on stdout
  bench_qr_others.py table <corpus_dir> <name=results.jsonl>...  -> side-by-side table
  bench_qr_others.py live <corpus_dir> <live.jsonl> <full.jsonl>    -> live-mode summary (decode_corpus --live)
  bench_qr_others.py pooled <max_pixels> <corpus_dir>=<results_dir>...  -> every corpus pooled, images up to max_pixels

Timing covers the decode call only (image loading and luma conversion excluded), like the Rust bench: "ms" is
this thread's CPU time (time.thread_time), so other load on a shared machine does not inflate it; "wall_ms" is
the wall time.
"""
import json
import os
import statistics
import sys
import time


def list_frames(corpus):
    truth = load_truth(corpus)
    return sorted(truth.keys())


def load_truth(corpus):
    with open(os.path.join(corpus, "truth.json"), encoding="utf-8") as f:
        return json.load(f)


def expected(t):
    """The texts a truth.json entry expects: the list of its codes' payloads ([] for an image with no code).
    An entry is an object with "payload" (a string, or null for no code) as the project's corpora write it,
    or with "payloads" (a list: an image holding several codes); a bare string, list or null works too, so a
    kept-aside set needs only {"file": "text"}."""
    if isinstance(t, dict):
        t = t["payloads"] if "payloads" in t else t.get("payload")
    if t is None:
        return []
    return [t] if isinstance(t, str) else list(t)


def judge(t, texts):
    """(read, wrong) for one image: read when every expected payload is among `texts`, wrong when any text
    is not one of them (for an image with no code, any text at all)."""
    exp = expected(t)
    return bool(exp) and all(p in texts for p in exp), any(x not in exp for x in texts)


def run(decoder, corpus):
    from PIL import Image
    import numpy as np

    if decoder == "zxing-cpp":
        import zxingcpp

        def decode(arr):
            # Defaults (try_harder, rotate, invert) are what an app would use out of the box.
            return [r.text for r in zxingcpp.read_barcodes(arr, formats=zxingcpp.BarcodeFormat.QRCode)]
    elif decoder == "zbar":
        from pyzbar import pyzbar

        def decode(arr):
            h, w = arr.shape
            res = pyzbar.decode((arr.tobytes(), w, h), symbols=[pyzbar.ZBarSymbol.QRCODE])
            return [r.data.decode("utf-8", "replace") for r in res]
    else:
        raise SystemExit(f"unknown decoder {decoder}")

    for name in list_frames(corpus):
        # Same luma conversion for every decoder: PIL's ITU-R 601 "L".
        arr = np.ascontiguousarray(np.asarray(Image.open(os.path.join(corpus, name)).convert("L")))
        c0, t0 = time.thread_time(), time.perf_counter()
        try:
            texts = decode(arr)
        except Exception:  # a crash counts as "not decoded", not as a bench failure
            texts = []
        ms = (time.thread_time() - c0) * 1000.0
        wall_ms = (time.perf_counter() - t0) * 1000.0
        print(json.dumps({"file": name, "texts": texts, "ms": ms, "wall_ms": wall_ms}), flush=True)


def p95(values):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))]


def read_results(path):
    results = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                r = json.loads(line)
                results[r["file"]] = r
    return results


def table(corpus, specs):
    truth = load_truth(corpus)
    rows = []
    # Our bench binary also times loading each file (read + luma conversion, `image_to_luma`), which the
    # decode times leave out and `quickauth decode` pays on top: the first spec that has it.
    loads = None
    for spec in specs:
        name, path = spec.split("=", 1)
        results = read_results(path)
        if loads is None and any("load_ms" in r for r in results.values()):
            loads = (name, [r["load_ms"] for r in results.values() if "load_ms" in r])
        frames = len(truth)
        ok = wrong = 0
        times = []
        for file, t in truth.items():
            r = results.get(file)
            if r is None:
                continue
            times.append(r["ms"])
            # An image with no code is never read, and any text returned for it is wrong.
            read, bad = judge(t, r["texts"])
            ok += read
            wrong += bad
        rows.append((name, frames, 100.0 * ok / max(frames, 1), wrong,
                     statistics.median(times) if times else float("nan"), p95(times),
                     max(times) if times else float("nan")))
    # The decoder column is 12 wide unless a name needs more (e.g. "quickauth (still)").
    w = max([12] + [len(r[0]) for r in rows])
    print(f"corpus: {corpus}")
    if truth and not any(expected(t) for t in truth.values()):
        # A no-code corpus (categories "noqr"): payload null. Nothing can match, so decoded % must be 0.
        print("no code in any frame (truth payload null): decoded % must be 0; wrong = frames where any text "
              "was returned")
    print(f"| {'decoder':<{w}} | {'frames':>6} | {'decoded %':>9} | {'wrong':>5} | {'median ms':>9} | {'p95 ms':>7} | {'max ms':>7} |")
    print(f"|{'-' * (w + 2)}|{'-' * 8}|{'-' * 11}|{'-' * 7}|{'-' * 11}|{'-' * 9}|{'-' * 9}|")
    for name, frames, pct, wrong, med, p, mx in rows:
        print(f"| {name:<{w}} | {frames:>6} | {pct:>9.1f} | {wrong:>5} | {med:>9.2f} | {p:>7.2f} | {mx:>7.2f} |")
    if loads:
        name, ms = loads
        print(f"{name}: loading the files (not in the times above): median {statistics.median(ms):.2f} ms, "
              f"p95 {p95(ms):.2f} ms, max {max(ms):.2f} ms")


def live(corpus, live_path, full_path):
    """Live mode: ms per unreadable 720p frame, and frames until the first read, against the full search."""
    truth = load_truth(corpus)
    full = {file: judge(truth.get(file), r["texts"])[0] for file, r in read_results(full_path).items()}
    unread_ms, firsts, wrong, n = [], [], 0, 0
    with open(live_path, encoding="utf-8") as f:
        for line in f:
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            n += 1
            wrong += judge(truth.get(r["file"]), r["texts"])[1]
            first = r["first_read"]
            firsts.append(first)
            for i, ms in enumerate(r["frames_ms"]):
                if (first is None or i < first) and (r["width"], r["height"]) == (1280, 720):
                    unread_ms.append(ms)
    seq = len(r["frames_ms"]) if n else 0
    read = [x for x in firsts if x is not None]
    print(f"live mode: {corpus} ({n} scenes x {seq} consecutive frames, Decoder::live())")
    if unread_ms:
        s = sorted(unread_ms)
        print(f"  ms per unreadable 1280x720 frame: median {statistics.median(s):.2f}, p95 {p95(s):.2f}, "
              f"max {s[-1]:.2f} ({len(s)} frames)")
    print(f"  scenes read: first frame {sum(1 for x in read if x == 0)}, within 3 frames "
          f"{sum(1 for x in read if x < 3)}, within {seq} frames {len(read)}, wrong {wrong}; "
          f"full search (one frame): {sum(full.values())}")
    if read:
        print(f"  frames until first read (read scenes): median {statistics.median(read) + 1:.0f}, "
              f"max {max(read) + 1}")


def pooled(max_pixels, specs):
    """Every corpus's images up to `max_pixels` pooled into one set, as the issue's targets are stated for a
    mixed set of photos: rate, wrong, median, p95 and max per decoder, over every image and over the images
    with a code, and each decoder's median against zxing-cpp's on the images both read."""
    from PIL import Image  # only here: the other subcommands run without Pillow

    decoders = ["quickauth", "quickauth-still", "zxing-cpp", "zbar"]
    images, total = [], 0  # (results dir, file, truth entry)
    results = {}  # (results dir, decoder) -> {file: result}
    for spec in specs:
        corpus, out = spec.split("=", 1)
        for d in decoders:
            path = os.path.join(out, d + ".jsonl")
            results[(out, d)] = read_results(path) if os.path.exists(path) else {}
        for file, t in load_truth(corpus).items():
            total += 1
            with Image.open(os.path.join(corpus, file)) as im:
                if im.size[0] * im.size[1] <= max_pixels:
                    images.append((out, file, t))
    print(f"all corpora pooled: the {len(images)} images of {total} up to {max_pixels / 1e6:.1f} MP; "
          "median ratio: the decoder's median over zxing-cpp's, on the images both read")
    for label, with_code_only in (("every image", False), ("the images with a code", True)):
        print(f"{label}:")
        print(f"| {'decoder':<15} | {'images':>6} | {'read':>5} | {'wrong':>5} | {'median ms':>9} | {'p95 ms':>7} | "
              f"{'max ms':>7} | {'median ratio':>12} |")
        print(f"|{'-' * 17}|{'-' * 8}|{'-' * 7}|{'-' * 7}|{'-' * 11}|{'-' * 9}|{'-' * 9}|{'-' * 14}|")
        for d in decoders:
            ms, read, wrong, both, zboth = [], 0, 0, [], []
            for out, file, t in images:
                r = results[(out, d)].get(file)
                if r is None or (with_code_only and not expected(t)):
                    continue
                ms.append(r["ms"])
                ok, bad = judge(t, r["texts"])
                read += ok
                wrong += bad
                z = results[(out, "zxing-cpp")].get(file)
                if ok and z is not None and judge(t, z["texts"])[0]:
                    both.append(r["ms"])
                    zboth.append(z["ms"])
            if not ms:
                continue
            ratio = statistics.median(both) / statistics.median(zboth) if both else float("nan")
            print(f"| {d:<15} | {len(ms):>6} | {read:>5} | {wrong:>5} | {statistics.median(ms):>9.2f} | "
                  f"{p95(ms):>7.2f} | {max(ms):>7.2f} | {ratio:>11.2f}x |")


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "run":
        run(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 5 and sys.argv[1] == "live":
        live(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) >= 4 and sys.argv[1] == "pooled":
        pooled(float(sys.argv[2]), sys.argv[3:])
    elif len(sys.argv) >= 4 and sys.argv[1] == "table":
        table(sys.argv[2], sys.argv[3:])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
