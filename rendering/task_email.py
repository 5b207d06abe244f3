"""The e-mail a human task sends to the people it waits on: the request, each reminder,
and the escalation to the backup. Staff-facing, in English (people carry no locale yet)."""

from __future__ import annotations

import datetime as dt

from domain.tasks import Assignee, HumanTask, NoticeKind
from rendering.i18n import babel_locale, environment, html_lang
from rendering.invoice_email import RenderedEmail

_KIND_LABEL = {"request": "Waiting for you", "reminder": "Reminder", "escalation": "Escalated"}


def render_task_email(
    task: HumanTask,
    person: Assignee,
    kind: NoticeKind,
    *,
    details: str = "",
    deadline: dt.datetime | None = None,
    link: str | None = None,
) -> RenderedEmail:
    locale = babel_locale(None)
    label = _KIND_LABEL[kind]
    subject = f"{label}: {task.title}"
    heading = {
        "request": "A decision is waiting for you",
        "reminder": "A decision is still waiting for you",
        "escalation": "This decision has been escalated to you",
    }[kind]
    context = {
        "task": task,
        "person": person,
        "subject": subject,
        "heading": heading,
        "kind_label": label,
        "details": details,
        "choices": ", ".join(c.replace("_", " ") for c in (*task.choices, *task.noting)),
        "deadline": f"Please decide by {deadline:%Y-%m-%d %H:%M} UTC." if deadline else "",
        "lang": html_lang(locale),
        "link": link,
    }
    env = environment(locale)
    return RenderedEmail(
        subject=subject,
        html=env.get_template("task_email.html").render(context),
        text=env.get_template("task_email.txt").render(context),
    )
