"""Sources and citations: what a run read on the web, how agents cite it, how a claim is checked.

Pure models and functions, no I/O, shared by every layer like `domain`. A source is what
one subtask read (a search hit or a fetched page), numbered per run: agents cite it as
`[S3]`. The references list that ends a run's result is built from these records, never
from the model's text, and a citation to a number the run never recorded is flagged.

`check_claim` is deterministic on purpose: it tells a fact-checker (and the person) whether
the words of a claim, or the quote given for it, are in the text that was actually read.
It does not judge meaning; the model decides what to make of it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

# [S3], [S1, S4], [S2; S5]: one bracket may cite several sources.
_CITATION = re.compile(r"\[\s*(S\d+(?:\s*[,;]\s*S\d+)*)\s*\]", re.IGNORECASE)
_ID = re.compile(r"S(\d+)", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*")
# Common words carry no evidence; numbers and names do.
_STOPWORDS = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "can", "could", "did", "do",
        "does", "for", "from", "had", "has", "have", "in", "into", "is", "it", "its", "of", "on",
        "or", "our", "so", "than", "that", "the", "their", "them", "then", "there", "these", "they",
        "this", "those", "to", "was", "were", "what", "when", "which", "while", "who", "will",
        "with", "would", "not", "no", "yes", "more", "most", "less", "about", "also", "may",
        "might", "shall", "should", "very", "over", "under", "per", "each", "any", "all", "some",
        "such", "only", "just",
    }
)
SUPPORT_THRESHOLD = 0.75  # share of a claim's content words the source must contain
EXCERPT_CHARS = 240


class SourceKind(StrEnum):
    SEARCH = "search"  # a search result: its title and snippet are what was read
    PAGE = "page"  # a fetched page: its text is what was read


class Source(BaseModel):
    """One source a subtask read, as the project file keeps it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    execution_id: str
    number: int
    subtask_id: str | None = None
    agent: str
    kind: SourceKind
    url: str
    title: str = ""
    query: str | None = None  # the search that found it
    provider: str | None = None  # the search provider
    fetched_at: float
    sha256: str  # of `text` as read (before any clipping for storage)
    chars: int  # characters read
    text: str  # what was read (clipped to the store's limit; see `truncated`)
    truncated: bool = False

    @property
    def id(self) -> str:
        return f"S{self.number}"

    def line(self) -> str:
        """One references-list line: id, title, URL, how and when it was read."""
        title = self.title.strip() or self.url
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.fetched_at))
        how = (f'search "{self.query}" via {self.provider}' if self.kind is SourceKind.SEARCH and self.query
               else "search result" if self.kind is SourceKind.SEARCH else "fetched")
        return f"[{self.id}] {title} — {self.url} ({how}, {when}, sha256 {self.sha256[:12]})"


class ClaimVerdict(StrEnum):
    SUPPORTED = "supported"  # the quote, or the claim's words, are in the source's text
    UNSUPPORTED = "unsupported"  # the source was read but does not contain them
    NOT_FOUND = "not_found"  # no source with that id was recorded in this run: a fabricated citation


class ClaimCheck(BaseModel):
    """One cited claim checked against the recorded text of the source it cites."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    source: str  # "S3" as cited
    claim: str
    quote: str | None = None
    verdict: ClaimVerdict
    evidence: str = ""  # the source's closest passage, or why there is none
    subtask_id: str | None = None
    agent: str | None = None


class CitedClaim(BaseModel):
    """What a fact-checker hands `check_claims`: a claim and the source it cites."""

    model_config = ConfigDict(extra="forbid")

    claim: str = Field(min_length=1, max_length=1000, description="The claim as the text states it.")
    source: str = Field(pattern=r"^\[?[Ss]\d+\]?$", description="The source id it cites, e.g. S3.")
    quote: str | None = Field(default=None, max_length=1000,
                              description="Words the claim says the source contains, if any.")


def source_number(ref: str) -> int | None:
    """3 for "S3" or "[S3]"; None for anything else."""
    found = _ID.fullmatch(ref.strip().strip("[]").strip())
    return int(found.group(1)) if found else None


def cited_numbers(text: str) -> list[int]:
    """Every source number `text` cites, in order of first citation."""
    seen: dict[int, None] = {}
    for bracket in _CITATION.finditer(text or ""):
        for number in _ID.findall(bracket.group(1)):
            seen.setdefault(int(number), None)
    return list(seen)


def unknown_citations(text: str, recorded: Iterable[int]) -> list[str]:
    """The ids `text` cites that the run never recorded (e.g. ["S9"])."""
    known = set(recorded)
    return [f"S{n}" for n in cited_numbers(text) if n not in known]


def cited_sentences(text: str) -> list[CitedClaim]:
    """Each sentence of `text` that cites sources, as one claim per source it cites (the sentence
    without its citation marks)."""
    claims: list[CitedClaim] = []
    for sentence in re.split(r"(?<=[.!?])\s+|\n+", text or ""):
        numbers = cited_numbers(sentence)
        claim = " ".join(_CITATION.sub(" ", sentence).split()).strip(" -*•")
        if not numbers or not claim:
            continue
        claims.extend(CitedClaim(claim=claim[:1000], source=f"S{n}") for n in numbers)
    return claims


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _normal(text: str) -> str:
    return " ".join(_words(text))


def _content(words: Sequence[str]) -> list[str]:
    return [w for w in words if (len(w) > 2 or w.isdigit()) and w not in _STOPWORDS]


def _best_passage(claim_words: set[str], text: str) -> str:
    best, score = "", 0
    for sentence in re.split(r"(?<=[.!?])\s+|\n+", text):
        hits = len(claim_words & set(_words(sentence)))
        if hits > score:
            best, score = sentence.strip(), hits
    return best[:EXCERPT_CHARS]


def check_claim(claim: CitedClaim, sources: dict[int, Source]) -> ClaimCheck:
    """Whether the recorded source `claim` cites contains its quote (exactly, up to case and
    punctuation) or, without a quote, most of its content words and every number in it."""
    number = source_number(claim.source)
    label = f"S{number}" if number is not None else claim.source
    source = sources.get(number) if number is not None else None

    def result(verdict: ClaimVerdict, evidence: str) -> ClaimCheck:
        return ClaimCheck(source=label, claim=claim.claim, quote=claim.quote, verdict=verdict,
                          evidence=evidence)

    if source is None:
        return result(ClaimVerdict.NOT_FOUND, f"no source {label} was recorded in this run")
    text = f"{source.title}\n{source.text}"
    if claim.quote and claim.quote.strip():
        found = _normal(claim.quote) in _normal(text)
        passage = _best_passage(set(_content(_words(claim.quote))), text)
        return result(ClaimVerdict.SUPPORTED if found else ClaimVerdict.UNSUPPORTED,
                      passage if found else f"the quote is not in {label}; closest: {passage}")
    wanted = _content(_words(claim.claim))
    have = set(_words(text))
    if not wanted:
        return result(ClaimVerdict.UNSUPPORTED, "the claim has no words to check")
    share = sum(w in have for w in wanted) / len(wanted)
    numbers_ok = all(w in have for w in wanted if any(c.isdigit() for c in w))
    supported = share >= SUPPORT_THRESHOLD and numbers_ok
    passage = _best_passage(set(wanted), text)
    missing = [w for w in wanted if w not in have][:6]
    why = passage if supported else (f"{share:.0%} of its words are in {label}"
                                     + (f"; missing: {', '.join(missing)}" if missing else "")
                                     + (f"; closest: {passage}" if passage else ""))
    return result(ClaimVerdict.SUPPORTED if supported else ClaimVerdict.UNSUPPORTED, why)


_OWN_REFERENCES = re.compile(
    r"\n\s*(?:#{1,6}\s*|\*\*)?(?:references|sources|bibliography|works cited):?(?:\*\*)?:?\s*\n.*\Z",
    re.IGNORECASE | re.DOTALL,
)
REFERENCES_HEADING = "## References"


def strip_references(text: str) -> str:
    """The text without a trailing references section a model wrote itself (ours replaces it)."""
    return _OWN_REFERENCES.sub("", text).rstrip()


def references(text: str, sources: Sequence[Source], also_cited: Iterable[str] = ()) -> str:
    """The references section for a result: the recorded sources it cites, ordered by id; when it
    cites none, those the outputs it was built from (`also_cited`) cite; when nothing cites any,
    every recorded source. Then the citations in `text` no recorded source answers. Empty when
    there is nothing to list."""
    by_number = {s.number: s for s in sources}
    listed = sorted(n for n in cited_numbers(text) if n in by_number)
    note = ""
    if not listed:
        listed = sorted({n for other in also_cited for n in cited_numbers(other) if n in by_number})
        note = "The result cites none by id; the sources its parts cite:" if listed else ""
    if not listed and by_number:
        listed, note = sorted(by_number), "Nothing cites them by id; the sources the team read:"
    missing = unknown_citations(text, by_number)
    if not listed and not missing:
        return ""
    lines = [REFERENCES_HEADING, ""]
    if note:
        lines += [note, ""]
    lines += [f"- {by_number[n].line()}" for n in listed]
    if missing:
        lines += ["", "Cited but never recorded in this run (no such source was found or fetched): "
                      + ", ".join(f"[{m}]" for m in missing)]
    return "\n".join(lines)


def with_references(text: str, sources: Sequence[Source], also_cited: Iterable[str] = ()) -> str:
    """`text` with the model's own references section replaced by one built from `sources`."""
    body = strip_references(text)
    section = references(body, sources, also_cited)
    return f"{body}\n\n{section}" if section else body


class CitationFindings(BaseModel):
    """What the review shows about a run's sources: the fact-checkers' claim checks and, per
    subtask ("result" for the result), the cited ids no recorded source answers."""

    model_config = ConfigDict(frozen=True)

    sources: int = 0
    claims: list[ClaimCheck] = Field(default_factory=list)
    unknown: dict[str, list[str]] = Field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.sources or self.claims or self.unknown)

    def payload(self) -> dict[str, object]:
        """The review verdict's fields (none when the run read and cited nothing)."""
        if self.empty:
            return {}
        return {"claims": [{"source": c.source, "claim": c.claim[:300], "verdict": c.verdict.value,
                            "evidence": c.evidence[:300]} for c in self.claims],
                "unknown_citations": self.unknown}

    def lines(self) -> list[str]:
        """One line per finding, for the leader's review prompt and the transcript."""
        out = []
        if self.claims:
            counts = {v: sum(c.verdict is v for c in self.claims) for v in ClaimVerdict}
            out.append(f"Claims checked against the recorded sources: {counts[ClaimVerdict.SUPPORTED]} "
                       f"supported, {counts[ClaimVerdict.UNSUPPORTED]} unsupported, "
                       f"{counts[ClaimVerdict.NOT_FOUND]} not found")
            out += [f"- [{c.source}] {c.verdict.value.replace('_', ' ')}: {c.claim[:160]}"
                    for c in self.claims if c.verdict is not ClaimVerdict.SUPPORTED]
        for where, ids in self.unknown.items():
            out.append(f"- {where} cites {', '.join(f'[{i}]' for i in ids)}, never recorded in this run "
                       "(a fabricated citation)")
        return out


def findings(outputs: dict[str, str], result: str, sources: Sequence[Source],
             checks: Sequence[ClaimCheck]) -> CitationFindings:
    """The findings for a run: `outputs` by subtask id, its result, what it recorded and checked."""
    recorded = [s.number for s in sources]
    unknown = {where: ids for where, text in [*outputs.items(), ("result", result)]
               if (ids := unknown_citations(text, recorded))}
    return CitationFindings(sources=len(sources), claims=list(checks), unknown=unknown)


class RunSources(BaseModel):
    """Everything a run read and checked, as `podium show` and the front ends read it."""

    model_config = ConfigDict(frozen=True)

    sources: list[Source] = Field(default_factory=list)
    checks: list[ClaimCheck] = Field(default_factory=list)

    def of(self, subtask_id: str) -> list[Source]:
        return [s for s in self.sources if s.subtask_id == subtask_id]

    def findings(self, outputs: dict[str, str], result: str) -> CitationFindings:
        return findings(outputs, result, self.sources, self.checks)
