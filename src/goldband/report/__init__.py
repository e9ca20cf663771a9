"""Reports: the terminal failure table and summary (HTML, Markdown, JSON come later)."""
