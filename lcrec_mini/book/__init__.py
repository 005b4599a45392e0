"""The book's helpers: notebook setup, tables, figures, the explorer, published numbers."""
