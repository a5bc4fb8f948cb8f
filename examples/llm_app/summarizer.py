"""A small app that summarizes text with an LLM: OpenAI first, Anthropic when OpenAI cannot answer.

Both clients are the providers' official SDKs, configured the usual way: OPENAI_API_KEY and ANTHROPIC_API_KEY,
and OPENAI_BASE_URL and ANTHROPIC_BASE_URL to send them somewhere else (a Rubberduck proxy, say). The app never
knows whether it talks to a provider or to a proxy.

    python summarizer.py < article.txt
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass

import anthropic
import openai

log = logging.getLogger(__name__)

INSTRUCTIONS = "Summarize the user's text in one sentence."
# What another provider may fix: OpenAI timed out, could not be reached, or was still rate-limited or failing after
# the SDK's own retries. A refused key, a blocked IP or a bad request is ours to fix: it is raised.
FALLBACK_ON = (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError)


@dataclass(frozen=True)
class Summary:
    text: str
    provider: str  # who answered: "openai" or "anthropic"


class Summarizer:
    """`timeout` is per attempt (seconds); each SDK makes up to `max_retries` more attempts by itself on rate
    limits (waiting as `retry-after` says), server errors, timeouts and lost connections."""

    def __init__(
        self,
        *,
        openai_base_url: str | None = None,  # None: $OPENAI_BASE_URL, else api.openai.com
        anthropic_base_url: str | None = None,  # None: $ANTHROPIC_BASE_URL, else api.anthropic.com
        timeout: float = 30.0,
        max_retries: int = 2,
        openai_model: str = "gpt-4o-mini",
        anthropic_model: str = "claude-haiku-4-5",
    ):
        self.openai = openai.OpenAI(base_url=openai_base_url, timeout=timeout, max_retries=max_retries)
        self.anthropic = anthropic.Anthropic(base_url=anthropic_base_url, timeout=timeout, max_retries=max_retries)
        self.openai_model = openai_model
        self.anthropic_model = anthropic_model

    def summarize(self, text: str) -> Summary:
        try:
            return Summary(self.ask_openai(text), "openai")
        except FALLBACK_ON as e:
            log.warning("OpenAI could not answer (%s); asking Anthropic", type(e).__name__)
            return Summary(self.ask_anthropic(text), "anthropic")

    def ask_openai(self, text: str) -> str:
        completion = self.openai.chat.completions.create(
            model=self.openai_model,
            messages=[{"role": "system", "content": INSTRUCTIONS}, {"role": "user", "content": text}],
        )
        return completion.choices[0].message.content or ""

    def ask_anthropic(self, text: str) -> str:
        message = self.anthropic.messages.create(
            model=self.anthropic_model,
            max_tokens=300,
            system=INSTRUCTIONS,
            messages=[{"role": "user", "content": text}],
        )
        return "".join(block.text for block in message.content if block.type == "text")


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    summary = Summarizer().summarize(sys.stdin.read())
    print(f"{summary.text}\n(by {summary.provider})")


if __name__ == "__main__":
    main()
