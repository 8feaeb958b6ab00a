"""Knowledge base: articles, versions, full-text search and suggestions.

Modules (none imports aiohttp or `contact_center`):
- `models`: the tables (articles, versions, feedback, the spelling vocabulary) and the hook that builds the index.
- `service`: every change to an article (`do_*`), each saving a version and keeping the index current.
- `search`: `search_articles(session, text, scope=...)` and `suggest_articles(session, text, language, limit)`.
- `index`: the `SearchIndex` interface; `fts5` (SQLite) and `tsearch` (PostgreSQL) implement it; `schema` holds
  the index's DDL.
- Pure decisions: `text` (tokens, CJK bigrams), `query` (web-search syntax), `ranking`, `snippets`, `spelling`,
  `rendering` (Markdown to sanitised HTML).
"""
