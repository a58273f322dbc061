# ruff: noqa: T201
"""Write COUNT multi-page PDFs of PAGES pages each into DIR (kept: later runs reuse them).

Made with ``tests/sample_files.py``'s ``pdf()`` (fpdf2), so it runs in the app's venv.
Every file has different text (a seeded word salad of ~350 words per page), so no two
uploads share a hash. fpdf2 is slow: about 0.05–0.1 s per page.

Usage: .venv/bin/python bench/make_pdfs.py DIR PAGES COUNT [PREFIX]
Prints the paths, one a line.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from sample_files import pdf  # noqa: E402

WORDS = (
    "document processing extraction chunk index search status progress page upload server "
    "socket latency throughput history resume"
).split()


def make(directory: Path, pages: int, count: int, prefix: str) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = directory / f"{prefix}{pages}-{i:03d}.pdf"
        if not path.exists():
            rnd = random.Random(i * 1000 + pages)
            texts = [
                f"{prefix} doc {i} page {p}. " + " ".join(rnd.choice(WORDS) for _ in range(350))
                for p in range(pages)
            ]
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(pdf(texts))
            tmp.rename(path)
        paths.append(path)
    return paths


def main() -> None:
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    prefix = sys.argv[4] if len(sys.argv) == 5 else "p"
    for path in make(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), prefix):
        print(path)


if __name__ == "__main__":
    main()
