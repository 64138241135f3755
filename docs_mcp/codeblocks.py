"""Pure: ParsedDoc -> code examples, each with its language, section and the prose that introduces it.

A code example is one fenced code block, indexed on its own next to the prose
chunks, so `search_docs(kind="code")` can answer "show me how to call X" with a
runnable snippet instead of a paragraph about it. Each unit keeps what an
assistant needs to use and cite it: the code as written, its language
(normalised, so `py` and `python3` both filter as `python`), the heading path
and anchor of the section it sits in (`doc#anchor` opens with get_doc), the
line of its opening fence, and the sentence or two right before it, which
usually says what the code does ("Enqueue a job from Python:").

Not every fence is an example. Left out:
- outputs (info `output`, `text output`, `stderr`...): notebook cells and docs
  show what a command printed; that is a result to read, not code to run;
- diagrams (mermaid, plantuml, graphviz...): they render as pictures;
- trivially short fences (one non-empty line under 20 characters, such as
  `pip install x` or `42`): too little to search on, and the prose chunk that
  holds them already finds them. A one-line command of 20 characters or more is
  kept: one line is often the whole example.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

from docs_mcp.models import Fence, ParsedDoc

MIN_CODE_CHARS = 20
MIN_CODE_LINES = 2
CONTEXT_CHARS = 300
# Of an example's code, what the model and the keyword index see: the model reads 256 tokens
# (about 1,000 characters); the prose chunks hold all of it. A 5 MB fence is not 5 MB to tokenize.
SEARCH_CODE_CHARS = 8000
CONTEXT_WINDOW_CHARS = 10 * CONTEXT_CHARS  # of the text before a fence, room for link targets and tags

# Info strings (after normalisation) that are never code examples.
SKIPPED_LANGUAGES = frozenset(
    {
        "output",
        "text-output",
        "stdout",
        "stderr",
        "result",
        "mermaid",
        "plantuml",
        "puml",
        "graphviz",
        "dot",
        "diagram",
        "d2",
        "ditaa",
        "svgbob",
        "math",
        "latex-math",
    }
)

_ALIASES = {
    # Python and its sessions
    "py": "python",
    "py3": "python",
    "python3": "python",
    "python2": "python",
    "pycon": "python",
    "pyi": "python",
    "ipython": "python",
    "ipython3": "python",
    "ipython-input": "python",
    # Shells: one name, since people ask for "shell commands" whatever the fence says
    "sh": "bash",
    "shell": "bash",
    "zsh": "bash",
    "ksh": "bash",
    "console": "bash",
    "terminal": "bash",
    "shell-session": "bash",
    "shellsession": "bash",
    "bash-session": "bash",
    "sh-session": "bash",
    "ps1": "powershell",
    "pwsh": "powershell",
    "posh": "powershell",
    "bat": "batch",
    "cmd": "batch",
    "dosbatch": "batch",
    # The web
    "js": "javascript",
    "node": "javascript",
    "nodejs": "javascript",
    "mjs": "javascript",
    "cjs": "javascript",
    "ts": "typescript",
    "mts": "typescript",
    "cts": "typescript",
    "htm": "html",
    "xhtml": "html",
    # Data and configuration
    "yml": "yaml",
    "jsonc": "json",
    "json-with-comments": "json",
    "cfg": "ini",
    "conf": "ini",
    "dosini": "ini",
    "docker": "dockerfile",
    "containerfile": "dockerfile",
    "tf": "hcl",
    "terraform": "hcl",
    "make": "makefile",
    "mk": "makefile",
    "md": "markdown",
    "mdx": "markdown",
    "patch": "diff",
    "txt": "text",
    "plain": "text",
    "plaintext": "text",
    "none": "text",
    "no-highlight": "text",
    "nohighlight": "text",
    # Compiled languages
    "golang": "go",
    "rs": "rust",
    "rb": "ruby",
    "c++": "cpp",
    "cc": "cpp",
    "cxx": "cpp",
    "hpp": "cpp",
    "h++": "cpp",
    "cs": "csharp",
    "c#": "csharp",
    "kt": "kotlin",
    "kts": "kotlin",
    "objective-c": "objc",
    "objectivec": "objc",
    "sc": "scala",
    "psql": "sql",
    "postgresql": "sql",
    "mysql": "sql",
}

# MyST and Sphinx fences name a directive first, then the language: ```{code-cell} ipython3
_DIRECTIVES = frozenset({"{code-cell}", "{code-block}", "{code}", "{sourcecode}", "{literalinclude}"})
# Link text and tags, each scanned only up to the next opening bracket: a paragraph of unclosed
# `[` or `<` costs one pass, not one pass per bracket.
_LINK = re.compile(r"!?\[([^\[\]]*)\]\([^()]*\)")
_MARKUP = re.compile(r"`+|\*+|<[^<>]+>")  # not "_": it belongs to identifiers
_LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+", re.MULTILINE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class CodeUnit:
    id: str  # "{doc_id}#{anchor}~code-{n}": n counts the examples of that section, from 1
    doc_id: str
    anchor: str  # "" before the first heading
    heading_path: tuple[str, ...]
    title: str
    language: str  # normalised; "" when the fence names none
    code: str
    context: str  # the prose right before the fence, trimmed; may be ""
    line: int  # 1-based line of the opening fence in the source file

    @property
    def citation(self) -> str:
        """What get_doc opens: the section the example sits in."""
        return f"{self.doc_id}#{self.anchor}" if self.anchor else self.doc_id

    @property
    def embedding_text(self) -> str:
        """What the model and the keyword index see: where it is, what it is for, the code."""
        trail = " > ".join(h for h in self.heading_path if h != self.title)
        head = f"{self.title}\n{trail}" if trail else self.title
        code = self.code[:SEARCH_CODE_CHARS]
        parts = [head, self.context, f"{self.language} code:\n{code}" if self.language else code]
        return "\n\n".join(p for p in parts if p)


def normalize_language(info: str) -> str:
    """The language an info string names, in one canonical lower-case spelling; "" for none.

    Takes the first word (```python title="app.py"), skips a MyST directive
    ({code-cell} ipython3), drops attribute and highlight suffixes (js{1,3},
    {.python}), and maps common aliases (py, python3 -> python; sh, shell,
    console -> bash; js -> javascript; yml -> yaml ...). Unknown names are kept.
    """
    words = info.strip().split()
    if words and words[0].lower() in _DIRECTIVES:
        words = words[1:]
    if not words:
        return ""
    word = words[0].lower().lstrip("{.").rstrip("}")
    word = re.split(r"[{,;:]", word, maxsplit=1)[0].removeprefix("language-")
    return _ALIASES.get(word, word)


def is_example(fence: Fence) -> bool:
    """False for outputs, diagrams and trivially short fences (see the module docstring)."""
    words = fence.info.lower().split()
    if normalize_language(fence.info) in SKIPPED_LANGUAGES or "output" in words[1:2]:
        return False
    lines = [line for line in fence.code.splitlines() if line.strip()]
    return len(lines) >= MIN_CODE_LINES or len(fence.code.strip()) >= MIN_CODE_CHARS


def code_units(doc: ParsedDoc) -> list[CodeUnit]:
    """The code examples of `doc`, in page order."""
    units: list[CodeUnit] = []
    per_section: dict[str, int] = {}
    previous_end = doc.body_start
    body_starts = [heading.body_start for heading in doc.headings]  # in page order
    for fence in doc.fences:
        # The innermost heading whose own text holds the fence: the last one starting before it.
        position = bisect_right(body_starts, fence.start)
        heading = doc.headings[position - 1] if position else None
        section_start = heading.body_start if heading else doc.body_start
        context = _context(doc.source[max(section_start, previous_end) : fence.start])
        previous_end = fence.end
        if not is_example(fence):
            continue
        anchor = heading.anchor if heading else ""
        per_section[anchor] = per_section.get(anchor, 0) + 1
        units.append(
            CodeUnit(
                id=f"{doc.id}#{anchor}~code-{per_section[anchor]}",
                doc_id=doc.id,
                anchor=anchor,
                heading_path=doc.heading_path(heading) if heading else (),
                title=doc.title,
                language=normalize_language(fence.info),
                code=fence.code.rstrip("\n"),
                context=context,
                line=fence.line,
            )
        )
    return units


def _context(before: str) -> str:
    """The last paragraph before a fence, as plain text, cut to its last sentences that fit."""
    # Only the end of the text can become a 300-character context: the rest is not looked at.
    before = before[-CONTEXT_WINDOW_CHARS:]
    paragraphs = [p for p in re.split(r"\n\s*\n", before) if p.strip()]
    if not paragraphs:
        return ""
    text = _LIST_MARKER.sub("", paragraphs[-1])
    text = re.sub(r"^\s*>\s?", "", text, flags=re.MULTILINE)  # a fence quoted with its intro
    text = " ".join(_MARKUP.sub("", _LINK.sub(r"\1", text)).split())
    if len(text) <= CONTEXT_CHARS:
        return text
    kept = ""
    for sentence in reversed(_SENTENCE.split(text)):
        candidate = f"{sentence} {kept}".strip()
        if len(candidate) > CONTEXT_CHARS:
            break
        kept = candidate
    return kept or "…" + text[-CONTEXT_CHARS:].partition(" ")[2]
