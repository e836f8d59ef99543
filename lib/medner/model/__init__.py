"""The tagger of the study: an encoder (``encoder``: dropouts, re-projection, BiLSTM) and a tagging head
(``heads``: linear + CRF from ``crf``, or linear + softmax), composed in ``tagger``; how they compute
(``compute``) and the fast CPU implementation of the same maths (``fused``)."""

from medner.model.compute import IMPLEMENTATIONS, PRECISIONS
from medner.model.crf import LinearChainCRF
from medner.model.dropout import LockedDropout, WordDropout
from medner.model.encoder import BiLSTMEncoder
from medner.model.heads import CRFHead, SoftmaxHead
from medner.model.tagger import BiLSTMCRFTagger

__all__ = ["IMPLEMENTATIONS", "PRECISIONS", "BiLSTMCRFTagger", "BiLSTMEncoder", "CRFHead", "LinearChainCRF",
           "LockedDropout", "SoftmaxHead", "WordDropout"]
