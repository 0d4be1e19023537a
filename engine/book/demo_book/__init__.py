"""Package data: the demo book (CSV files and book.json), read by ``load_demo_book``."""
