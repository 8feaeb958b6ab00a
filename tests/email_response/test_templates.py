"""Reply templates: sandboxed, strict, escaped in HTML, and errors that say where."""

from __future__ import annotations

import pytest

from email_response.templates import ReplyTemplate, TemplateError, check_template, render_reply

ACK = ReplyTemplate(
    name="ack.en",
    subject="Re: {{ subject }} [{{ case_number }}]",
    text="Hello {{ customer.name }},\n\nwe have your message about {{ subject }}.\n",
    html="<p>Hello {{ customer.name }},</p><p>we have your message about {{ subject }}.</p>",
)


def test_renders_subject_text_and_html() -> None:
    reply = render_reply(ACK, {"subject": "Printer", "case_number": "CS-000123", "customer": {"name": "Ann"}})
    assert reply.subject == "Re: Printer [CS-000123]"
    assert reply.text == "Hello Ann,\n\nwe have your message about Printer.\n"
    assert reply.html == "<p>Hello Ann,</p><p>we have your message about Printer.</p>"


def test_html_is_escaped_and_text_is_not() -> None:
    reply = render_reply(ACK, {"subject": "<b>x</b> & y", "case_number": "CS-1", "customer": {"name": "O'Neil"}})
    assert "&lt;b&gt;x&lt;/b&gt; &amp; y" in (reply.html or "")
    assert "<b>x</b> & y" in reply.text


def test_a_customers_template_syntax_is_data() -> None:
    reply = render_reply(ACK, {"subject": "{{7*7}} {% raw %}", "case_number": "CS-1", "customer": {"name": "x"}})
    assert "{{7*7}} {% raw %}" in reply.text
    assert "49" not in reply.text


def test_a_newline_in_the_subject_cannot_inject_a_header() -> None:
    reply = render_reply(
        ACK, {"subject": "hi\r\nBcc: all@example.org", "case_number": "CS-1", "customer": {"name": "x"}}
    )
    assert "\n" not in reply.subject
    assert "\r" not in reply.subject


def test_an_undefined_variable_names_the_template_and_line() -> None:
    template = ReplyTemplate(name="ack.zh", subject="s", text="第一行\n第二行 {{ customer.nmae }}\n")
    with pytest.raises(TemplateError) as caught:
        render_reply(template, {"customer": {"name": "张三"}})
    assert caught.value.template == "ack.zh:text"
    assert caught.value.line == 2
    assert "nmae" in str(caught.value)


def test_a_syntax_error_names_the_template_and_line() -> None:
    template = ReplyTemplate(name="broken", subject="ok", text="ok", html="<p>\n{% if x %}\n<p>no endif")
    with pytest.raises(TemplateError) as caught:
        check_template(template)
    assert caught.value.template == "broken:html"
    assert caught.value.line == 3


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ customer.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{% set x = customer.update({'name': 'pwned'}) %}{{ x }}",
    ],
)
def test_template_injection_is_blocked(source: str) -> None:
    with pytest.raises(TemplateError) as caught:
        render_reply(ReplyTemplate(name="evil", subject="s", text=source), {"customer": {"name": "Ann"}})
    assert caught.value.template == "evil:text"
    assert caught.value.line == 1


def test_an_error_inside_the_template_is_a_template_error() -> None:
    with pytest.raises(TemplateError, match="ZeroDivisionError"):
        render_reply(ReplyTemplate(name="math", subject="s", text="{{ 1 // 0 }}"), {})
