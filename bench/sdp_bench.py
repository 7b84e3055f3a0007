"""Parse (and write) a 1,000-line SDP many times and print the time per operation.

    .venv/bin/python -m bench.sdp_bench [-n 200] [--lines 1000]
    .venv/bin/python bench/sdp_bench.py

The document is Chromium's audio+video offer with candidates (tests/data/sdp), its video
section repeated with fresh mids until it has the requested number of lines: the shape of a
large conference offer (many m= sections, long rtpmap/rtcp-fb/fmtp runs, candidates).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from rtcpeer.sdp import Candidate, SessionDescription  # noqa: E402

FIXTURE = ROOT / "tests" / "data" / "sdp" / "chromium_audio_video_offer_candidates.sdp"


def big_sdp(min_lines: int) -> str:
    base = FIXTURE.read_bytes().decode()
    lines = base.rstrip("\r\n").split("\r\n")
    first_m = next(i for i, ln in enumerate(lines) if ln.startswith("m="))
    video_at = next(i for i, ln in enumerate(lines) if ln.startswith("m=video"))
    head, audio, video = lines[:first_m], lines[first_m:video_at], lines[video_at:]
    sections = [audio, video]
    mid = 2
    while len(head) + sum(map(len, sections)) < min_lines:
        sections.append([ln if not ln.startswith("a=mid:") else f"a=mid:{mid}" for ln in video])
        mid += 1
    mids = " ".join(str(i) for i in range(mid))
    head = [f"a=group:BUNDLE {mids}" if ln.startswith("a=group:BUNDLE") else ln for ln in head]
    out = head + [ln for s in sections for ln in s]
    return "\r\n".join(out) + "\r\n"


def bench(label: str, fn: object, n: int) -> float:
    assert callable(fn)
    fn()  # warm up
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - start) / n)
    print(f"{label:<44} {best * 1e6:10.1f} us")
    return best


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("-n", type=int, default=200, help="iterations per round (best of 3)")
    ap.add_argument("--lines", type=int, default=1000, help="minimum lines in the document")
    args = ap.parse_args(argv)
    text = big_sdp(args.lines)
    nlines = text.count("\r\n")
    desc = SessionDescription.parse(text)
    assert desc.to_sdp() == text
    cand_lines = [a.value or "" for m in desc.media for a in m.attributes if a.name == "candidate"]
    print(f"SDP: {nlines} lines, {len(text)} bytes, {len(desc.media)} m= sections")
    per = bench(f"parse ({nlines} lines)", lambda: SessionDescription.parse(text), args.n)
    print(f"{'  per line':<44} {per / nlines * 1e9:10.1f} ns")
    bench(f"to_sdp ({nlines} lines)", desc.to_sdp, args.n)
    bench(
        "parse + every typed helper of every section",
        lambda: [
            (m.rtpmaps, m.fmtps, m.rtcp_fb, m.extmaps, m.ssrcs, m.candidates, m.fingerprints)
            for m in SessionDescription.parse(text).media
        ],
        max(1, args.n // 4),
    )
    one = "candidate:" + cand_lines[0]
    bench("Candidate.from_sdp (one line)", lambda: Candidate.from_sdp(one), args.n * 50)
    c = Candidate.from_sdp(one)
    bench("Candidate.to_sdp (one line)", c.to_sdp, args.n * 50)
    try:  # side by side with aiortc when it is installed (it is not a dependency)
        from aiortc import sdp as aiortc_sdp  # type: ignore[import-not-found]
    except ImportError:
        print("aiortc not installed: no side-by-side figures")
        return
    bench(
        f"aiortc SessionDescription.parse ({nlines} lines)",
        lambda: aiortc_sdp.SessionDescription.parse(text),
        max(1, args.n // 4),
    )
    bench(
        "aiortc candidate_from_sdp (one line)",
        lambda: aiortc_sdp.candidate_from_sdp(cand_lines[0]),
        args.n * 50,
    )


if __name__ == "__main__":
    main()
