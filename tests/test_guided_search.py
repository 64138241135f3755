"""Assistant-guided search: keywords and a hypothetical answer beside the query.

The pure rules (cleaning the input, keeping the question's pages in reach, who found what,
when the texts disagree) are tested on hand-made rankings; everything else goes through the
service, the MCP tools and the CLI on the sample docs indexed with the real model.
"""

import json
import re

import pytest
from mcp import Client
from typer.testing import CliRunner

from docs_mcp.cli import app
from docs_mcp.guidance import (
    MAX_HYPOTHETICAL_ANSWER_CHARS,
    MAX_KEYWORD_CHARS,
    QUESTION_EVERY,
    Guidance,
    disagreement_note,
    found_by,
    keep_question_in_reach,
)
from docs_mcp.headings import HeadingIndex
from docs_mcp.ranking import RankedDoc, RankedList, rank_documents
from docs_mcp.search import DocsService
from docs_mcp.server import build_server
from docs_mcp.store import IndexStore
from tests.conftest import MODEL, SAMPLE_CORPUS

QUESTIONS = [
    "how do I install it with pip",
    "what happens when a job keeps failing",
    "run workers on kubernetes with helm",
    "enqueue a job from python code",
    "where do jobs wait before a worker takes them",
    "graceful shutdown timeout",
    "which release fixed the scheduler",
]


@pytest.fixture(scope="module")
def docs(shared_db, embedder):
    return DocsService(IndexStore(shared_db), lambda: embedder, model=MODEL)


def ranked(*doc_ids):
    return [RankedDoc(d, 1.0 / (n + 1), {"id": f"{d}@0", "doc_id": d}) for n, d in enumerate(doc_ids)]


def chunks(*doc_ids):
    return [{"id": f"{d}@0", "doc_id": d} for d in doc_ids]


# -- cleaning what the assistant passed ---------------------------------------------------------


def test_blank_and_repeated_keywords_are_dropped_and_blank_answers_ignored():
    guidance = Guidance.clean(["  ", "read_sql", "READ_SQL", "", "read  sql"], "   ")
    assert guidance.keywords == ("read_sql", "read sql") and guidance.hypothetical_answer is None
    assert guidance.notes == ()
    assert Guidance.clean(None, None).empty and Guidance.clean([" "], "\n").empty


def test_too_many_or_too_long_expansions_are_clamped_with_a_note_never_refused():
    guidance = Guidance.clean(["a", "b", "c", "d", "e"], "x " * 2000)
    assert guidance.keywords == ("a", "b", "c")
    assert len(guidance.hypothetical_answer) <= MAX_HYPOTHETICAL_ANSWER_CHARS
    assert any("first 3 of 5 keywords" in note for note in guidance.notes)
    assert any("hypothetical_answer cut" in note for note in guidance.notes)
    long = Guidance.clean(["word " * 100], None)
    assert len(long.keywords[0]) <= MAX_KEYWORD_CHARS and "keywords cut" in long.notes[0]


def test_one_string_of_keywords_is_one_keyword():
    assert Guidance.clean("Task.delay", None).keywords == ("Task.delay",)


def test_a_huge_keyword_list_is_cleaned_in_linear_time():
    guidance = Guidance.clean([f"k{n}" for n in range(200_000)], None)  # quadratic would take minutes
    assert guidance.keywords == ("k0", "k1", "k2") and "of 200000 keywords" in guidance.notes[0]


# -- the fusion rules ---------------------------------------------------------------------------


def test_the_questions_pages_are_kept_in_reach_whatever_the_expansions_rank():
    own = ranked("q1", "q2", "q3", "q4")
    fused = ranked(*[f"e{n}" for n in range(20)], "q1", "q2", "q3", "q4")
    order = [doc.doc_id for doc in keep_question_in_reach(fused, own)]
    for rank, doc_id in enumerate(["q1", "q2", "q3", "q4"], 1):
        assert order.index(doc_id) + 1 <= QUESTION_EVERY * rank
    assert sorted(order) == sorted(doc.doc_id for doc in fused)  # nothing lost, nothing twice
    others = [d for d in order if d.startswith("e")]
    assert others == [f"e{n}" for n in range(20)]  # the fused order otherwise


def test_keeping_in_reach_changes_nothing_when_the_fusion_already_agrees():
    fused = ranked("q1", "e1", "q2", "e2", "q3")
    kept = keep_question_in_reach(fused, ranked("q1", "q2", "q3"))
    assert kept == fused  # same documents, same scores, same order


def test_matched_by_names_the_texts_whose_own_search_ranks_a_page_in_its_first_ten():
    lists = [
        RankedList("vector", chunks("a", "b"), "question"),
        RankedList("keyword", chunks(*[f"x{n}" for n in range(10)], "b"), "keywords"),
        RankedList("headings", chunks("b"), "keywords"),
        RankedList("vector", chunks("c", "a"), "hypothetical_answer"),
    ]
    found = found_by(lists)
    assert found["a"] == ["question", "hypothetical_answer"]
    assert found["b"] == ["question", "keywords"]  # 11th in one keyword list, 1st in another
    assert found["c"] == ["hypothetical_answer"]


def test_a_note_says_when_neither_side_ranks_the_others_best_pages():
    own = ranked(*"abcdefghij")
    assert disagreement_note(own, ranked("x", "y", "z", "c"), pages=1000) is None  # our 3rd is theirs
    assert disagreement_note(own, ranked("u", "v", "j"), pages=1000) is None  # their 3rd is ours
    note = disagreement_note(own, ranked("u", "v", "w", "x", "y", "j"), pages=1000)
    assert note and "a, b, c" in note and "u, v, w" in note and "matched_by" in note
    # In a small doc set "among the other's first" means its first tenth (at least three).
    assert disagreement_note(own, ranked("u", "v", "w", "x", "b"), pages=30) is not None
    assert disagreement_note(own, ranked("u", "v", "w", "x", "b"), pages=1000) is None


# -- names: titles and headings -----------------------------------------------------------------


def test_a_keyword_finds_the_page_and_the_section_it_names():
    index = HeadingIndex(
        {
            "api": ("Python API", [("skyline.get_result", "get-result"), ("Task.delay", "task-delay")]),
            "guide": ("Getting results back", [("Waiting", "waiting")]),
            "ops": ("Operations", [("Checkpoints and restarts", "checkpoints")]),
        }
    )
    assert next((m.doc_id, m.anchor) for m in index.search("skyline.get_result", 5)) == ("api", "get-result")
    assert index.search("checkpoint", 5)[0].anchor == "checkpoints"  # stems match
    assert [m.doc_id for m in index.search("results", 5, only={"ops"})] == []
    assert index.search("how to use the", 5) == []  # stop words name nothing


# -- through the service ------------------------------------------------------------------------


def test_without_expansions_the_ranking_is_exactly_the_bare_one_ids_and_scores(docs, embedder):
    snapshot = docs.snapshot()
    for question in QUESTIONS:
        bare = docs.search(question, limit=10)
        for keywords, answer in ((None, None), ([], ""), (["", "  "], " \n ")):
            same = docs.search(question, limit=10, keywords=keywords, hypothetical_answer=answer)
            assert [(h.open_with, h.score) for h in same.hits] == [(h.open_with, h.score) for h in bare.hits]
            assert all(h.matched_by is None for h in same.hits) and same.note == bare.note
        # ... and that is today's ranking: the two retrievers of the question, fused.
        depth = docs.ranking.candidates
        lists = [
            RankedList("vector", snapshot.vector_search(embedder.embed_query(question), depth)),
            RankedList("keyword", snapshot.keyword_search(question, depth)),
        ]
        expected = rank_documents(lists, docs.ranking)[:10]
        assert [h.doc_id for h in bare.hits] == [d.doc_id for d in expected]
        assert [h.score for h in bare.hits] == [round(d.score, 6) for d in expected]


def test_a_keyword_naming_an_api_brings_its_page_first(docs):
    question = "how do I wait until it is finished and get what it returned"
    guided = docs.search(question, keywords=["skyline.get_result"], hypothetical_answer=None)
    assert guided.hits[0].open_with == "reference/api#skylineget_result"
    assert "keywords" in guided.hits[0].matched_by


def test_misleading_expansions_keep_the_questions_own_pages_in_reach(docs):
    for number, question in enumerate(QUESTIONS):
        other = QUESTIONS[(number + 3) % len(QUESTIONS)]
        bare = [h.doc_id for h in docs.search(question, limit=10).hits]
        guided = docs.search(question, limit=10, keywords=[other], hypothetical_answer=other)
        order = [h.doc_id for h in guided.hits]
        for rank, doc_id in enumerate(bare[:3], 1):
            assert order.index(doc_id) + 1 <= QUESTION_EVERY * rank, (question, other)


def test_every_guided_hit_says_which_texts_found_it(docs):
    result = docs.search(
        "configure the broker",
        keywords=["broker_url", "visibility timeout"],
        hypothetical_answer="Set broker_url to the Redis URL of the broker.",
        limit=10,
    )
    kinds = {"question", "keywords", "hypothetical_answer"}
    assert result.hits and all(set(h.matched_by) <= kinds for h in result.hits)
    assert any(len(h.matched_by) == 3 for h in result.hits)


TOPICS = {
    "baking/sourdough": ("Sourdough bread", "Feed the starter with flour and water, then bake the loaf."),
    "baking/croissants": ("Croissants", "Laminate butter into the dough and fold it three times."),
    "astronomy/comets": ("Comets", "A comet's tail points away from the sun as ice turns to gas."),
    "astronomy/eclipses": ("Solar eclipses", "The moon passes between the earth and the sun."),
    "sailing/knots": ("Sailing knots", "A bowline makes a fixed loop at the end of a rope."),
    "sailing/tacking": ("Tacking", "Turn the bow through the wind to change course upwind."),
    "garden/tomatoes": ("Growing tomatoes", "Stake the plants and water them at the roots."),
    "garden/compost": ("Compost", "Mix green and brown matter and turn the heap weekly."),
    "music/chords": ("Guitar chords", "Place fingers on the frets to play a G major chord."),
    "music/tuning": ("Tuning a guitar", "Tune each string to E A D G B E with a tuner."),
    "bikes/chains": ("Bicycle chains", "Clean and oil the chain so the gears shift smoothly."),
    "bikes/brakes": ("Disc brakes", "Bleed the hydraulic brakes when the lever feels soft."),
    "chess/openings": ("Chess openings", "The Sicilian defence answers e4 with c5."),
    "chess/endgames": ("Rook endgames", "Cut the king off along a file with the rook."),
    "birds/owls": ("Owls", "Owls hunt at night and swallow their prey whole."),
    "birds/migration": ("Bird migration", "Swallows fly south to Africa every autumn."),
    "coffee/espresso": ("Espresso", "Grind fine and extract 36 grams in 28 seconds."),
    "coffee/filter": ("Filter coffee", "Pour water at 94 degrees over a paper filter."),
    "knitting/scarves": ("Knitting a scarf", "Cast on forty stitches and knit garter stitch."),
    "knitting/socks": ("Knitting socks", "Turn the heel with short rows on four needles."),
    "camping/tents": ("Pitching a tent", "Peg the corners first, then raise the poles."),
    "camping/stoves": ("Camping stoves", "Gas canister stoves boil water fastest in calm air."),
    "pottery/wheel": ("Throwing on the wheel", "Centre the clay before opening it with your thumbs."),
    "pottery/glazes": ("Glazes", "Dip bisque ware in glaze and fire it to cone six."),
}


@pytest.fixture(scope="module")
def topics(tmp_path_factory, embedder):
    """Two dozen pages on unrelated subjects: enough for a question's first ten pages and its
    expansions' first ten to have nothing in common."""
    from docs_mcp.indexer import index_corpus

    root = tmp_path_factory.mktemp("topics")
    for doc_id, (title, text) in TOPICS.items():
        path = root / f"{doc_id}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# {title}\n\n{text}\n", encoding="utf-8")
    store = IndexStore(str(tmp_path_factory.mktemp("topics-index") / "index"))
    index_corpus(root, store, embedder)
    return DocsService(store, lambda: embedder, model=MODEL)


def test_expansions_pointing_elsewhere_get_a_note_naming_both_sides(topics):
    result = topics.search(
        "how do I keep my sourdough starter alive",
        keywords=["comet tail", "solar eclipse"],
        hypothetical_answer="A comet's tail points away from the sun.",
        limit=20,
    )
    found = {h.doc_id: h.matched_by for h in result.hits}
    assert found["baking/sourdough"] == ["question"]
    assert set(found["astronomy/comets"]) == {"keywords", "hypothetical_answer"}
    assert result.note and "found different pages" in result.note
    assert "baking/sourdough" in result.note and "astronomy/comets" in result.note


def test_expansions_that_agree_with_the_question_raise_no_note(topics):
    result = topics.search(
        "how do I keep my sourdough starter alive",
        keywords=["sourdough starter", "feed flour water"],
        hypothetical_answer="Feed the starter with flour and water every day.",
    )
    assert result.note is None and result.hits[0].doc_id == "baking/sourdough"
    assert result.hits[0].matched_by == ["question", "keywords", "hypothetical_answer"]


@pytest.mark.parametrize(
    "text",
    [
        '"unbalanced quote',
        "title:(a OR b) AND NOT c* ~2 ^3",
        "'; DROP TABLE chunks; --",
        "\x00\x01 control \u202e bidi \U0001f600 emoji",
        "ü" * 5000,
        "<script>alert(1)</script>",
    ],
)
def test_hostile_expansions_are_searched_as_plain_text(docs, text):
    result = docs.search("retries", keywords=[text, text[:10]], hypothetical_answer=text)
    assert result.hits  # the question still finds pages; nothing raised
    code = docs.search("retries", kind="code", keywords=[text], hypothetical_answer=text)
    assert code.kind == "code"


def test_clamping_notes_reach_the_result(docs):
    result = docs.search("retries", keywords=["a", "b", "c", "d"], hypothetical_answer="y" * 5000)
    assert "first 3 of 4 keywords" in result.note and "hypothetical_answer cut" in result.note


def test_code_search_takes_expansions_too(docs):
    result = docs.search(
        "make a function a background job",
        kind="code",
        keywords=["@task decorator"],
        hypothetical_answer="Decorate the function with @task(queue=...) from skyline.",
    )
    assert result.hits[0].language == "python" and "@task" in result.hits[0].code
    assert result.hits[0].matched_by


def test_a_prefix_limits_every_text_including_headings(docs):
    result = docs.search("settings", prefix="guides/", keywords=["broker_url", "max_attempts"])
    assert result.hits and all(h.doc_id.startswith("guides/") for h in result.hits)


# -- the MCP tools and the CLI ------------------------------------------------------------------


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_search_docs_and_ask_docs_take_keywords_and_a_hypothetical_answer(docs):
    async with Client(build_server(docs)) as client:
        found = await client.call_tool(
            "search_docs",
            {
                "query": "wait for the outcome of a job",
                "keywords": ["get_result"],
                "hypothetical_answer": "Call get_result(job_id, timeout=10.0) to wait for the result.",
            },
        )
        asked = await client.call_tool(
            "ask_docs", {"question": "how do I wait for a job's result?", "keywords": "get_result"}
        )
        clamped = await client.call_tool("search_docs", {"query": "retries", "keywords": list("abcdefg")})
    assert not found.is_error and found.structured_content["hits"][0]["doc_id"] == "reference/api"
    assert found.structured_content["hits"][0]["matched_by"]
    assert "matched by:" in found.content[0].text
    assert not asked.is_error and asked.structured_content["citations"][0]["id"].startswith("reference/api")
    assert not clamped.is_error and "first 3 of 7 keywords" in clamped.structured_content["note"]


@pytest.mark.anyio
async def test_the_tools_teach_when_to_pass_expansions(docs):
    async with Client(build_server(docs)) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        instructions = client.instructions
    for name in ("search_docs", "ask_docs"):
        properties = tools[name].input_schema["properties"]
        assert "Example" in properties["keywords"]["description"]
        assert "Example" in properties["hypothetical_answer"]["description"]
    assert (
        "keywords" in instructions and "hypothetical_answer" in instructions and "matched_by" in instructions
    )


def test_the_cli_searches_and_asks_with_expansions(shared_db):
    runner = CliRunner()
    searched = runner.invoke(
        app,
        [
            "search",
            "wait for the outcome of a job",
            "--db",
            shared_db,
            "--keyword",
            "get_result",
            "-k",
            "job result",
            "--hypothetical-answer",
            "get_result(job_id) waits for the result.",
            "--json",
        ],
    )
    assert searched.exit_code == 0, searched.output
    result = json.loads(searched.output)
    assert result["hits"][0]["doc_id"] == "reference/api" and result["hits"][0]["matched_by"]
    asked = runner.invoke(app, ["ask", "how do I wait for a result?", "--db", shared_db, "-k", "get_result"])
    assert asked.exit_code == 0 and "[reference/api" in asked.output


def test_eval_reports_bare_guided_and_the_shuffled_control(shared_db, tmp_path):
    labels = tmp_path / "labels.jsonl"
    expansions = tmp_path / "expansions.jsonl"
    rows = [
        ("wait for the outcome of a job", "reference/api.md", ["get_result"], "get_result waits."),
        ("move jobs that keep failing aside", "guides/retries.md", ["dead letter queue"], None),
        ("put workers on a cluster", "guides/deploying.md", ["helm chart", "kubernetes"], None),
    ]
    labels.write_text(
        "".join(json.dumps({"query": q, "relevant": [r]}) + "\n" for q, r, _, _ in rows), encoding="utf-8"
    )
    expansions.write_text(
        "".join(
            json.dumps({"query": q, "keywords": k, "hypothetical_answer": h}) + "\n" for q, _, k, h in rows
        ),
        encoding="utf-8",
    )
    out = tmp_path / "metrics.json"
    ran = CliRunner().invoke(
        app,
        [
            "eval",
            str(labels),
            "--corpus",
            str(SAMPLE_CORPUS),
            "--db",
            shared_db,
            "--mode",
            "hybrid",
            "--expansions",
            str(expansions),
            "--json",
            str(out),
        ],
    )
    assert ran.exit_code == 0, ran.output
    guided = json.loads(out.read_text(encoding="utf-8"))["guided"]
    assert set(guided["runs"]) == {"bare", "guided", "control"}
    assert guided["questions_with_expansions"] == 3
    assert guided["runs"]["guided"]["hit@1"]["mean"] == 1.0
    assert "mrr@10" in guided["guided_vs_bare"] and "mrr@10" in guided["control_vs_bare"]
    assert re.search(r"guided - bare: hit@1", ran.output)


def test_an_expansions_file_naming_unlabelled_queries_is_an_error_that_says_so(shared_db, tmp_path):
    labels = tmp_path / "labels.jsonl"
    labels.write_text(
        json.dumps({"query": "retries", "relevant": ["guides/retries.md"]}) + "\n", encoding="utf-8"
    )
    expansions = tmp_path / "expansions.jsonl"
    expansions.write_text(json.dumps({"query": "something else", "keywords": ["x"]}) + "\n", encoding="utf-8")
    ran = CliRunner().invoke(
        app,
        [
            "eval",
            str(labels),
            "--corpus",
            str(SAMPLE_CORPUS),
            "--db",
            shared_db,
            "--expansions",
            str(expansions),
        ],
    )
    assert ran.exit_code == 1 and "not in the labels file" in ran.output and "something else" in ran.output
