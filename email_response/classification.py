"""Classifying a message for routing: category, required skills and priority from rules, plus its language.

Pure. Rules come from configuration as a mapping and are checked once with `load_rules` (a bad rule raises
`RulesError` naming it, so start-up stops with a clear message):

    rules = load_rules({
        "billing": {"keywords": ["invoice", "refund", "发票"], "patterns": [r"\\border\\s+#?\\d+"],
                    "skills": {"billing": 1}, "priority": "normal", "queue": "billing"},
        "outage": {"keywords": ["down", "outage"], "skills": {"technical": 2}, "priority": "urgent"},
    })
    result = classify(msg.subject, msg.text, rules)
    result.category, result.required_skills, result.priority, result.queue, result.language

The category with the most matches wins; ties go to the rule listed first. No match gives category None, no
skills, priority and queue None (the app's defaults). `priority` is a plain string the app maps to its own enum.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Classification", "Rule", "RulesError", "classify", "detect_language", "load_rules"]

PRIORITIES = ("low", "normal", "high", "urgent")


class RulesError(ValueError):
    """A classification rule in the configuration that cannot be used."""


@dataclass(frozen=True)
class Rule:
    category: str
    keywords: tuple[str, ...] = ()
    patterns: tuple[re.Pattern[str], ...] = ()
    skills: Mapping[str, int] = field(default_factory=dict)
    priority: str | None = None
    queue: str | None = None


@dataclass(frozen=True)
class Classification:
    category: str | None
    required_skills: dict[str, int]
    priority: str | None
    language: str
    matched: tuple[str, ...] = ()
    queue: str | None = None


def load_rules(config: Mapping[str, Any]) -> tuple[Rule, ...]:
    """Return rules from a {category: {keywords, patterns, skills, priority, queue}} mapping; raise RulesError."""
    rules = []
    for category, spec in config.items():
        if not isinstance(spec, Mapping):
            raise RulesError(f"rule {category!r}: expected a mapping, got {type(spec).__name__}")
        unknown = set(spec) - {"keywords", "patterns", "skills", "priority", "queue"}
        if unknown:
            raise RulesError(f"rule {category!r}: unknown keys {sorted(unknown)}")
        keywords = spec.get("keywords", [])
        patterns = spec.get("patterns", [])
        if not isinstance(keywords, list | tuple) or not all(isinstance(k, str) and k.strip() for k in keywords):
            raise RulesError(f"rule {category!r}: keywords must be a list of non-empty strings")
        if not isinstance(patterns, list | tuple) or not all(isinstance(p, str) for p in patterns):
            raise RulesError(f"rule {category!r}: patterns must be a list of strings")
        compiled = []
        for pattern in patterns:
            try:
                compiled.append(re.compile(pattern, re.IGNORECASE))
            except re.error as exc:
                raise RulesError(f"rule {category!r}: pattern {pattern!r} is not a valid regex: {exc}") from exc
        skills = spec.get("skills", {})
        if not isinstance(skills, Mapping) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 0 for k, v in skills.items()
        ):
            raise RulesError(f"rule {category!r}: skills must map skill names to levels (integers >= 0)")
        priority = spec.get("priority")
        if priority is not None and priority not in PRIORITIES:
            raise RulesError(f"rule {category!r}: priority must be one of {', '.join(PRIORITIES)}")
        queue = spec.get("queue")
        if queue is not None and (not isinstance(queue, str) or not queue.strip()):
            raise RulesError(f"rule {category!r}: queue must be a queue name")
        if not keywords and not patterns:
            raise RulesError(f"rule {category!r}: needs keywords or patterns")
        rules.append(
            Rule(
                category=str(category),
                keywords=tuple(k.strip().casefold() for k in keywords),
                patterns=tuple(compiled),
                skills=dict(skills),
                priority=priority,
                queue=queue.strip() if queue else None,
            )
        )
    return tuple(rules)


def _keyword_hits(keyword: str, text: str) -> int:
    # Scripts without spaces between words (Chinese, Japanese, Thai) cannot use word boundaries.
    if any(ord(char) > 0x2E7F for char in keyword):
        return text.count(keyword)
    return len(re.findall(rf"(?<!\w){re.escape(keyword)}(?!\w)", text))


def classify(subject: str, text: str, rules: Sequence[Rule], *, default_language: str = "en") -> Classification:
    """Return the category, skills and priority of the best-matching rule, and the message's language."""
    content = f"{subject}\n{text}".casefold()
    best: Rule | None = None
    best_score = 0
    best_matched: list[str] = []
    for rule in rules:
        matched = [k for k in rule.keywords if _keyword_hits(k, content)]
        matched += [p.pattern for p in rule.patterns if p.search(content)]
        score = sum(_keyword_hits(k, content) for k in rule.keywords) + sum(
            len(p.findall(content)) for p in rule.patterns
        )
        if score > best_score:
            best, best_score, best_matched = rule, score, matched
    language = detect_language(f"{subject}\n{text}", default=default_language)
    if best is None:
        return Classification(None, {}, None, language)
    return Classification(
        best.category, dict(best.skills), best.priority, language, tuple(best_matched), queue=best.queue
    )


# Scripts that name their language well enough for routing. Han alone is Chinese; Han mixed with kana is Japanese.
_SCRIPT_LANGUAGES = {
    "HANGUL": "ko",
    "CYRILLIC": "ru",
    "ARABIC": "ar",
    "HEBREW": "he",
    "GREEK": "el",
    "THAI": "th",
    "DEVANAGARI": "hi",
}
# A handful of the most frequent words per Latin-script language: enough to tell a support request's language.
_LATIN_STOPWORDS = {
    "en": {"the", "and", "is", "you", "to", "of", "my", "it", "not", "have", "please", "thanks", "with", "this"},
    "es": {"el", "la", "los", "que", "de", "y", "es", "mi", "por", "favor", "gracias", "para", "con", "no"},
    "fr": {"le", "la", "les", "est", "et", "je", "vous", "mon", "pas", "merci", "pour", "avec", "une", "des"},
    "de": {"der", "die", "das", "und", "ist", "ich", "nicht", "mein", "bitte", "danke", "mit", "ein", "eine"},
    "pt": {"o", "os", "que", "de", "e", "é", "meu", "não", "por", "favor", "obrigado", "para", "com", "uma"},
}
_WORD = re.compile(r"[^\W\d_]+")
_QUOTED_LINE = re.compile(r"(?m)^>.*$")


def _script(char: str) -> str | None:
    if not char.isalpha():
        return None
    code = ord(char)
    if 0x3040 <= code <= 0x30FF:
        return "KANA"
    if 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0xF900 <= code <= 0xFAFF:
        return "HAN"
    try:
        return unicodedata.name(char).split()[0]
    except ValueError:
        return None


def detect_language(text: str, *, default: str = "en") -> str:
    """Return a language code guessed from the script (zh, ja, ko, ru, ...) or, for Latin text, common words."""
    # Quoted earlier messages are often in another language than the new text.
    text = _QUOTED_LINE.sub("", text)
    scripts = Counter(script for script in map(_script, text) if script is not None)
    letters = sum(scripts.values())
    if not letters:
        return default
    if scripts["KANA"] and scripts["KANA"] + scripts["HAN"] >= letters * 0.2:
        return "ja"
    # Chinese text packs a word into one or two characters, so a smaller share of Han characters already
    # means the writer is writing Chinese (often with English product names around it).
    if scripts["HAN"] >= letters * 0.2:
        return "zh"
    named = [(count, script) for script, count in scripts.items() if script in _SCRIPT_LANGUAGES]
    if named:
        count, script = max(named)
        if count >= letters * 0.3:
            return _SCRIPT_LANGUAGES[script]
    words = [word.casefold() for word in _WORD.findall(text)]
    scores = {lang: sum(1 for word in words if word in stop) for lang, stop in _LATIN_STOPWORDS.items()}
    best = max(scores, key=lambda lang: scores[lang])
    return best if scores[best] > 0 and scores[best] > scores.get(default, 0) else default
