"""Pure: a source file's text and suffix -> the Markdown docs-mcp indexes.

    .md .markdown   as written, byte for byte; only a page that uses MyST syntax (a
                    ```{directive} or :::{directive} fence, or a {role}`text` role) has
                    those constructs rewritten as plain Markdown
    .mdx            import/export lines dropped, JSX components unwrapped to their text,
                    {expressions} removed, Docusaurus :::admonitions kept with their label
    .ipynb          Markdown cells as prose, code cells as fences in the kernel's language,
                    short text outputs as fences tagged `output`; images and HTML dropped

Code fences are never rewritten. Nothing here touches the disk: sources/folder.py reads
the file and calls `to_markdown`.
"""

from __future__ import annotations

import json
import re
import textwrap
from typing import Any

from docs_mcp.errors import SourceFormatError

MARKDOWN_SUFFIXES = (".md", ".markdown")
# Every suffix the corpus walk reads, the watcher watches and `doctor` counts.
SOURCE_SUFFIXES = (*MARKDOWN_SUFFIXES, ".mdx", ".ipynb")

# A notebook's text output is kept only while it stays short: it shows what the code
# prints, it is not documentation.
OUTPUT_MAX_LINES = 20
OUTPUT_MAX_CHARS = 1500
OUTPUT_TRUNCATED = "… (output truncated)"

_FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n.*?\n---[ \t]*(?:\n|\Z)", re.S)


def suffix_of(path: str) -> str:
    """The lower-case suffix `to_markdown` is keyed on, '' when it is not a source suffix."""
    lowered = path.lower()
    return next((s for s in SOURCE_SUFFIXES if lowered.endswith(s)), "")


def to_markdown(text: str, suffix: str) -> str:
    """The Markdown for a source's text; raises SourceFormatError when it cannot be read."""
    suffix = suffix.lower()
    if suffix == ".ipynb":
        return notebook_to_markdown(text)
    if suffix == ".mdx":
        return mdx_to_markdown(text)
    return myst_to_markdown(text) if uses_myst(text) else text


# -- shared: fences -----------------------------------------------------------------------


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and set(stripped) == {fence[0]} and len(stripped) >= len(fence)


def _segments(lines: list[str], max_indent: int | None = 3) -> list[tuple[bool, list[str]]]:
    """Lines split into runs of prose (False) and whole code fences (True), in order."""
    segments: list[tuple[bool, list[str]]] = []
    prose: list[str] = []
    i = 0
    while i < len(lines):
        match = _FENCE_OPEN.match(lines[i])
        indent_ok = match is not None and (max_indent is None or len(match["indent"]) <= max_indent)
        if match is None or not indent_ok or (match["fence"][0] == "`" and "`" in match["info"]):
            prose.append(lines[i])
            i += 1
            continue
        end = i + 1
        while end < len(lines) and not _closes(lines[end], match["fence"]):
            end += 1
        if prose:
            segments.append((False, prose))
            prose = []
        segments.append((True, lines[i : end + 1]))
        i = end + 1
    if prose:
        segments.append((False, prose))
    return segments


def _fence_for(code: str, char: str = "`") -> str:
    longest = max((len(run) for run in re.findall(f"{re.escape(char)}+", code)), default=0)
    return char * max(3, longest + 1)


def _split_front_matter(text: str) -> tuple[str, str]:
    match = _FRONT_MATTER.match(text)
    return (text[: match.end()], text[match.end() :]) if match else ("", text)


# -- notebooks ----------------------------------------------------------------------------


def notebook_to_markdown(text: str) -> str:
    try:
        notebook = json.loads(text)
    except json.JSONDecodeError as error:
        raise SourceFormatError(
            f"not a valid notebook: JSON error at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:
        raise SourceFormatError("not a valid notebook: JSON nested too deeply") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        if isinstance(notebook, dict) and "worksheets" in notebook:
            raise SourceFormatError(
                "an nbformat 3 notebook; convert it with `jupyter nbconvert --to notebook --nbformat 4`"
            )
        raise SourceFormatError("not a Jupyter notebook (no list of cells)")
    language = _kernel_language(notebook.get("metadata"))
    parts = []
    for cell in notebook["cells"]:
        if not isinstance(cell, dict):
            continue
        source = _joined(cell.get("source")).strip("\n")
        if cell.get("cell_type") == "markdown" and source.strip():
            parts.append(source)
        elif cell.get("cell_type") == "code" and source.strip():
            fence = _fence_for(source)
            parts.append(f"{fence}{language}\n{source}\n{fence}")
            output = _text_output(cell.get("outputs"))
            if output:
                fence = _fence_for(output)
                parts.append(f"{fence}output\n{output}\n{fence}")
    markdown = "\n\n".join(parts) + "\n" if parts else ""
    return markdown.replace("\r\n", "\n").replace("\r", "\n")


def _kernel_language(metadata: Any) -> str:
    metadata = metadata if isinstance(metadata, dict) else {}
    for key, field in (("kernelspec", "language"), ("language_info", "name")):
        section = metadata.get(key)
        if isinstance(section, dict) and isinstance(section.get(field), str) and section[field].strip():
            return section[field].strip().lower()
    return "python"


def _joined(value: Any) -> str:
    if isinstance(value, str):
        return value.replace("\r\n", "\n")
    if isinstance(value, list):
        return "".join(v for v in value if isinstance(v, str)).replace("\r\n", "\n")
    return ""


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _text_output(outputs: Any) -> str:
    """Stream text and text/plain results, capped; images, HTML and errors are dropped."""
    texts = []
    for output in outputs if isinstance(outputs, list) else []:
        if not isinstance(output, dict):
            continue
        if output.get("output_type") == "stream":
            texts.append(_joined(output.get("text")))
        elif output.get("output_type") == "execute_result":
            data = output.get("data")
            if isinstance(data, dict):
                texts.append(_joined(data.get("text/plain")))
    text = _ANSI.sub("", "".join(t if t.endswith("\n") else t + "\n" for t in texts if t))
    # A progress bar rewrites its line with carriage returns: keep what it showed last.
    text = "\n".join(line.rstrip("\r").rsplit("\r", 1)[-1] for line in text.split("\n")).strip("\n")
    if not text.strip():
        return ""
    lines = text.split("\n")
    capped = "\n".join(lines[:OUTPUT_MAX_LINES])[:OUTPUT_MAX_CHARS]
    if capped != text:
        capped = (
            capped[: capped.rfind("\n")] if "\n" in capped and len(capped) == OUTPUT_MAX_CHARS else capped
        )
        return f"{capped}\n{OUTPUT_TRUNCATED}"
    return text


# -- MDX ----------------------------------------------------------------------------------

_ESM = re.compile(r"^(?:import|export)\s")
_ADMONITION_OPEN = re.compile(r"^[ \t]*(?P<colons>:{3,})(?P<kind>[A-Za-z][\w-]*)(?P<title>.*)$")
_ADMONITION_CLOSE = re.compile(r"^[ \t]*(?P<colons>:{3,})[ \t]*$")


def mdx_to_markdown(text: str) -> str:
    front_matter, body = _split_front_matter(text)
    out: list[str] = []
    # MDX has no indented code blocks: a fence indented inside a component is still a fence.
    for is_code, lines in _segments(body.split("\n"), max_indent=None):
        if is_code:
            indent = len(_FENCE_OPEN.match(lines[0])["indent"])  # type: ignore[index]
            out.extend(_dedent_line(line, indent) for line in lines)
        else:
            out.extend(_mdx_prose(lines))
    return front_matter + _tidy("\n".join(out))


def _dedent_line(line: str, indent: int) -> str:
    spaces = len(line) - len(line.lstrip(" \t"))
    return line[min(spaces, indent) :]


def _mdx_prose(lines: list[str]) -> list[str]:
    kept: list[str] = []
    in_esm = False
    for line in lines:
        if in_esm or (_ESM.match(line) and (not kept or not kept[-1].strip())):
            in_esm = bool(line.strip())  # an import/export block runs to the next blank line
            continue
        kept.append(line)
    prose = _admonitions(_drop_html_comments("\n".join(kept)))
    prose = _unwrap_jsx(prose)
    # Text that sat indented inside a component would read as an indented code block.
    return [textwrap.dedent(block) for block in re.split(r"(?<=\n)(?=[ \t]*\n)", prose)]


def _drop_html_comments(prose: str) -> str:
    """`<!-- truncate -->` and other HTML comments (MDX 1 allowed them) are not text."""
    parts, i = [], 0
    while (start := prose.find("<!--", i)) >= 0 and (end := prose.find("-->", start + 4)) >= 0:
        parts.append(prose[i:start])
        i = end + 3
    return "".join(parts) + prose[i:]


def _admonitions(prose: str) -> str:
    lines = []
    for line in prose.split("\n"):
        opened = _ADMONITION_OPEN.match(line)
        if opened and not opened["kind"].startswith("{"):
            title = opened["title"].strip()
            if title.startswith("[") and title.endswith("]"):
                title = title[1:-1].strip()  # Docusaurus 3: :::note[Title]
            label = opened["kind"].capitalize()
            lines += ["", f"**{label}: {title}**" if title else f"**{label}:**", ""]
        elif _ADMONITION_CLOSE.match(line):
            lines.append("")
        else:
            lines.append(line)
    return "\n".join(lines)


_TAG_START = re.compile(r"<(?P<close>/)?(?P<name>[A-Za-z][\w.:-]*)?(?=[\s/>])")
_LABEL = re.compile(r"""\b(?:label|title)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def _unwrap_jsx(prose: str) -> str:
    """Tags removed (their text kept), {expressions} removed, inline code left alone."""
    spans = code_spans(prose)
    pairs = _jsx_pairs(prose, spans)
    out: list[str] = []
    i = 0
    while i < len(prose):
        special = _JSX_SPECIAL.search(prose, i)
        if special is None:
            out.append(prose[i:])
            break
        if special.start() > i:
            out.append(prose[i : special.start()])
            i = special.start()
        char = prose[i]
        if i in spans:
            out.append(prose[i : spans[i]])
            i = spans[i]
        elif char == "\\":
            out.append(prose[i : i + 2])
            i += 2
        elif prose.startswith(("<>", "</>"), i):  # a fragment: only its children matter
            i += 2 if prose.startswith("<>", i) else 3
        elif i in pairs and char == "<":
            tag = _TAG_START.match(prose, i)
            attributes = prose[tag.end() : pairs[i]] if tag else ""
            label = _LABEL.search(attributes) if tag and not tag["close"] else None
            i = pairs[i] + 1
            if label and not attributes.rstrip().endswith("/"):
                # A tab's or a details' label: a paragraph of its own when the tag ends its line.
                line_end = prose.find("\n", i)
                own_line = not prose[i : line_end if line_end >= 0 else len(prose)].strip()
                out.append(f"**{label[1] or label[2]}**" + ("\n" if own_line else " "))
            else:
                _close_gap(out, prose, i)
        elif i in pairs and char == "{":
            text = _expression_text(prose[i + 1 : pairs[i]])
            i = pairs[i] + 1
            if text:
                out.append(text)
            else:
                _close_gap(out, prose, i)
        else:
            out.append(char)
            i += 1
    return "".join(out)


_JSX_SPECIAL = re.compile(r"[`\\<{]")
_PAIR_SPECIAL = re.compile(r"""[`\\<{}>"']""")


def _jsx_pairs(prose: str, spans: dict[int, int]) -> dict[int, int]:
    """Where each `{` and each tag's `<` closes, in one pass: braces nest, quoted strings in
    expressions and attributes are skipped, inline code is opaque. Unclosed ones are left out."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    unclosed_quotes: set[str] = set()
    i = 0
    while (special := _PAIR_SPECIAL.search(prose, i)) is not None:
        i = special.start()
        char = prose[i]
        if i in spans:
            i = spans[i]
            continue
        if char == "\\":
            i += 2
            continue
        if (
            char in "\"'"
            and stack
            and char not in unclosed_quotes
            and (prose[stack[-1]] == "{" or prose[i - 1] in "= ")
        ):
            end = prose.find(char, i + 1)
            if end >= 0:
                i = end + 1
                continue
            unclosed_quotes.add(char)  # none further on: no need to look again
        if char == "{" or (char == "<" and (tag := _TAG_START.match(prose, i)) and tag["name"]):
            stack.append(i)
        elif stack and prose[stack[-1]] + char in ("{}", "<>"):
            pairs[stack.pop()] = i
        i += 1
    return pairs


_BACKTICKS = re.compile(r"`+")


def code_spans(text: str) -> dict[int, int]:
    """Start -> end (exclusive) of each inline code span: a run of backticks closed by the next
    run of the same length, as CommonMark pairs them. Linear in the text, whatever it holds."""
    runs = [(m.start(), m.end()) for m in _BACKTICKS.finditer(text)]
    following: dict[int, int] = {}
    last_of_length: dict[int, int] = {}
    for k in range(len(runs) - 1, -1, -1):
        length = runs[k][1] - runs[k][0]
        if length in last_of_length:
            following[k] = last_of_length[length]
        last_of_length[length] = k
    spans: dict[int, int] = {}
    k = 0
    while k < len(runs):
        if k in following:
            spans[runs[k][0]] = runs[following[k]][1]
            k = following[k] + 1
        else:
            k += 1
    return spans


def _close_gap(out: list[str], prose: str, i: int) -> None:
    """After removing something between two spaces (`a <br/> b`), keep one space, not two."""
    if out and out[-1].endswith(" ") and (i >= len(prose) or prose[i] in " \t.,;:!?)"):
        out[-1] = out[-1][:-1]


def _expression_text(expression: str) -> str:
    """A string literal's text (`{' '}`, `{"text"}`); any other expression is removed."""
    literal = re.fullmatch(r"""\s*(?:"([^"]*)"|'([^']*)'|`([^`$]*)`)\s*""", expression)
    return next((g for g in literal.groups() if g is not None), "") if literal else ""


def _tidy(text: str) -> str:
    """At most one blank line in a row where tags and imports were taken out, outside fences."""
    out: list[str] = []
    for is_code, lines in _segments(text.split("\n")):
        for line in lines:
            blank = not line.strip()
            if not is_code and blank and (not out or not out[-1].strip()):
                continue
            out.append("" if blank and not is_code else line)
    return "\n".join(out).lstrip("\n")


# -- MyST ---------------------------------------------------------------------------------

_DIRECTIVE = re.compile(r"^\{(?P<name>[\w:.+-]+)\}[ \t]*(?P<argument>.*)$")
_COLON_OPEN = re.compile(r"^ {0,3}(?P<fence>:{3,})\{(?P<name>[\w:.+-]+)\}[ \t]*(?P<argument>.*)$")
_ROLE_NAME = re.compile(r"\{(?P<role>[\w:.+-]+)\}$")
MAX_NESTING = 16
_TARGET = re.compile(r"^ {0,3}\([\w:.+-]+\)=[ \t]*$")

ADMONITIONS = frozenset(
    [
        "note",
        "warning",
        "tip",
        "important",
        "seealso",
        "hint",
        "caution",
        "attention",
        "danger",
        "error",
        "admonition",
        "versionadded",
        "versionchanged",
        "deprecated",
        "dropdown",
    ]
)
CODE_DIRECTIVES = frozenset({"code-block", "code", "code-cell", "sourcecode", "ipython"})
DROPPED_DIRECTIVES = frozenset(
    [
        "toctree",
        "contents",
        "tableofcontents",
        "include",
        "literalinclude",
        "index",
        "image",
        "raw",
        "eval-rst",
        "only",
        "bibliography",
        "automodule",
        "autoclass",
        "autofunction",
        "automethod",
        "autosummary",
        "autodata",
    ]
)


def uses_myst(text: str) -> bool:
    """True when the page, outside code fences, has a MyST directive fence or role."""
    for is_code, lines in _segments(text.split("\n")):
        if is_code:
            info = _FENCE_OPEN.match(lines[0])["info"].strip()  # type: ignore[index]
            if _DIRECTIVE.match(info):
                return True
        elif any(_COLON_OPEN.match(line) or _has_role(line) for line in lines):
            return True
    return False


def _has_role(line: str) -> bool:
    return bool(_roles(line))


def _roles(line: str) -> list[tuple[int, int, str]]:
    """(start, end, text) of each {role}`text` in a line; inline code stays what it is."""
    if "}`" not in line:
        return []
    found: list[tuple[int, int, str]] = []
    for start, end in code_spans(line).items():
        role = _ROLE_NAME.search(line, max(0, start - 64), start)
        if role and (not found or role.start() >= found[-1][1]):
            ticks = _tick_count(line, start)
            found.append((role.start(), end, _role_text(role["role"], line[start + ticks : end - ticks])))
    return found


def _tick_count(line: str, start: int) -> int:
    run = _BACKTICKS.match(line, start)
    return len(run[0]) if run else 0


def _replace_roles(line: str) -> str:
    parts, last = [], 0
    for start, end, text in _roles(line):
        parts += [line[last:start], text]
        last = end
    return "".join(parts) + line[last:] if parts else line


def myst_to_markdown(text: str) -> str:
    front_matter, body = _split_front_matter(text)
    return front_matter + _tidy(_myst_body(body))


def _code_fence(line: str) -> re.Match[str] | None:
    match = _FENCE_OPEN.match(line)
    if match is None or len(match["indent"]) > 3 or (match["fence"][0] == "`" and "`" in match["info"]):
        return None
    return match


def _fence_end(lines: list[str], start: int, fence: str) -> int:
    """Index of the line closing the fence opened at `start` (the last line when unclosed)."""
    end = start + 1
    while end < len(lines) and not _closes(lines[end], fence):
        end += 1
    return min(end, len(lines) - 1)


def _myst_body(body: str, depth: int = 0) -> str:
    if depth > MAX_NESTING:
        return body  # deeper than any real page: left as written rather than recursed into
    lines = body.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if fence := _code_fence(line):
            end = _fence_end(lines, i, fence["fence"])
            directive = _DIRECTIVE.match(fence["info"].strip())
            if directive:
                closed = end > i and _closes(lines[end], fence["fence"])
                inner = lines[i + 1 : end] if closed else lines[i + 1 : end + 1]
                out.extend(_directive(directive["name"], directive["argument"].strip(), inner, depth))
            else:
                out.extend(lines[i : end + 1])
            i = end + 1
        elif opened := _COLON_OPEN.match(line):
            end = _colon_end(lines, i, opened["fence"])
            out.extend(_directive(opened["name"], opened["argument"].strip(), lines[i + 1 : end], depth))
            i = end + 1
        else:
            if not _TARGET.match(line) and not line.startswith("%"):
                out.append(_replace_roles(line))
            i += 1
    return "\n".join(out)


def _colon_end(lines: list[str], start: int, colons: str) -> int:
    """The `:::` line closing a colon fence, stepping over code fences and nested ones."""
    depth, i = 0, start + 1
    while i < len(lines):
        if fence := _code_fence(lines[i]):
            i = _fence_end(lines, i, fence["fence"]) + 1
            continue
        nested = _COLON_OPEN.match(lines[i])
        if nested and len(nested["fence"]) == len(colons):
            depth += 1
        elif re.fullmatch(r" {0,3}:{3,}[ \t]*", lines[i]) and len(lines[i].strip()) >= len(colons):
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return len(lines)


def _directive(name: str, argument: str, lines: list[str], depth: int) -> list[str]:
    options, body = _directive_options(lines)
    kind = name.split(":")[-1].lower()
    if kind in CODE_DIRECTIVES:
        code = "\n".join(body).strip("\n")
        language = argument.split()[0] if argument else str(options.get("language", ""))
        if language.lower().startswith("ipython"):
            language = "python"  # Jupyter Book's {code-cell} ipython3: the same tag notebooks get
        fence = _fence_for(code)
        return ["", f"{fence}{language}", code, fence, ""]
    if kind in DROPPED_DIRECTIVES:
        return []
    if kind == "math":
        math = "\n".join(body).strip("\n")
        return ["", "```math", math, "```", ""]
    inner = _myst_body("\n".join(body), depth + 1).strip("\n")
    if kind in ADMONITIONS:
        label = kind.capitalize() if kind != "seealso" else "See also"
        if kind == "admonition" or kind == "dropdown":
            heading = f"**{argument}**" if argument else ""
        else:
            heading = f"**{label}: {argument}**" if argument else f"**{label}:**"
    else:
        # Anything else (tabs, cards, figures, topics) keeps its title and its text.
        heading = f"**{argument}**" if argument and kind not in ("figure",) else ""
    return ["", *([heading, ""] if heading else []), *([inner] if inner else []), ""]


def _directive_options(lines: list[str]) -> tuple[dict[str, str], list[str]]:
    """`:key: value` lines or a `---` YAML block at the top of a directive, and the rest."""
    options: dict[str, str] = {}
    i = 0
    if lines and lines[0].strip() == "---":
        end = next((j for j in range(1, len(lines)) if lines[j].strip() == "---"), -1)
        if end > 0:
            for line in lines[1:end]:
                key, _, value = line.partition(":")
                options[key.strip()] = value.strip()
            return options, lines[end + 1 :]
    while i < len(lines) and (option := re.match(r"^\s*:([\w-]+):\s*(.*)$", lines[i])):
        options[option[1]] = option[2]
        i += 1
    return options, lines[i:]


_CODE_ROLES = frozenset(
    [
        "code",
        "samp",
        "kbd",
        "command",
        "file",
        "envvar",
        "option",
        "program",
        "func",
        "meth",
        "class",
        "mod",
        "obj",
        "attr",
        "data",
        "exc",
        "const",
        "var",
        "type",
        "member",
        "macro",
    ]
)


def _role_text(name: str, text: str) -> str:
    name = name.split(":")[-1]
    stripped = text.rstrip()
    target = stripped.rfind("<") if stripped.endswith(">") else -1
    if target > 0 and stripped[:target].strip():
        text = stripped[:target].rstrip()  # {ref}`Label <target>` -> Label
    elif text.startswith("~"):
        text = text[1:].rsplit(".", 1)[-1]  # {py:func}`~pkg.mod.f` shows f
    text = text.lstrip("!")
    return f"`{text}`" if name in _CODE_ROLES else text
