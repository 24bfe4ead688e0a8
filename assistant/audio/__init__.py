"""Audio: decoding files, checking arrays, writing WAV, playing to a speaker."""
