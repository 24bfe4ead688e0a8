"""App services that outlive a single turn: the timer store and its ringer, the document index."""
