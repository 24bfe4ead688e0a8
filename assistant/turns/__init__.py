"""Turn-taking in a spoken conversation: machine.py holds the pure state machine (TurnTaker), with its
end-of-turn rules in rules.py and its part for a tool's yes/no question in asking.py; state.py what it keeps
between events, messages.py what goes into it and comes out of it, and the record of a turn.

What it decides:
- a turn ends at the speculative silence when it is a clear question ("What time is it in Tokyo?") and the
  chat model, prefilled with its transcript, finds the words finished (the probability that the sentence
  ends after the last word, turn_end_threshold); speech resuming after that withdraws the early answer;
  otherwise it ends after end_silence_ms, once the guess is in (GUESS_WAIT_S at most);
- a turn whose transcript stops mid-sentence ("set a timer for,") or that the model finds very likely
  to go on (below turn_hold_threshold: "What is seven times?") is held open for another end_silence_ms:
  speech in that time continues it, and the whole is transcribed as one utterance;
- speech over Sori's answer stops it (barge-in) and starts a new turn; so does a typed line;
- while a yes/no question waits, the next utterance (or typed line) answers it instead; an unclear
  spoken answer is asked once more; silence for confirm_timeout_s after the question is a no;
- one answer at a time: an announcement waits for the answer being spoken and for the user to finish.
"""

from assistant.turns.machine import MAX_TURN_S, TurnTaker
from assistant.turns.messages import TurnRecord

__all__ = ["MAX_TURN_S", "TurnRecord", "TurnTaker"]
