"""Rendering reply templates (subject, text and HTML) in Jinja2's immutable sandbox.

Templates come from files shipped with the app and from admins (stored in the database), so they are untrusted
code: they run in `ImmutableSandboxedEnvironment` (no access to `__class__`, `__globals__` and the like, no
mutation of lists or dicts passed in), with `StrictUndefined` (a misspelt variable is an error, not an empty
string in a customer's mail). The HTML part is autoescaped; the text part and the subject are not (they are not
HTML). Values in the context are data: a customer's `{{7*7}}` renders as written.

    template = ReplyTemplate(name="ack.en", subject="...", text="...", html="...")
    reply = render_reply(template, {"case_number": "CS-000123", "customer": {"name": "Ann"}})
    reply.subject, reply.text, reply.html

Every failure, at compile or render time, raises `TemplateError` naming the template part and the line.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from types import CodeType
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["RenderedReply", "ReplyTemplate", "TemplateError", "check_template", "render_reply"]


class TemplateError(Exception):
    """A template that does not compile or render; `template` and `line` say where."""

    def __init__(self, template: str, line: int | None, message: str) -> None:
        where = f"{template}, line {line}" if line is not None else template
        super().__init__(f"{where}: {message}")
        self.template = template
        self.line = line
        self.message = message


@dataclass(frozen=True)
class ReplyTemplate:
    """The sources of one reply template; `html` None means a text-only reply."""

    name: str
    subject: str
    text: str
    html: str | None = None


@dataclass(frozen=True)
class RenderedReply:
    subject: str
    text: str
    html: str | None


def _environment(*, autoescape: bool) -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        # A template has no business loading other files; admins' overrides are single sources.
        loader=None,
        auto_reload=False,
    )


_TEXT = _environment(autoescape=False)
_HTML = _environment(autoescape=True)


def _compile(env: jinja2.Environment, source: str, name: str) -> jinja2.Template:
    # Compiling is most of the cost of rendering, and the same few templates answer every message.
    return _compiled(env, source, name)


@functools.lru_cache(maxsize=512)
def _compiled(env: jinja2.Environment, source: str, name: str) -> jinja2.Template:
    try:
        code = env.compile(source, name=name, filename=name)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(name, exc.lineno, exc.message or "syntax error") from exc
    assert isinstance(code, CodeType)
    return env.template_class.from_code(env, code, env.make_globals(None))


def _template_line(name: str) -> int | None:
    """Return the template line of the innermost frame of the exception being handled that ran `name`."""
    line = None
    tb = sys.exc_info()[2]
    while tb is not None:
        # Jinja rewrites tracebacks so that frames of template code carry the template's name and line.
        if tb.tb_frame.f_code.co_filename == name:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _render(env: jinja2.Environment, source: str, name: str, context: Mapping[str, Any]) -> str:
    template = _compile(env, source, name)
    try:
        return template.render(context)
    except jinja2.exceptions.SecurityError as exc:
        raise TemplateError(name, _template_line(name), f"unsafe operation blocked: {exc}") from exc
    except jinja2.UndefinedError as exc:
        raise TemplateError(name, _template_line(name), str(exc.message)) from exc
    except jinja2.TemplateError as exc:
        raise TemplateError(name, _template_line(name), str(exc)) from exc
    except Exception as exc:  # any error inside a template (1/0, bad filter argument) is its fault.
        raise TemplateError(name, _template_line(name), f"{type(exc).__name__}: {exc}") from exc


def check_template(template: ReplyTemplate) -> None:
    """Compile every part of a template; raise TemplateError for the first that does not compile."""
    _compile(_TEXT, template.subject, f"{template.name}:subject")
    _compile(_TEXT, template.text, f"{template.name}:text")
    if template.html is not None:
        _compile(_HTML, template.html, f"{template.name}:html")


def render_reply(template: ReplyTemplate, context: Mapping[str, Any]) -> RenderedReply:
    """Render a template's subject, text and HTML with `context`; raise TemplateError on any failure."""
    subject = _render(_TEXT, template.subject, f"{template.name}:subject", context)
    text = _render(_TEXT, template.text, f"{template.name}:text", context)
    html = _render(_HTML, template.html, f"{template.name}:html", context) if template.html is not None else None
    # A subject is one header line: a newline from the template or a value would inject headers.
    return RenderedReply(subject=" ".join(subject.split()), text=text, html=html)
