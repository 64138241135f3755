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
