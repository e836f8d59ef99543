"""The reference systems of the papers a reader compares the study with: they differ in more than the embedding.

``finetune`` and ``finetune-crf``: a BERT-family encoder of ``embeddings/`` fine-tuned end to end with a
softmax or the study's CRF head (:mod:`.finetune`); ``scratch-crf``: a small Transformer-CRF trained from
scratch on the run's tokens (:mod:`.scratch`). Both train with :mod:`.training` (AdamW, linear warm-up and
decay) and run through the study's stages (:mod:`medner.runs`, ``RunSettings.kind``).
"""
