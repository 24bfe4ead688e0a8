"""The Berkeley Function Calling Leaderboard as a benchmark of Sori's tool calls (`sori bench bfcl`)."""
