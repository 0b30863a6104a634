"""The leader's review as Markdown: the result line stays apart from the last bullet."""

from markdown_it import MarkdownIt

from podium.orchestrator.review import verdict_text


def test_the_review_message_is_a_heading_line_a_list_and_a_result_paragraph() -> None:
    text = verdict_text({"overall": "needs work: t2", "reasons": "Missing a cost table.",
                         "verdicts": [{"subtask_id": "t1", "ok": True, "reasons": "three sources"},
                                      {"subtask_id": "t2", "ok": False, "reasons": ""}]})
    tokens = MarkdownIt().parse(text)
    items = [t for t in tokens if t.type == "list_item_open"]
    top_paragraphs = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "paragraph_open"
                      and t.level == 0]
    assert len(items) == 2
    assert top_paragraphs == ["Review: needs work: t2", "Result: Missing a cost table."]


def test_a_verdict_without_subtask_verdicts_does_not_claim_they_were_checked() -> None:
    from pydantic import BaseModel

    from podium.domain import Subtask
    from podium.orchestrator.review import review_schema, verdict_payload

    subtasks = [Subtask(id="t1", agent="ana", description="Collect sources")]
    draft: BaseModel = review_schema(subtasks)(verdicts=[], result_ok=True, reasons="fine")
    overall = verdict_payload(draft, subtasks)["overall"]
    assert overall == "meets the objective (no subtask was checked on its own)"
    draft = review_schema(subtasks)(verdicts=[{"subtask_id": "t1", "ok": True}], result_ok=True)
    assert verdict_payload(draft, subtasks)["overall"] == "meets the criteria (1 of 1 subtasks checked)"
