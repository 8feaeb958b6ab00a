"""The template catalogue: shipped files per language and category, admins' overrides, and the fallbacks."""

from __future__ import annotations

import pytest

from email_response.catalogue import TemplateCatalogue, TemplateFileError, TemplateKey
from email_response.templates import render_reply


def test_the_shipped_templates_cover_english_and_chinese_and_all_compile():
    catalogue = TemplateCatalogue.from_files()
    keys = {(entry.key.name, entry.key.language) for entry in catalogue.listing()}
    for name in ("acknowledgement", "oversize", "reply", "resolved", "more-information"):
        assert (name, "en") in keys
        assert (name, "zh") in keys
    assert all(entry.source == "file" for entry in catalogue.listing())


@pytest.mark.parametrize(
    ("language", "category", "expected"),
    [
        ("zh", "billing", ("zh", "billing")),
        ("zh", "outage", ("zh", "")),
        ("fr", "billing", ("en", "billing")),
        ("fr", None, ("en", "")),
        ("ZH", None, ("zh", "")),
        (None, None, ("en", "")),
    ],
)
def test_choose_prefers_the_language_then_english_and_the_category_then_the_general(language, category, expected):
    entry = TemplateCatalogue.from_files().choose("acknowledgement", language=language, category=category)
    assert entry is not None
    assert (entry.key.language, entry.key.category) == expected


def test_an_override_replaces_the_file_and_a_broken_one_is_skipped():
    base = TemplateCatalogue.from_files()
    key = TemplateKey("acknowledgement", "en")
    catalogue = base.with_overrides(
        [
            (key, "{{ subject }}", "Ours: {{ case_number }}", None),
            (TemplateKey("resolved", "en"), "{{ subject }}", "{% if %}", None),
        ]
    )
    entry = catalogue.choose("acknowledgement", language="en")
    assert entry is not None
    assert entry.source == "database"
    assert render_reply(entry.template, {"subject": "s", "case_number": "CS-000001"}).text == "Ours: CS-000001"
    resolved = catalogue.choose("resolved", language="en")
    assert resolved is not None
    assert resolved.source == "file"
    assert catalogue.choose("no-such", language="en") is None


def test_a_bad_template_file_stops_loading_naming_the_file(tmp_path):
    (tmp_path / "a.yaml").write_text("name: a\nlanguage: en\nsubject: x\ntext: '{{ broken'\n")
    with pytest.raises(TemplateFileError, match=r"a\.yaml"):
        TemplateCatalogue.from_files(tmp_path)
    (tmp_path / "a.yaml").write_text("name: a\nlanguage: en\nsubject: x\ntext: y\ncolour: red\n")
    with pytest.raises(TemplateFileError, match="unknown keys"):
        TemplateCatalogue.from_files(tmp_path)
    (tmp_path / "a.yaml").write_text("name: a\nlanguage: en\nsubject: x\ntext: y\n")
    (tmp_path / "b.yaml").write_text("name: a\nlanguage: en\nsubject: x\ntext: z\n")
    with pytest.raises(TemplateFileError, match="second template"):
        TemplateCatalogue.from_files(tmp_path)
