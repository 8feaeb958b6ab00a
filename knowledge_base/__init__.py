"""Knowledge base: articles, versions, full-text search and suggestions."""
