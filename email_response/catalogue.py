"""The reply templates on offer: defaults shipped as files, overridden by admins' versions, per language and category.

A template is known by its name (`acknowledgement`, `oversize`, `resolved`, ...), its language (`en`, `zh`, ...)
and optionally a category (`billing`): the category's version is used for a case of that category, the general
one otherwise. `choose` falls back from the asked language to English, so a Spanish customer still gets an
answer while nobody has written a Spanish template. Overrides replace the file with the same key.

    catalogue = TemplateCatalogue.from_files(DEFAULTS).with_overrides(rows_from_the_database)
    entry = catalogue.choose("acknowledgement", language="zh", category="billing")
    render_reply(entry.template, context)

Default files are YAML, one template each: `name`, `language`, optional `category`, `subject`, `text`, optional
`html`. Every template is compiled when loaded, so a broken file stops start-up naming it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import yaml

from email_response.templates import ReplyTemplate, TemplateError, check_template

__all__ = [
    "DEFAULTS",
    "FALLBACK_LANGUAGE",
    "CatalogueEntry",
    "TemplateCatalogue",
    "TemplateFileError",
    "TemplateKey",
]

DEFAULTS = Path(__file__).parent / "defaults"
FALLBACK_LANGUAGE = "en"
_KEYS = {"name", "language", "category", "subject", "text", "html"}

Source = Literal["file", "database"]


class TemplateFileError(ValueError):
    """A shipped template file that cannot be used."""


@dataclass(frozen=True, order=True)
class TemplateKey:
    """Name, language and category ("" for every category) of one template."""

    name: str
    language: str
    category: str = ""


@dataclass(frozen=True)
class CatalogueEntry:
    key: TemplateKey
    template: ReplyTemplate
    source: Source


def _entry(key: TemplateKey, subject: str, text: str, html: str | None, source: Source) -> CatalogueEntry:
    label = ".".join(part for part in (key.name, key.category, key.language) if part)
    template = ReplyTemplate(name=label, subject=subject, text=text, html=html)
    check_template(template)
    return CatalogueEntry(key, template, source)


def _file_entry(path: Path) -> CatalogueEntry:
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TemplateFileError(f"{path}: {exc}") from exc
    if not isinstance(data, Mapping):
        raise TemplateFileError(f"{path}: expected a mapping of {', '.join(sorted(_KEYS))}")
    unknown = set(data) - _KEYS
    if unknown:
        raise TemplateFileError(f"{path}: unknown keys {sorted(unknown)}")
    for required in ("name", "language", "subject", "text"):
        if not isinstance(data.get(required), str) or not data[required]:
            raise TemplateFileError(f"{path}: {required} must be a non-empty string")
    html = data.get("html")
    category = data.get("category") or ""
    if not isinstance(category, str) or (html is not None and not isinstance(html, str)):
        raise TemplateFileError(f"{path}: category and html must be strings")
    key = TemplateKey(data["name"], data["language"].lower(), category)
    try:
        return _entry(key, data["subject"], data["text"], html, "file")
    except TemplateError as exc:
        raise TemplateFileError(f"{path}: {exc}") from exc


@dataclass(frozen=True)
class TemplateCatalogue:
    """Every template by key; admins' overrides already applied."""

    entries: Mapping[TemplateKey, CatalogueEntry]

    @classmethod
    def from_files(cls, directory: Path = DEFAULTS) -> TemplateCatalogue:
        """Load every `*.yaml` template of a directory; raise TemplateFileError for a bad or repeated one."""
        entries: dict[TemplateKey, CatalogueEntry] = {}
        for path in sorted(directory.glob("*.yaml")):
            entry = _file_entry(path)
            if entry.key in entries:
                raise TemplateFileError(f"{path}: a second template for {entry.key}")
            entries[entry.key] = entry
        return cls(entries)

    def with_overrides(
        self, overrides: Iterable[tuple[TemplateKey, str, str, str | None]], *, skip_broken: bool = True
    ) -> TemplateCatalogue:
        """Return the catalogue with (key, subject, text, html) overrides replacing files of the same key.

        An override that no longer compiles (it was stored by an older version) is skipped, not fatal: the
        shipped default keeps answering customers. Overrides are checked when admins save them.
        """
        entries = dict(self.entries)
        for key, subject, text, html in overrides:
            try:
                entries[key] = _entry(key, subject, text, html, "database")
            except TemplateError:
                if not skip_broken:
                    raise
        return replace(self, entries=entries)

    def choose(self, name: str, *, language: str | None, category: str | None = None) -> CatalogueEntry | None:
        """Return the best template: asked language, then English; the category's version before the general one."""
        languages = [lang for lang in dict.fromkeys([(language or "").lower(), FALLBACK_LANGUAGE]) if lang]
        for lang in languages:
            for cat in dict.fromkeys([category or "", ""]):
                entry = self.entries.get(TemplateKey(name, lang, cat))
                if entry is not None:
                    return entry
        return None

    def names(self) -> list[str]:
        """Return the template names on offer, sorted."""
        return sorted({key.name for key in self.entries})

    def listing(self) -> list[CatalogueEntry]:
        """Return every entry sorted by name, language and category."""
        return [self.entries[key] for key in sorted(self.entries)]
