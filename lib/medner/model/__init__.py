"""The tagger of the study: a BiLSTM-CRF over cached token vectors (see ``tagger``), its CRF layer (``crf``)
and the fused CPU implementation of its bidirectional LSTM (``lstm``)."""

from medner.model.crf import LinearChainCRF
from medner.model.tagger import BiLSTMCRFTagger, LockedDropout, WordDropout

__all__ = ["BiLSTMCRFTagger", "LinearChainCRF", "LockedDropout", "WordDropout"]
