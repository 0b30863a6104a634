"""Citations: ids in text, the deterministic claim check, the references list built from records."""

from __future__ import annotations

from podium.citations import (
    REFERENCES_HEADING,
    CitedClaim,
    ClaimVerdict,
    Source,
    SourceKind,
    check_claim,
    cited_numbers,
    cited_sentences,
    strip_references,
    unknown_citations,
    with_references,
)

PAGE = ("Heat pumps in Norway. In 2023, 60 percent of Norwegian homes heated with a heat pump. "
        "Installers reported a record year.")


def _source(number: int, text: str = PAGE, url: str = "https://example.org/a", title: str = "Norway",
            kind: SourceKind = SourceKind.PAGE) -> Source:
    return Source(execution_id="r1", number=number, subtask_id="t1", agent="researcher", kind=kind, url=url,
                  title=title, fetched_at=1_700_000_000.0, sha256="ab" * 32, chars=len(text), text=text)


def test_citations_are_found_in_order_with_several_ids_per_bracket():
    text = "A [S2]. B [S1, S3]; C [s2] and [S4;S5]. Not [X1] nor [S]."
    assert cited_numbers(text) == [2, 1, 3, 4, 5]
    assert unknown_citations(text, [1, 2, 3]) == ["S4", "S5"]


def test_each_cited_sentence_is_a_claim_per_source():
    claims = cited_sentences("Heat pumps heat 60 percent of homes [S1][S2]. No citation here.\n- Other [S3]")
    assert [(c.claim, c.source) for c in claims] == [
        ("Heat pumps heat 60 percent of homes .", "S1"), ("Heat pumps heat 60 percent of homes .", "S2"),
        ("Other", "S3")]


def test_a_claim_is_supported_unsupported_or_not_found():
    sources = {1: _source(1)}
    supported = check_claim(CitedClaim(claim="60 percent of Norwegian homes heated with a heat pump in 2023",
                                       source="S1"), sources)
    assert supported.verdict is ClaimVerdict.SUPPORTED and "60 percent" in supported.evidence
    wrong_number = check_claim(CitedClaim(claim="90 percent of Norwegian homes heat with a heat pump",
                                          source="[S1]"), sources)
    assert wrong_number.verdict is ClaimVerdict.UNSUPPORTED and "missing: 90" in wrong_number.evidence
    off_topic = check_claim(CitedClaim(claim="Solar panels doubled in Spain", source="S1"), sources)
    assert off_topic.verdict is ClaimVerdict.UNSUPPORTED
    fabricated = check_claim(CitedClaim(claim="60 percent of Norwegian homes", source="S7"), sources)
    assert fabricated.verdict is ClaimVerdict.NOT_FOUND and fabricated.source == "S7"


def test_a_quote_must_be_in_the_source_word_for_word():
    sources = {1: _source(1)}
    ok = check_claim(CitedClaim(claim="record", source="S1", quote="installers reported a RECORD year"),
                     sources)
    assert ok.verdict is ClaimVerdict.SUPPORTED
    bad = check_claim(CitedClaim(claim="record", source="S1", quote="installers reported a bad year"),
                      sources)
    assert bad.verdict is ClaimVerdict.UNSUPPORTED


def test_references_come_from_the_records_and_flag_unknown_ids():
    sources = [_source(1), _source(2, url="https://example.org/b", title="Boilers"), _source(3)]
    text = "Most homes use heat pumps [S1]. Boilers fade [S9].\n\n## References\n- [S1] made up by the model"
    out = with_references(text, sources)
    body, refs = out.split(REFERENCES_HEADING)
    assert "made up by the model" not in out
    assert body.strip() == "Most homes use heat pumps [S1]. Boilers fade [S9]."
    assert "[S1] Norway — https://example.org/a (fetched" in refs and "sha256 abababababab" in refs
    assert "[S2]" not in refs and "[S3]" not in refs  # not cited
    assert "Cited but never recorded" in refs and "[S9]" in refs


def test_without_citations_the_parts_or_all_sources_are_listed():
    sources = [_source(1), _source(2, url="https://example.org/b")]
    assert "[S2]" in with_references("no ids", sources, also_cited=["a part [S2]"])
    assert "[S1]" not in with_references("no ids", sources, also_cited=["a part [S2]"])
    everything = with_references("no ids", sources)
    assert "[S1]" in everything and "[S2]" in everything and "the sources the team read" in everything
    assert with_references("no ids", []) == "no ids"
    assert strip_references("Text\n\n**Sources:**\n- x") == "Text"
