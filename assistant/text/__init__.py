"""Text shaping between the language model and the voice: sentence splitting and speech normalization."""
