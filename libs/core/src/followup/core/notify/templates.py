"""Message templates by event type and locale: (subject, body), `string.Template` syntax.

Every placeholder is filled by render.values(); a template that names anything else fails
its test, so a template cannot reach a fact the recipient's role may not see.
"""

from __future__ import annotations

from collections.abc import Mapping

from followup.core.notify.models import Locale

Templates = Mapping[str, Mapping[Locale, tuple[str, str]]]

TEMPLATES: Templates = {
    "IssueSlaWarning": {
        "zh-CN": (
            "[followup] 工单 $issue_id 的$clock即将超时（截止 $deadline）",
            "工单 $issue_id（$department）的$clock时限已用去大部分，请在截止前处理。\n"
            "截止时间：$deadline\n预警时间：$at\n负责人：$owner\n$customer",
        ),
        "en": (
            "[followup] Issue $issue_id: $clock due $deadline",
            "Issue $issue_id ($department) has used most of its $clock time; act before the "
            "deadline.\nDeadline: $deadline\nWarned at: $at\nOwner: $owner\n$customer",
        ),
    },
    "IssueSlaBreached": {
        "zh-CN": (
            "[followup] 工单 $issue_id 的$clock已超时",
            "工单 $issue_id（$department）的$clock已超过截止时间，已升级至部门经理。\n"
            "截止时间：$deadline\n负责人：$owner\n$customer",
        ),
        "en": (
            "[followup] Issue $issue_id: $clock breached",
            "Issue $issue_id ($department) ran past its $clock deadline and is escalated to "
            "the department manager.\nDeadline: $deadline\nOwner: $owner\n$customer",
        ),
    },
    "IssueEscalated": {
        "zh-CN": (
            "[followup] 工单 $issue_id 超时未结，升级至第 $level 级",
            "工单 $issue_id（$department）的$clock超时后仍未解决，现升级至第 $level 级。\n"
            "截止时间：$deadline\n升级时间：$at\n负责人：$owner\n$customer",
        ),
        "en": (
            "[followup] Issue $issue_id escalated to level $level",
            "Issue $issue_id ($department) is still open after its $clock breached; it is "
            "escalated to level $level.\nDeadline: $deadline\nEscalated at: $at\n"
            "Owner: $owner\n$customer",
        ),
    },
    "IssueAssigned": {
        "zh-CN": (
            "[followup] 工单 $issue_id 已分派给您",
            "工单 $issue_id（$department）已分派给您。\n分派时间：$at\n分派人：$by\n$customer",
        ),
        "en": (
            "[followup] Issue $issue_id is assigned to you",
            "Issue $issue_id ($department) is assigned to you.\nAssigned at: $at\n"
            "Assigned by: $by\n$customer",
        ),
    },
    "VisitAssigned": {
        "zh-CN": (
            "[followup] 回访 $visit_id 已分派给您",
            "回访 $visit_id 已分派给您。\n分派时间：$at\n分派人：$by\n$customer",
        ),
        "en": (
            "[followup] Visit $visit_id is assigned to you",
            "Visit $visit_id is assigned to you.\nAssigned at: $at\nAssigned by: $by\n$customer",
        ),
    },
}

CLOCKS: Mapping[Locale, Mapping[str, str]] = {
    "zh-CN": {"handover": "交接", "first_response": "首次响应", "resolution": "解决"},
    "en": {"handover": "handover", "first_response": "first response", "resolution": "resolution"},
}

DEPARTMENTS: Mapping[Locale, Mapping[str, str]] = {
    "zh-CN": {"after_sales": "售后部", "technical": "技术部", "customer_service": "客服部"},
    "en": {
        "after_sales": "after-sales",
        "technical": "technical",
        "customer_service": "customer service",
    },
}

WORDS: Mapping[Locale, Mapping[str, str]] = {
    "zh-CN": {"customer": "客户：", "none": "无", "routing": "自动分派"},
    "en": {"customer": "Customer: ", "none": "none", "routing": "routing"},
}
