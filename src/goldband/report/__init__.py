"""Reports: the terminal table and summary, HTML, Markdown and JSON per run, and base-vs-head comparisons."""
