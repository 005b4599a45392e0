"""Data: a source of interactions and item text in LC-Rec's formats, the leave-one-out split."""
