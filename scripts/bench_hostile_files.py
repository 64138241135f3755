"""How the per-file pipeline scales on generated worst cases (not a test).

    python scripts/bench_hostile_files.py                  # 128 KB .. 1 MB, this checkout
    python scripts/bench_hostile_files.py --compare main   # the same inputs through main's code too
    python scripts/bench_hostile_files.py --ref HEAD --compare main   # two commits, not the work tree
    python scripts/bench_hostile_files.py --cases headings-distinct,brackets-open --sizes 1024

Each case is a generator of a file that stresses one step: thousands of distinct
or nested headings, unmatched `[` or `<`, backtick runs of every length, deep
quotes and lists, MDX braces and tags, MyST directives, notebooks of many cells,
front matter with aliases, ... Every case is sized by doubling and run through
the whole per-file pipeline exactly as `docs-mcp index` runs it, without embedding:

    walk_corpus (stat, bounded read, decode, convert) -> parse_markdown
      -> chunk_document (the real tokenizer) -> code_units

in a worker process, one per implementation (this checkout; with --compare, a
`git archive` of REF too), fed the same cases in the same order, back to back.
A case that runs past --timeout is killed and its larger sizes are skipped; a
worker is limited to --memory-mb of address space, so a bomb is a MemoryError,
not a swapping machine.

Times are CPU seconds of the worker (all its threads: the tokenizer runs batches in
parallel), steadier than wall time on a machine shared with other work; the JSON
output has the wall time too. Reported per case: seconds at each size, the growth of the time per doubling of
the input (2.0 is linear, 4.0 quadratic), seconds per MB at the largest size (the
target is under 2 s/MB for any input) and the peak memory the case added.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import math
import os
import resource
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
KB = 1024


# -- the cases ----------------------------------------------------------------------------------


def _repeat(unit: Callable[[int], str], size: int) -> str:
    """`unit(i)` for i = 0, 1, ... until `size` bytes (about)."""
    parts, total, i = [], 0, 0
    while total < size:
        part = unit(i)
        parts.append(part)
        total += len(part.encode("utf-8"))
        i += 1
    return "".join(parts)


def _nested_json(size: int) -> str:
    depth = size // 2
    return "[" * depth + "]" * depth


def _notebook(size: int) -> str:
    cell = {"cell_type": "markdown", "metadata": {}, "source": ["## Step\n", "Run it.\n"]}
    code = {
        "cell_type": "code",
        "metadata": {},
        "outputs": [{"output_type": "stream", "name": "stdout", "text": ["ok\n"]}],
        "source": ["print('hello world from a cell')\n", "x = 1\n"],
    }
    per_pair = len(json.dumps(cell)) + len(json.dumps(code)) + 4
    cells = [c for _ in range(max(1, size // per_pair)) for c in (cell, code)]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def _alias_front_matter(size: int) -> str:
    lines = ["---", "title: Aliases", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 40):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{refs}]")
    lines.append("---")
    head = "\n".join(lines) + "\n"
    return head + _repeat(lambda i: f"Paragraph {i} of the page.\n\n", size - len(head))


# name -> (suffix, generator of about `size` bytes, what it stresses)
CASES: dict[str, tuple[str, Callable[[int], str], str]] = {
    "headings-distinct": (
        ".md",
        lambda n: _repeat(lambda i: f"## Heading {i}\n\nText {i}.\n\n", n),
        "every section its own heading",
    ),
    "headings-bare": (
        ".md",
        lambda n: _repeat(lambda i: f"## h{i}\n", n),
        "a heading on every line, nothing else (the issue's 100,000 per MB)",
    ),
    "headings-staircase": (
        ".md",
        lambda n: _repeat(lambda i: "#" * (1 + i % 6) + f" Level {i}\n", n),
        "headings nested 1..6 over and over, no text",
    ),
    "headings-deep-first": (
        ".md",
        lambda n: "# Top\n" + _repeat(lambda i: f"###### Deep {i}\n", n),
        "one h1 enclosing every other heading",
    ),
    "headings-same-text": (
        ".md",
        lambda n: _repeat(lambda i: "## Setup\n\nx\n\n", n),
        "one heading text repeated: anchors setup-1, setup-2 ...",
    ),
    "headings-colliding-anchors": (
        ".md",
        lambda n: _repeat(lambda i: f"## a-{i}\n", n // 2) + _repeat(lambda i: "## a\n", n // 2),
        "anchors a-1..a-N taken before N headings named a",
    ),
    "headings-long": (
        ".md",
        lambda n: "# " + "word " * (n // 5) + "\n\nText.\n",
        "one heading a whole file long",
    ),
    "brackets-open": (".md", lambda n: "[" * n, "unmatched [ (the issue's case)"),
    "brackets-words": (".md", lambda n: _repeat(lambda i: "[a ", n), "[ before words, never closed"),
    "links-unclosed": (".md", lambda n: _repeat(lambda i: "[a](b ", n), "link labels with unclosed targets"),
    "images-unclosed": (".md", lambda n: _repeat(lambda i: "![a](b ", n), "image links never closed"),
    "angles-open": (".md", lambda n: "<" * n, "unmatched <"),
    "angles-tags": (".md", lambda n: _repeat(lambda i: "<a b ", n), "HTML tags never closed"),
    "emphasis-runs": (".md", lambda n: _repeat(lambda i: "*a _b ", n), "emphasis openers never closed"),
    "backtick-runs": (
        ".md",
        lambda n: _repeat(lambda i: "`" * (1 + i % 400) + " x ", n),
        "backtick runs of every length, few closed",
    ),
    "quotes-deep": (".md", lambda n: ">" * (n - 2) + " x", "one blockquote nested n deep"),
    "lists-deep": (
        ".md",
        lambda n: _repeat(lambda i: "  " * min(i, 500) + "- item\n", n),
        "lists indented ever deeper",
    ),
    "list-markers": (".md", lambda n: "- " * (n // 2) + "x", "one line of list markers"),
    "table-wide": (
        ".md",
        lambda n: "|a" * (n // 4) + "|\n" + "|-" * (n // 4) + "|\n",
        "a table with many columns",
    ),
    "table-rows": (
        ".md",
        lambda n: "|a|b|\n|-|-|\n" + _repeat(lambda i: "|x|\n", n),
        "a table with many short rows",
    ),
    "link-definitions": (
        ".md",
        lambda n: _repeat(lambda i: f"[r{i}]: https://example.com/{i}\n", n),
        "reference link definitions",
    ),
    "html-nested": (".md", lambda n: _repeat(lambda i: "<div>\n", n), "HTML blocks opened, never closed"),
    "entities": (".md", lambda n: _repeat(lambda i: "&amp;&#123;&#x41; ", n), "character references"),
    "line-no-spaces": (".md", lambda n: "x" * n, "one word a whole file long"),
    "paragraph-no-sentences": (
        ".md",
        lambda n: _repeat(lambda i: f"word{i % 97} ", n),
        "one paragraph, no sentence end",
    ),
    "blank-line-runs": (
        ".md",
        lambda n: _repeat(lambda i: "x\n" + " \n" * 50 + "\t\n", n),
        "whitespace lines",
    ),
    "fences-many": (
        ".md",
        lambda n: _repeat(
            lambda i: f"## S{i}\n\nRun [it](x) <b>now</b>:\n\n```py\nprint({i})\nx = {i}\n```\n\n", n
        ),
        "a code example in every section",
    ),
    "fences-unclosed": (
        ".md",
        lambda n: _repeat(lambda i: "`" * (3 + i % 50) + "\n", n),
        "fence openers of rising length",
    ),
    "fence-short-lines": (
        ".md",
        lambda n: "```\n" + "x\n" * (n // 2) + "```\n",
        "one code block of 1-char lines",
    ),
    "paragraph-short-words": (".md", lambda n: "a " * (n // 2), "one paragraph of 1-letter words"),
    "fence-long-line": (".md", lambda n: "```\n" + "y" * n + "\n```\n", "one code line a whole file long"),
    "context-brackets": (
        ".md",
        lambda n: "[" * n + "\n```python\nprint('x is long enough')\n```\n",
        "a fence after a paragraph of [",
    ),
    "context-angles": (
        ".md",
        lambda n: "<" * n + "\n```python\nprint('x is long enough')\n```\n",
        "a fence after a paragraph of <",
    ),
    "front-matter-aliases": (".md", _alias_front_matter, "a YAML alias bomb in the front matter"),
    "front-matter-deep": (
        ".md",
        lambda n: "---\nx: " + "[" * (n // 2) + "]" * (n // 2) + "\n---\n# Deep\n",
        "front matter nested n deep",
    ),
    "front-matter-keys": (
        ".md",
        lambda n: "---\n" + _repeat(lambda i: f"k{i}: v{i}\n", n) + "---\n# Keys\n",
        "front matter with many keys",
    ),
    "mdx-braces": (".mdx", lambda n: "{" * n, "MDX expressions never closed"),
    "mdx-tags": (".mdx", lambda n: _repeat(lambda i: "<A b='", n), "JSX tags with unclosed quotes"),
    "mdx-nested": (".mdx", lambda n: _repeat(lambda i: "<A>{", n // 2) + "}</A>" * 10, "JSX nested deep"),
    "mdx-comments": (".mdx", lambda n: "<!--" * (n // 4), "HTML comments never closed"),
    "myst-colons": (".md", lambda n: _repeat(lambda i: ":::{note}\n", n), "MyST colon fences never closed"),
    "myst-fences": (
        ".md",
        lambda n: _repeat(lambda i: "```{note}\n", n),
        "MyST directive fences never closed",
    ),
    "myst-roles": (".md", lambda n: _repeat(lambda i: "{a}`b` ", n), "MyST roles on one line"),
    "notebook-cells": (".ipynb", _notebook, "a notebook of many small cells"),
    "notebook-nested": (".ipynb", _nested_json, "a notebook that is JSON nested n deep"),
}


# -- the worker: one per implementation ---------------------------------------------------------


def _reset_peak_memory() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5", encoding="utf-8")


def _peak_memory_mb() -> float:
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _current_memory_mb() -> float:
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def worker(memory_mb: int) -> None:
    """Read {"case", "bytes"} (or {"suffix", "data"}: a file's bytes in base64) lines on stdin,
    answer one JSON line each on stdout."""
    from importlib import resources

    from markdown_it import MarkdownIt
    from tokenizers import Tokenizer

    import docs_mcp
    from docs_mcp.chunking import chunk_document
    from docs_mcp.codeblocks import code_units

    try:
        from docs_mcp.sources.folder import SourceFile, walk_corpus
    except ImportError:  # --ref at a commit before sources/ (the folder walk was docs_mcp/corpus.py)
        from docs_mcp.corpus import SourceFile, walk_corpus  # type: ignore[no-redef]
    from docs_mcp.embed import MINILM_INT8
    from docs_mcp.markdown import parse_markdown

    # The tokenizer the indexer counts with (embed.FastEmbedder's counter), without the model.
    tokenizer_path = resources.files(MINILM_INT8.tokenizer_package).joinpath(MINILM_INT8.tokenizer_file)
    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    tokenizer.no_truncation()
    tokenizer.no_padding()

    def count_tokens(texts: list[str]) -> list[int]:
        return [len(e.ids) for e in tokenizer.encode_batch(list(texts), add_special_tokens=False)]

    reference_parser = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    print(json.dumps({"ready": str(Path(docs_mcp.__file__).parent)}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if "case" in request:
            suffix, generate, _ = CASES[request["case"]]
            data = generate(request["bytes"]).encode("utf-8")
        else:  # the bytes of a file, from tests/test_hostile_files.py
            suffix, data = request["suffix"], base64.b64decode(request["data"])
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / f"case{suffix}").write_bytes(data)
            del data
            if request.get("floor"):  # the same text through markdown-it-py alone, docs-mcp's options
                source = next(iter(walk_corpus(Path(folder))), None)
                floor: dict[str, object] = {}
                if isinstance(source, SourceFile):
                    mark = time.process_time()
                    reference_parser.parse(source.text)
                    floor["markdown_it_seconds"] = time.process_time() - mark
                print(json.dumps(floor), flush=True)
                continue
            _reset_peak_memory()
            before = _current_memory_mb()
            answer: dict[str, object] = {}
            stages: dict[str, float] = {}
            wall = time.perf_counter()
            try:
                mark = time.process_time()
                items = list(walk_corpus(Path(folder)))
                stages["read"] = time.process_time() - mark
                source = items[0] if items else None
                if isinstance(source, SourceFile):
                    mark = time.process_time()
                    doc = parse_markdown(source.text, source.doc_id, source.path)
                    stages["parse"] = time.process_time() - mark
                    mark = time.process_time()
                    chunks = chunk_document(doc, count_tokens, MINILM_INT8.max_tokens)
                    stages["chunk"] = time.process_time() - mark
                    mark = time.process_time()
                    examples = code_units(doc)
                    stages["code"] = time.process_time() - mark
                    answer["outcome"] = f"{len(chunks)} chunks, {len(examples)} examples"
                else:
                    answer["outcome"] = f"skipped: {getattr(source, 'reason', 'not found')}"
            except BaseException as error:  # a finding, reported: the bench goes on
                answer["outcome"] = f"raised {type(error).__name__}"
            answer["stages"] = stages
            answer["seconds"] = sum(stages.values())
            answer["wall_seconds"] = time.perf_counter() - wall
            answer["peak_mb"] = round(max(0.0, _peak_memory_mb() - before), 1)
        print(json.dumps(answer), flush=True)


class Worker:
    """A worker process for one implementation; restarted after a timeout."""

    def __init__(self, label: str, pythonpath: str | None, memory_mb: int) -> None:
        self.label, self.pythonpath, self.memory_mb = label, pythonpath, memory_mb
        self.process: subprocess.Popen[str] | None = None
        self.package = ""

    def _start(self) -> subprocess.Popen[str]:
        env = dict(os.environ)
        if self.pythonpath:
            env["PYTHONPATH"] = self.pythonpath
        process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker", "--memory-mb", str(self.memory_mb)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=tempfile.gettempdir(),  # not the repo: PYTHONPATH decides which docs_mcp is imported
        )
        ready = self._read(process, 120.0)
        if ready is None or "ready" not in ready:
            raise SystemExit(f"the {self.label} worker did not start")
        self.package = str(ready["ready"])
        return process

    @staticmethod
    def _read(process: subprocess.Popen[str], timeout: float) -> dict[str, object] | None:
        assert process.stdout is not None
        readable, _, _ = select.select([process.stdout], [], [], timeout)
        if not readable:
            return None
        line = process.stdout.readline()
        return json.loads(line) if line else None

    def run(self, case: str, size: int, timeout: float, floor: bool = False) -> dict[str, object]:
        """A generated case of about `size` bytes through the pipeline; with `floor`, through
        plain markdown-it-py instead, for reference."""
        return self._ask({"case": case, "bytes": size, "floor": floor}, timeout)

    def run_file(self, data: bytes, suffix: str, timeout: float) -> dict[str, object]:
        """A file of these bytes (named case{suffix}) through the pipeline."""
        return self._ask({"suffix": suffix, "data": base64.b64encode(data).decode("ascii")}, timeout)

    def _ask(self, request: dict[str, object], timeout: float) -> dict[str, object]:
        if self.process is None:
            self.process = self._start()
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer = self._read(self.process, timeout)
        if answer is None:
            died = self.process.poll()
            self.stop()
            if died is not None:
                return {"outcome": f"worker died (exit code {died})", "seconds": None}
            return {"outcome": f"over {timeout:g} s (killed)", "seconds": None}
        return answer

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=30)
            self.process = None


@contextlib.contextmanager
def checkout(ref: str) -> Iterator[str]:
    """`docs_mcp/` as of `ref`, in a temporary folder for PYTHONPATH."""
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as folder:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", ref, "docs_mcp"], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
        yield folder


# -- the report ---------------------------------------------------------------------------------


@dataclass
class Row:
    label: str
    case: str
    seconds: dict[int, float | None] = field(default_factory=dict)  # KB -> CPU s (None: timed out)
    wall_seconds: dict[int, float | None] = field(default_factory=dict)
    markdown_it_seconds: dict[int, float] = field(default_factory=dict)  # the floor, see the worker
    outcome: str = ""
    peak_mb: float = 0.0
    slowest_stage: str = ""

    def add(self, kb: int, answer: dict[str, object]) -> None:
        self.seconds[kb] = _number(answer.get("seconds"))
        self.wall_seconds[kb] = _number(answer.get("wall_seconds"))
        self.outcome = str(answer.get("outcome", ""))
        self.peak_mb = max(self.peak_mb, _number(answer.get("peak_mb")) or 0.0)
        stages = answer.get("stages")
        if isinstance(stages, dict) and stages:
            self.slowest_stage = max(stages, key=lambda stage: stages[stage])

    def add_floor(self, kb: int, answer: dict[str, object]) -> None:
        floor = _number(answer.get("markdown_it_seconds"))
        if floor is not None:
            self.markdown_it_seconds[kb] = floor


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def growth(row: Row) -> str:
    """Time ratio per doubling of the input, between the two largest measured sizes."""
    measured = [(kb, s) for kb, s in sorted(row.seconds.items()) if s is not None]
    if len(measured) < 2:
        return "-"
    (small_kb, small), (large_kb, large) = measured[-2], measured[-1]
    if small < 0.02:
        return "(fast)"
    return f"{(large / small) ** (1 / math.log2(large_kb / small_kb)):.2f}"


def per_mb(values: dict[int, float | None] | dict[int, float], timeout: float) -> str:
    if not values:
        return "-"
    largest = max(values)
    value = values[largest]
    if value is None:
        return f">{timeout / (largest / 1024):.1f}"
    return f"{value / (largest / 1024):.2f}"


def _seconds_cell(row: Row, kb: int) -> str:
    if kb not in row.seconds:
        return "-"
    value = row.seconds[kb]
    return "TIMEOUT" if value is None else f"{value:.2f}"


def print_table(rows: list[Row], sizes: list[int], timeout: float) -> None:
    header = [
        "case",
        "impl",
        *[f"{kb} KB" for kb in sizes],
        "x/doubling",
        "s/MB",
        "md-it s/MB",
        "peak MB",
        "slowest",
        "outcome",
    ]
    lines = [header]
    for row in rows:
        lines.append(
            [
                row.case,
                row.label,
                *[_seconds_cell(row, kb) for kb in sizes],
                growth(row),
                per_mb(row.seconds, timeout),
                per_mb(row.markdown_it_seconds, timeout),
                f"{row.peak_mb:.0f}",
                row.slowest_stage,
                row.outcome[:40],
            ]
        )
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    for line in lines:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare", metavar="REF", help="also run the cases through docs_mcp/ as of REF")
    parser.add_argument("--ref", help="measure docs_mcp/ as of REF instead of the working tree")
    parser.add_argument("--cases", help="comma-separated case names (default: all)")
    parser.add_argument("--sizes", default="128,256,512,1024", help="input sizes in KB, doubling")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per case and size")
    parser.add_argument("--memory-mb", type=int, default=3072, help="address-space limit of a worker")
    parser.add_argument("--json", type=Path, help="also write every measurement to this file")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.memory_mb)
        return
    names = args.cases.split(",") if args.cases else list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        raise SystemExit(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(CASES)}")
    sizes = [int(s) for s in args.sizes.split(",")]

    with contextlib.ExitStack() as stack:
        this = (args.ref, stack.enter_context(checkout(args.ref))) if args.ref else ("this", None)
        workers = [Worker(*this, args.memory_mb)]
        if args.compare:
            workers.insert(
                0, Worker(args.compare, stack.enter_context(checkout(args.compare)), args.memory_mb)
            )
        for w in workers:
            stack.callback(w.stop)
        rows: list[Row] = []
        for name in names:
            for w in workers:
                row = Row(w.label, name)
                for kb in sizes:
                    row.add(kb, w.run(name, kb * KB, args.timeout))
                    if w is workers[-1]:  # the same text through the same markdown-it: measured once
                        row.add_floor(kb, w.run(name, kb * KB, args.timeout, floor=True))
                    if row.seconds[kb] is None:
                        break  # larger sizes would only time out too
                rows.append(row)
                print_table([row], sizes, args.timeout)
        print("\nimplementations: " + ", ".join(f"{w.label} = {w.package}" for w in workers))
        print()
        print_table(rows, sizes, args.timeout)
        if args.json:
            args.json.write_text(
                json.dumps([row.__dict__ for row in rows], indent=1) + "\n", encoding="utf-8"
            )


if __name__ == "__main__":
    main()
