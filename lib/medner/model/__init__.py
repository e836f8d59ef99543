"""The tagger of the study: a BiLSTM-CRF over cached token vectors (see ``tagger``) and its CRF layer (``crf``)."""

from medner.model.crf import LinearChainCRF
from medner.model.tagger import BiLSTMCRFTagger, LockedDropout, WordDropout

__all__ = ["BiLSTMCRFTagger", "LinearChainCRF", "LockedDropout", "WordDropout"]
