"""marginlex.engine: books, the account graph, compilation and vectorized evaluation."""
