"""Errors the knowledge base raises; the web layer maps them to HTTP statuses."""

from __future__ import annotations

__all__ = ["ArticleInUse", "ArticleNotFound", "InvalidArticle", "KnowledgeBaseError"]


class KnowledgeBaseError(Exception):
    """A request about articles that cannot be carried out."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ArticleNotFound(KnowledgeBaseError):
    """No such article (or not one the asker may see)."""


class InvalidArticle(KnowledgeBaseError):
    """An article's fields are not acceptable."""


class ArticleInUse(KnowledgeBaseError):
    """The article was published: it may be archived, not deleted."""
