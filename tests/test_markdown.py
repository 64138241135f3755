import re

from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from docs_mcp.markdown import parse_markdown, slugify, unique_anchors

PAGE = """---
title: Install guide
description: How to install.
sidebar_position: 3
tags: [setup, pip]
---
# Installing the thing

Intro.

## With `pip` (recommended)

```bash
# not a heading: inside a fence
pip install thing
```

### Extras

More.

## With pip (recommended)

Again.
"""


def test_front_matter_supplies_title_description_order_and_tags():
    doc = parse_markdown(PAGE, "guides/install", "guides/install.md")
    assert (doc.title, doc.description, doc.order, doc.tags) == (
        "Install guide",
        "How to install.",
        3.0,
        ("setup", "pip"),
    )
    assert PAGE[doc.body_start :].startswith("# Installing the thing")


def test_headings_get_github_anchors_and_repeats_are_numbered():
    doc = parse_markdown(PAGE, "d", "d.md")
    assert [(h.level, h.text, h.anchor) for h in doc.headings] == [
        (1, "Installing the thing", "installing-the-thing"),
        (2, "With pip (recommended)", "with-pip-recommended"),
        (3, "Extras", "extras"),
        (2, "With pip (recommended)", "with-pip-recommended-1"),
    ]


def test_a_section_spans_its_subsections_and_stops_at_the_next_sibling():
    doc = parse_markdown(PAGE, "d", "d.md")
    with_pip = doc.headings[1]
    section = PAGE[with_pip.start : with_pip.end]
    assert section.startswith("## With `pip`") and "### Extras" in section and "Again." not in section
    assert PAGE[with_pip.body_start : with_pip.body_end].rstrip().endswith("```")


def test_fenced_code_is_one_block_kept_intact():
    doc = parse_markdown(PAGE, "d", "d.md")
    fences = [b for b in doc.blocks if b.kind == "fence"]
    assert len(fences) == 1
    assert (
        PAGE[fences[0].start : fences[0].end]
        == "```bash\n# not a heading: inside a fence\npip install thing\n```\n"
    )


def test_heading_path_lists_the_enclosing_headings():
    doc = parse_markdown(PAGE, "d", "d.md")
    assert doc.heading_path(doc.headings[2]) == ("Installing the thing", "With pip (recommended)", "Extras")
    assert doc.heading_path(doc.headings[3]) == ("Installing the thing", "With pip (recommended)")


def test_title_falls_back_to_first_h1_then_file_name():
    assert parse_markdown("text\n\n# First\n\n# Second\n", "a", "a.md").title == "First"
    assert parse_markdown("no headings at all\n", "x/getting-started", "x/getting-started.md").title == (
        "Getting started"
    )
    assert parse_markdown("", "guides/index", "guides/index.md").title == "Guides"


def test_description_falls_back_to_the_first_paragraph_without_markup():
    doc = parse_markdown("# T\n\nUse [the CLI](cli.md) with **care**.\n", "t", "t.md")
    assert doc.description == "Use the CLI with care."


def test_invalid_front_matter_is_ignored_with_a_warning_and_the_page_still_parses():
    doc = parse_markdown("---\ntitle: [unclosed\n---\n# Real title\n\nBody.\n", "t", "t.md")
    assert doc.title == "Real title"
    assert doc.warnings and "not valid YAML" in doc.warnings[0]
    assert doc.blocks and doc.source[doc.blocks[0].start :].startswith("Body.")


def test_non_numeric_order_is_reported_not_fatal():
    doc = parse_markdown("---\nsidebar_position: first\n---\n# T\n", "t", "t.md")
    assert doc.order is None and "not a number" in doc.warnings[0]


def test_slugify_matches_github():
    assert slugify("Hello, World!") == "hello-world"
    assert slugify("  `max_attempts` setting ") == "max_attempts-setting"
    assert slugify("Ça arrive: naïve") == "ça-arrive-naïve"
    assert slugify("a  b") == "a--b"
    assert unique_anchors(["A", "A", "A-1", "!!!"]) == ["a", "a-1", "a-1-1", "section"]


def test_headings_inside_lists_or_quotes_do_not_start_sections():
    doc = parse_markdown("# Top\n\n> # quoted\n\n- # listed\n", "t", "t.md")
    assert [h.text for h in doc.headings] == ["Top"]


# -- front matter with limits, heading text ------------------------------------------------------

ALIAS_BOMB = (
    "---\ntitle: Aliases\na0: &a0 [x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]\n" for n in range(1, 11))
    + "tags: *a10\nsidebar_label: *a10\n---\n# Page\n"
)


def test_an_alias_bomb_in_front_matter_is_a_warning_and_expands_nothing():
    doc = parse_markdown(ALIAS_BOMB, "t", "t.md")  # 9**10 nodes if it were expanded, 92 aliases
    assert (doc.title, doc.tags, doc.sidebar_label) == ("Aliases", (), "Aliases")
    assert doc.warnings == (
        "front matter tags is not a plain value or a list of plain values; it was ignored",
        "front matter sidebar_label is not a plain value; it was ignored",
    )


def test_too_many_aliases_deep_nesting_or_size_make_the_front_matter_ignored_with_a_warning():
    many = "---\nt: &t x\n" + "".join(f"k{i}: *t\n" for i in range(101)) + "title: Many\n---\n# H\n"
    deep = "---\nx: " + "[" * 30 + "]" * 30 + "\ntitle: Deep\n---\n# H\n"
    deeper = "---\nx: " + "[" * 30_000 + "]" * 30_000 + "\n---\n# H\n"
    large = "---\n" + "".join(f"k{i}: v\n" for i in range(12_000)) + "title: Large\n---\n# H\n"
    for source, warning in (
        (many, "front matter uses more than 100 aliases; it was ignored"),
        (deep, "front matter is nested more than 20 levels deep; it was ignored"),
        (deeper, "front matter is not valid YAML at line 2; it was ignored"),  # libyaml's own limit
        (large, "front matter is longer than 64 KB; it was ignored"),
    ):
        doc = parse_markdown(source, "t", "t.md")
        assert (doc.title, doc.warnings) == ("H", (warning,))


def test_front_matter_values_are_read_as_written_and_other_keys_are_left_alone():
    source = (
        "---\ntitle: 2024-13-45\ndescription: null\ntags: [a, ~, b]\nweight: 1_0\n"
        "custom: {nested: [1, [2]]}\ndate: 2024-13-45\n---\n\nFirst paragraph.\n"
    )
    doc = parse_markdown(source, "t", "t.md")
    assert (doc.title, doc.description, doc.tags, doc.order) == (
        "2024-13-45",
        "First paragraph.",
        ("a", "b"),
        10.0,
    )
    assert doc.warnings == ()


def test_long_titles_and_headings_are_cut_so_every_chunk_can_carry_them():
    title = "word " * 5000
    doc = parse_markdown(f"---\ntitle: {title}\n---\n# {'heading ' * 5000}\n\nText.\n", "t", "t.md")
    assert len(doc.title) <= 500 and doc.title.endswith("…")
    assert len(doc.headings[0].text) <= 500 and doc.headings[0].text.startswith("heading heading")


def test_a_description_from_a_paragraph_of_unclosed_brackets_is_still_cut():
    doc = parse_markdown("# T\n\n" + "[a](b " * 50_000 + "\n", "t", "t.md")
    assert len(doc.description) <= 201 and doc.description.startswith("[a](b")


def _reference_heading_texts(source: str) -> list[str]:
    """The headings' text from markdown-it's full parse (inline syntax everywhere), as before."""
    parser = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    tokens = parser.parse(source)
    texts = []
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.level == 0:
            parts = []
            for child in tokens[index + 1].children or []:
                if child.type in ("text", "code_inline", "image"):
                    parts.append(child.content)
                elif child.type in ("softbreak", "hardbreak"):
                    parts.append(" ")
            texts.append(re.sub(r"\s+", " ", "".join(parts)).strip())
    return texts


INLINE_PIECES = ["&amp;", "&#123;", "&copy;", "\\*", "`x`", "*em*", "_em_", "[l](u)", "![alt](s)", "<b>"]
INLINE_PIECES += ["<http://a.b>", "~~s~~", "a", "bc", " ", "\t", "é日", "#", ":", "(", "]", "!", "&", "\\"]
INLINE_PIECES += ["[ref]", "[ref][]", "[text][ref]", "[nowhere]"]  # the page defines [ref] only
heading_line = st.lists(st.sampled_from(INLINE_PIECES), min_size=1, max_size=12).map("".join)


@settings(max_examples=300, deadline=None)
@given(atx=heading_line, setext=heading_line)
def test_heading_text_matches_markdown_its_full_parse(atx, setext):
    """Only headings get the inline parser now, and those without inline syntax skip it: the
    text (and so every anchor) must be what parsing the whole page inline gave."""
    source = f"# {atx}\n\n{setext}\n===\n\ntext\n\n[ref]: https://example.com/ref\n"
    doc = parse_markdown(source, "t", "t.md")
    assert [h.text for h in doc.headings] == _reference_heading_texts(source)
