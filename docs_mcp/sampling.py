"""ask_docs over MCP: ask the connected client's own model, through sampling, or fall back.

The server holds no API key: the answer is written by whatever model the client
runs, through `sampling/createMessage`. How that request travels depends on the
negotiated protocol revision:

- up to 2025-11-25 (the initialize handshake): the server sends the request to the
  client while the tool call is open, and waits for the answer (bounded by a
  timeout). That needs a back-channel: stdio has one; stateless HTTP does not.
- 2026-07-28 and later: the tool call returns `InputRequiredResult` carrying the
  request; the client samples and calls ask_docs again with the answer attached.
  The passages are retrieved again on that second call, and the answer is
  accepted only for the same request (a digest travels as `request_state`).

When the client cannot sample (no `sampling` capability, no back-channel), or its
model fails, refuses or times out, the answer is extractive: the passages, each
with its citation, and a note that says why. Those are results, not tool errors.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Sequence
from typing import Any

import anyio
import anyio.to_thread
from mcp.server.mcpserver import Context
from mcp.shared.exceptions import MCPError
from mcp.shared.message import ServerMessageMetadata
from mcp.types import (
    CreateMessageRequest,
    CreateMessageRequestParams,
    CreateMessageResult,
    CreateMessageResultWithTools,
    InputRequiredResult,
    SamplingMessage,
    TextContent,
)
from mcp_types.version import is_version_at_least
from pydantic import ValidationError

from docs_mcp import ask
from docs_mcp.models import AskResult
from docs_mcp.search import DocsService

log = logging.getLogger(__name__)

INPUT_REQUIRED_VERSION = "2026-07-28"  # first revision that samples through InputRequiredResult
ANSWER_KEY = "answer"  # the key of the one sampling request in input_requests / input_responses


def sampling_request(retrieval: ask.Retrieval, max_tokens: int) -> CreateMessageRequest:
    return CreateMessageRequest(
        params=CreateMessageRequestParams(
            messages=[
                SamplingMessage(
                    role="user", content=TextContent(type="text", text=ask.user_message(retrieval))
                )
            ],
            system_prompt=ask.SYSTEM_PROMPT,
            include_context="none",
            temperature=0,
            max_tokens=ask.answer_tokens(max_tokens),
            metadata={"docs_mcp": {"tool": "ask_docs", "passages": [p.citation for p in retrieval.passages]}},
        )
    )


def request_digest(request: CreateMessageRequest) -> str:
    wire = request.model_dump_json(by_alias=True, exclude_none=True)
    return hashlib.sha256(wire.encode("utf-8")).hexdigest()


def answer_text(result: CreateMessageResult | CreateMessageResultWithTools) -> str:
    content: Any = result.content
    blocks = content if isinstance(content, list) else [content]
    return "\n".join(block.text for block in blocks if isinstance(block, TextContent)).strip()


def can_sample(ctx: Context[Any, Any]) -> bool:
    capabilities = ctx.client_capabilities
    return capabilities is not None and capabilities.sampling is not None


async def answer(
    ctx: Context[Any, Any],
    service: DocsService,
    question: str,
    passages: int,
    max_tokens: int,
    timeout: float = ask.SAMPLING_TIMEOUT_SECONDS,
    collection: str | None = None,
    version: str | None = None,
    keywords: Sequence[str] | str | None = None,
    hypothetical_answer: str | None = None,
) -> AskResult | InputRequiredResult:
    """The ask_docs result for this request, or, on 2026-07-28+, the sampling request to fulfil first.

    Raises DocsMcpError (an empty question, no index) for the tool to report.
    """
    retrieval = await anyio.to_thread.run_sync(
        functools.partial(
            ask.retrieve,
            service,
            question,
            passages,
            max_tokens,
            collection,
            version,
            keywords=keywords,
            hypothetical_answer=hypothetical_answer,
        )
    )
    if not retrieval.passages:
        return ask.extractive(retrieval, None)
    version = ctx.protocol_version
    input_required = version is not None and is_version_at_least(version, INPUT_REQUIRED_VERSION)
    if not input_required and not ctx.session.can_send_request:
        # Checked first: a stateless HTTP server does not know what the client declared.
        return ask.extractive(retrieval, ask.NO_BACK_CHANNEL_NOTE)
    if not can_sample(ctx):
        return ask.extractive(retrieval, ask.NO_SAMPLING_NOTE)
    request = sampling_request(retrieval, max_tokens)
    if input_required:
        return _answer_from_input(ctx, retrieval, request)
    try:
        with anyio.fail_after(timeout):
            result = await ctx.session.send_request(
                request,
                CreateMessageResult,
                metadata=ServerMessageMetadata(related_request_id=ctx.request_id),
            )
    except TimeoutError:
        log.info("no sampling reply within %g s; answering with passages", timeout)
        return ask.extractive(retrieval, ask.TIMED_OUT_NOTE.format(seconds=timeout))
    except MCPError as error:  # the user declined, or the client's model failed
        log.info("sampling failed (%r); answering with passages", error.message)
        return ask.extractive(retrieval, ask.FAILED_NOTE.format(reason=_short(error.message)))
    except ValidationError:
        return ask.extractive(retrieval, ask.FAILED_NOTE.format(reason="the client's reply was malformed"))
    return _from_model(retrieval, result)


def _answer_from_input(
    ctx: Context[Any, Any], retrieval: ask.Retrieval, request: CreateMessageRequest
) -> AskResult | InputRequiredResult:
    digest = request_digest(request)
    response = (ctx.input_responses or {}).get(ANSWER_KEY)
    if response is None or ctx.request_state != digest:
        # First round, or the passages changed since the question was asked (a new index
        # version was published in between): ask (again) for exactly these passages.
        return InputRequiredResult(input_requests={ANSWER_KEY: request}, request_state=digest)
    if not isinstance(response, CreateMessageResult | CreateMessageResultWithTools):
        return ask.extractive(retrieval, ask.FAILED_NOTE.format(reason="the client answered another request"))
    return _from_model(retrieval, response)


def _from_model(
    retrieval: ask.Retrieval, result: CreateMessageResult | CreateMessageResultWithTools
) -> AskResult:
    text = answer_text(result)
    if not text:
        return ask.extractive(retrieval, ask.NO_TEXT_NOTE)
    return ask.sampled(retrieval, text, model=result.model)


def _short(message: str, limit: int = 200) -> str:
    flat = " ".join(message.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"
