"""Who hears of which event, what each role may read of it, and the messages they get."""

from __future__ import annotations

from string import Template

import pytest

from followup.core.notify.config import load, parse
from followup.core.notify.models import delivery_id
from followup.core.notify.notices import FACTS, deliveries_for, notice_for
from followup.core.notify.render import render, values
from followup.core.notify.settings import NotifySettings
from followup.core.notify.templates import TEMPLATES
from followup.core.personal import PERSONAL_FIELDS
from followup.events.registry import TYPE_NAMES, json_schema

from .notify_builders import assignment, breach, channels, escalation, warning

CH = channels()
R = CH.recipients


def _to(events: list) -> list[tuple[str, str, str]]:
    found, _ = deliveries_for(events, R)
    return [(d.person_id, d.channel, d.reason) for d in found]


def test_a_warning_reaches_the_owner_on_every_channel_they_have() -> None:
    assert _to([warning()]) == [("E-17", "webhook", "owner"), ("E-17", "email", "owner")]


def test_a_warning_of_an_unassigned_issue_reaches_the_department_manager() -> None:
    assert _to([warning(owner=None, to=None)]) == [
        ("M-T", "webhook", "manager"),
        ("M-T", "email", "manager"),
    ]


def test_a_breach_reaches_the_manager_it_escalates_to_and_the_owner() -> None:
    assert [p for p, c, _ in _to([breach()]) if c == "email"] == ["M-T", "E-17"]
    # An escalation target left out of the event is the configured department manager.
    assert [p for p, c, _ in _to([breach(to=None)]) if c == "email"] == ["M-T", "E-17"]


def test_a_level_2_escalation_reaches_the_director() -> None:
    assert _to([escalation()]) == [("D-1", "webhook", "director"), ("D-1", "email", "director")]
    assert _to([escalation(to="AN-1")])[0][0] == "AN-1"


def test_an_assignment_reaches_the_assignee_unless_they_took_it_themselves() -> None:
    assert _to([assignment()])[0] == ("E-17", "webhook", "assignee")
    assert _to([assignment(by="E-17")]) == []


def test_someone_nobody_configured_is_reported_not_delivered_to() -> None:
    found, unknown = deliveries_for([warning(owner="E-99", to="E-99")], R)
    assert found == []
    assert [(a.person_id, a.reason) for a in unknown] == [("E-99", "owner")]
    no_channel = channels(overrides={"E-17": {"email": None, "webhook": None}})
    found, unknown = deliveries_for([warning()], no_channel.recipients)
    assert (found, [a.person_id for a in unknown]) == ([], ["E-17"])


def test_a_notice_carries_ids_clock_times_and_department_only() -> None:
    notice = notice_for(warning(), R)
    assert notice is not None
    assert dict(notice.facts) == {
        "issue_id": "I-4",
        "customer_id": "C-000127",
        "department": "technical",
        "clock": "resolution",
        "deadline": "2026-12-09T18:00:00+08:00",
        "warned_at": "2026-12-08T15:12:00+08:00",
        "round": 1,
        "owner_id": "E-17",
    }


@pytest.mark.parametrize("type_name", [t for t in FACTS if t in TYPE_NAMES])
def test_no_notified_fact_is_free_text_or_contact_data(type_name: str) -> None:
    schema = json_schema(type_name)
    personal = {p.split("[")[0].split(".")[0] for p in PERSONAL_FIELDS.get(type_name, ())}
    for name in FACTS[type_name]:
        assert name not in personal and name != "contact", name
        prop = schema["properties"][name]
        for option in prop.get("anyOf", [prop]):
            assert option.get("maxLength", 0) <= 200, (type_name, name)


def test_supervisors_admins_and_owning_agents_see_the_customer_analysts_never() -> None:
    by_person = {
        (d.person_id, d.reason): d.facts
        for d in deliveries_for([breach(), escalation(to="AN-1"), warning()], R)[0]
    }
    assert by_person[("M-T", "manager")]["customer_id"] == "C-000127"
    assert by_person[("E-17", "owner")]["customer_id"] == "C-000127"
    assert "customer_id" not in by_person[("AN-1", "director")]
    assert by_person[("AN-1", "director")]["issue_id"] == "I-4"


def test_an_agent_that_is_not_in_charge_does_not_see_the_customer() -> None:
    # Configured as a department's manager by mistake: an agent still sees only its own.
    as_manager = channels(overrides={"M-T": {"role": "agent"}})
    found, _ = deliveries_for([breach()], as_manager.recipients)
    facts = {d.person_id: d.facts for d in found}
    assert "customer_id" not in facts["M-T"]
    assert facts["E-17"]["customer_id"] == "C-000127"


def test_delivery_ids_are_stable_and_differ_by_recipient_and_channel() -> None:
    a = delivery_id("ev-1", "E-17", "email")
    assert a == delivery_id("ev-1", "E-17", "email")
    assert (
        len({a, delivery_id("ev-1", "E-17", "webhook"), delivery_id("ev-1", "M-T", "email")}) == 3
    )


def test_the_owner_reads_a_warning_in_chinese_with_the_deadline_in_the_customers_zone() -> None:
    facts = dict(notice_for(warning(), R).facts)  # type: ignore[union-attr]
    message = render("IssueSlaWarning", facts, "zh-CN")
    assert (
        message.subject == "[followup] 工单 I-4 的解决即将超时（截止 2026-12-09 18:00 (UTC+08:00)）"
    )
    assert "技术部" in message.body
    assert "预警时间：2026-12-08 15:12 (UTC+08:00)" in message.body
    assert "客户：C-000127" in message.body


def test_a_message_without_the_customer_names_no_customer() -> None:
    facts = {k: v for k, v in notice_for(escalation(), R).facts.items() if k != "customer_id"}  # type: ignore[union-attr]
    message = render("IssueEscalated", facts, "en")
    assert message.subject == "[followup] Issue I-4 escalated to level 2"
    assert "C-000127" not in message.body and "Customer" not in message.body


@pytest.mark.parametrize("type_name", list(TEMPLATES))
@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_every_template_uses_only_the_placeholders_render_fills(
    type_name: str, locale: str
) -> None:
    subject, body = TEMPLATES[type_name][locale]  # type: ignore[index]
    names = set(values({}, locale))  # type: ignore[arg-type]
    for text in (subject, body):
        used = {m.group("named") or m.group("braced") for m in Template.pattern.finditer(text)}
        assert used - {None} <= names, used - names


def test_backoff_doubles_up_to_its_bound() -> None:
    s = NotifySettings(retry_initial_s=5, retry_max_s=30)
    assert [s.backoff_s(n) for n in (1, 2, 3, 4, 5)] == [5, 10, 20, 30, 30]


def test_the_readme_example_file_loads(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    example = readme.split("```toml\n# notify.toml")[1].split("```")[0]
    path = tmp_path / "notify.toml"
    path.write_text("# notify.toml" + example)
    monkeypatch.setenv("FOLLOWUP_WEBHOOK_SECRET_OPS", "from-the-environment")
    monkeypatch.setenv("FOLLOWUP_SMTP_PASSWORD", "pw")
    loaded = load(path)
    assert loaded.webhooks["ops-chat"].secret == b"from-the-environment"
    assert loaded.recipients.manager("technical") == "M-TECH-1"
    assert loaded.smtp is not None and loaded.smtp.password() == "pw"


def test_a_file_naming_an_undefined_webhook_or_lacking_a_secret_is_rejected() -> None:
    with pytest.raises(ValueError, match="no webhook named 'chat'"):
        parse({"people": {"E-1": {"role": "agent", "webhook": "chat"}}})
    with pytest.raises(ValueError, match="FOLLOWUP_NOT_SET"):
        parse({"webhooks": {"chat": {"url": "http://x", "secret_env": "FOLLOWUP_NOT_SET"}}})
    with pytest.raises(ValueError, match="no \\[smtp\\] section"):
        parse({"people": {"E-1": {"role": "agent", "email": "e1@x"}}})
