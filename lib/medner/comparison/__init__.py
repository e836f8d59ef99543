"""The comparison over every run of one corpus: the data behind the paper's tables and figures.

Data, then pictures: this package reads run folders (through :mod:`medner.run_folder`) and
computes one dict, written as ``comparison.json``; :mod:`medner.tables` and :mod:`medner.figures`
read that data and import nothing from here. Its modules, in the order the data flows:

* :mod:`.selection`: which runs (:func:`~.selection.load_runs`), the fraction the tables use, and
  every run's test scores (the ``runs`` section, which ``summary.csv`` flattens);
* :mod:`.spreads`: scores over seeds: the main table, the per-label table, the learning curves;
* :mod:`.resampling`: bootstrap intervals of the median-seed runs and approximate randomisation
  between embeddings, seed by seed (the slow part);
* :mod:`.measurements`: training histories, confusion between labels, cost;
* :mod:`.study`: the whole comparison (:func:`~.study.compute_comparison`), the table of its sections
  (:data:`~.study.SECTIONS`, carried in the file under ``about``), reading and writing the file;
* :mod:`.commands`: ``medner compare``, the Makefile's step that writes ``comparison.json``.

Decisions, and why:

* **Which runs.** Tables, significance, confusion and cost use the runs trained on the
  full training set (fraction 1.0; the largest fraction present if no run used all of
  it). Runs on smaller fractions only feed the learning curves.
* **Seed spread.** Every score is reported over seeds as mean, sample standard
  deviation, min, max and every value (Reimers and Gurevych 2017: report
  distributions, not single runs).
* **Confidence interval** and **significance**: see :mod:`.resampling` (the median-seed run's
  bootstrap; approximate randomisation run by run, counted as "k of n seeds significant").
"""
