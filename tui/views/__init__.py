"""What the screens show, one module per screen: pure functions of an analysis result and the view settings.

No numbers are computed here beyond selecting, sorting and formatting what ``analysis`` returned; the
screens stay thin and these functions are tested without a terminal.
"""
