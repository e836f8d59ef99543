# medner: the embedding study for clinical medication NER.
# `make all` runs the study; `make test` runs the tests; `make help` lists every target.
# Both set up .venv first when it is missing or older than the dependency list.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PY := $(BIN)/python

.PHONY: help setup test

help: ## List every target with what it does
	@grep -hE '^[A-Za-z0-9_./%-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | awk -F'\t' '{printf "  %-18s %s\n", $$1, $$2}'

setup: $(STAMP) ## Create .venv with the pinned environment (runs by itself when needed)

$(STAMP): requirements.txt constraints.txt pyproject.toml
	@echo "== setting up $(VENV) (pinned versions from requirements.txt + constraints.txt; a few minutes the first time)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -r requirements.txt -c constraints.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

test: $(STAMP) ## Run the test suite (what CI runs)
	$(PY) -m pytest

# ============================================================================ the study
# Every step is a notebook executed by papermill into results/; its target is the
# file the notebook writes last, so an interrupted `make all` resumes where it
# stopped and `make -j2 all` runs independent runs side by side.

# Variables (`make variables` shows their values):
CORPUS ?= demo
CORPUS_PATH ?=
LABEL_MAP ?=
EMBEDDINGS ?= glove flair bert
SEEDS ?= 1 2 3
FRACTIONS ?= 1.0
FOLDS ?=
REFERENCES ?=
REFERENCE_EMBEDDINGS ?= bert
EPOCHS ?= 20
THREADS ?=
DEMO_SIZE ?= 3000
RELATIONS ?= 1
# One seed by default: the relation runs double the study's training, and the demo's make all stays within 20 minutes.
RELATION_SEEDS ?= $(firstword $(SEEDS))
ERRORS_N ?= 20
MEDNER_ROOT ?= $(CURDIR)
RESULTS ?= $(MEDNER_ROOT)/results
FIGURES ?= $(MEDNER_ROOT)/figures
# Where the heavy steps run (README, "On a cluster"): here, or each as a Slurm job that make waits for.
RUNNER ?= local
SLURM_ARGS ?=
SLURM_EMBED_CPUS ?= 2
SLURM_EMBED_MEM ?= 8G
SLURM_EMBED_ARGS ?=
SLURM_RUN_CPUS ?= $(RUN_THREADS)
SLURM_RUN_MEM ?= 4G
SLURM_RUN_ARGS ?=
STUDY_VARIABLES := CORPUS CORPUS_PATH LABEL_MAP EMBEDDINGS SEEDS FRACTIONS FOLDS REFERENCES REFERENCE_EMBEDDINGS EPOCHS THREADS DEMO_SIZE RELATIONS RELATION_SEEDS ERRORS_N MEDNER_ROOT RESULTS FIGURES \
	RUNNER SLURM_ARGS SLURM_EMBED_CPUS SLURM_EMBED_MEM SLURM_EMBED_ARGS SLURM_RUN_CPUS SLURM_RUN_MEM SLURM_RUN_ARGS
VARIABLE_HELP_CORPUS := corpus name: demo, phee, n2c2-2018, or any name with CORPUS_PATH
VARIABLE_HELP_CORPUS_PATH := folder of the corpus brat files (phee: ../shared/data/phee when empty)
VARIABLE_HELP_LABEL_MAP := file mapping the corpus labels to n2c2 names (optional)
VARIABLE_HELP_EMBEDDINGS := embedding specs to compare (embeddings/<name>.yaml)
VARIABLE_HELP_SEEDS := training seeds per embedding
VARIABLE_HELP_FRACTIONS := shares of the training documents (several values: learning curves)
VARIABLE_HELP_FOLDS := k-fold cross-validation over every document of the corpus (k >= 2); empty: its own test split
VARIABLE_HELP_REFERENCES := reference systems run for every seed beside the study (finetune finetune-crf scratch-crf); empty: none
VARIABLE_HELP_REFERENCE_EMBEDDINGS := BERT-family specs the finetune and finetune-crf references fine-tune
VARIABLE_HELP_EPOCHS := maximum training epochs per run (the learning-rate schedule may stop sooner)
VARIABLE_HELP_THREADS := torch threads per training run; empty: every core under plain make, one per run under make -jN
VARIABLE_HELP_DEMO_SIZE := sentences of the generated demo corpus
VARIABLE_HELP_RELATION_SEEDS := seeds of the relation runs (every embedding x pipeline/shared); the first of SEEDS by default
VARIABLE_HELP_RELATIONS := 1: the relation study (pipeline vs shared encoder, 05-relations) when the corpus has relations; 0: none
VARIABLE_HELP_ERRORS_N := documents on the static error page of each run
VARIABLE_HELP_MEDNER_ROOT := folder under which results/, figures/ and embedding artefacts go
VARIABLE_HELP_RESULTS := run folders and executed notebooks
VARIABLE_HELP_FIGURES := paper figures and tables
VARIABLE_HELP_RUNNER := where embedding preparations and runs execute: local, or slurm (each a Slurm job; make waits)
VARIABLE_HELP_SLURM_ARGS := sbatch options for every job: --partition=... --account=... --time=... --gres=gpu:1
VARIABLE_HELP_SLURM_EMBED_CPUS := CPUs of the job preparing an embedding
VARIABLE_HELP_SLURM_EMBED_MEM := memory of the job preparing an embedding
VARIABLE_HELP_SLURM_EMBED_ARGS := more sbatch options for embedding preparations only (they win over SLURM_ARGS)
VARIABLE_HELP_SLURM_RUN_CPUS := CPUs of the job of a run; default: its torch threads (THREADS, as without Slurm)
VARIABLE_HELP_SLURM_RUN_MEM := memory of the job of a run
VARIABLE_HELP_SLURM_RUN_ARGS := more sbatch options for runs only (they win over SLURM_ARGS)
export MEDNER_ROOT
NPROC := $(shell nproc 2>/dev/null || echo 1)
# Threads per training run. Recursive on purpose: MAKEFLAGS shows -jN only when a
# recipe expands. Under -jN every run gets one thread, as runs side by side that each
# use every core made an epoch ten times slower; a lone run gets every core.
RUN_THREADS = $(or $(THREADS),$(if $(filter-out -j1,$(filter -j%,$(MAKEFLAGS))),1,$(NPROC)))
# Third-party progress bars (flair, transformers) update at most every 30 s in batch logs.
export TQDM_MININTERVAL ?= 30

.DELETE_ON_ERROR:
.SECONDEXPANSION:
.PHONY: all corpus embeddings runs errors compare figures lab clean distclean bench bench-finetune bench-growth strip check-notebooks variables

variables: ## Show the study's variables, RUNNER=slurm's too (set them on the command line: make all SEEDS="1 2")
	@$(foreach v,$(STUDY_VARIABLES),printf '  %-16s = %-28s %s\n' '$v' '$($v)' '$(VARIABLE_HELP_$v)';)

# One line per epoch in the log, no carriage-return bars (papermill's own bar is off too).
PAPERMILL := $(BIN)/papermill --log-output --no-progress-bar --kernel python3
# Every step runs under a lock on the file it builds ($1; medner.locks): a second make on the same results
# (or a notebook run in JupyterLab) that reaches a step being built waits for it with one line, and skips
# it when it was built after this make started. $2 $3: the temporary the command writes, moved to $3 when
# it succeeds. A failed step's target is removed by the lock holder, not by .DELETE_ON_ERROR: these targets
# are precious (below), as make would otherwise delete, on a Ctrl-C or a failure in one terminal, a
# target the other make had just finished.
export MEDNER_MAKE_STARTED_NS := $(shell date +%s%N)
locked = $(PY) -m medner.locks build '$1' $(if $2,--publish '$2' '$3' )--
# Run a notebook ($1) into an executed copy ($2) through a temporary name, so a failed
# or interrupted run never leaves an executed notebook that looks finished. A heavy step
# names its Slurm resources ($4: EMBED or RUN): under RUNNER=slurm its papermill command,
# unchanged, runs as a Slurm job (below); otherwise the line is the same as without $4.
# $5: the file the step builds, when it is not the target ($@).
define execute
	@mkdir -p $(dir $2) $(CORPUS_DIR)/.make
	$(call locked,$(or $5,$@),$(call executing,$2),$2) $(if $(and $4,$(filter slurm,$(RUNNER))),$(call slurm_job,$4,$2) )$(PAPERMILL) $1 $(call executing,$2) $3
endef
executing = $(CORPUS_DIR)/.make/$(subst /,_,$(patsubst $(CORPUS_DIR)/%,%,$1))
# The prefix that makes a command a Slurm job of the step's resources ($1) that make waits for
# (medner.slurm: a failed or cancelled job fails the step with its id and log; Ctrl-C cancels
# it). The job is named after the executed notebook, e.g. demo/glove/seed-1/02-train, and
# logs beside it (02-train.slurm-<job id>.log). Through python -m, not the medner command:
# the waiting processes of make -j32 then cost a few MiB each, not a torch import each.
slurm_job = $(PY) -m medner.slurm run --name '$(patsubst $(abspath $(RESULTS))/%,%,$(abspath $(basename $2)))' \
	--log '$(basename $2).slurm-%j.log' --cpus $(SLURM_$1_CPUS) --mem '$(SLURM_$1_MEM)' \
	--sbatch-args='$(strip $(SLURM_ARGS) $(SLURM_$1_ARGS))' --
ifneq ($(words $(RUNNER) $(filter local slurm,$(RUNNER))),2)
$(error RUNNER=$(RUNNER): expected local or slurm)
endif

CORPUS_DIR := $(RESULTS)/$(CORPUS)
CORPUS_ABS := $(if $(CORPUS_PATH),$(abspath $(CORPUS_PATH)))
LABEL_MAP_ABS := $(if $(LABEL_MAP),$(abspath $(LABEL_MAP)))
CORPUS_PARAMS := -r corpus '$(CORPUS)' -r corpus_path '$(CORPUS_ABS)' -r label_map '$(LABEL_MAP_ABS)' -p demo_size $(DEMO_SIZE)
# The corpus's own files: a changed annotation re-runs what reads it.
CORPUS_FILES := $(if $(CORPUS_ABS),$(shell find '$(CORPUS_ABS)' -type f \( -name '*.ann' -o -name '*.txt' -o -name '*.conll' \) 2>/dev/null)) $(LABEL_MAP_ABS)

# Settings a target's file does not show: a change rewrites a small file that the
# targets depend on, so `make all EPOCHS=5` after `make all` re-runs the runs.
CORPUS_CONFIG := $(CORPUS_DIR)/.make/corpus.txt
TRAIN_CONFIG := $(CORPUS_DIR)/.make/train.txt
CORPUS_CONFIG_TEXT := corpus=$(CORPUS) path=$(CORPUS_ABS) label_map=$(LABEL_MAP_ABS) demo_size=$(DEMO_SIZE)
TRAIN_CONFIG_TEXT := epochs=$(EPOCHS)
STUDY_GOALS := $(filter-out help variables setup test lab clean distclean bench bench-finetune bench-growth strip check-notebooks,$(or $(MAKECMDGOALS),all))
ifneq ($(STUDY_GOALS),)
ifneq ($(CORPUS_CONFIG_TEXT),$(file <$(CORPUS_CONFIG)))
$(shell mkdir -p '$(dir $(CORPUS_CONFIG))')$(file >$(CORPUS_CONFIG),$(CORPUS_CONFIG_TEXT))
endif
ifneq ($(TRAIN_CONFIG_TEXT),$(file <$(TRAIN_CONFIG)))
$(shell mkdir -p '$(dir $(TRAIN_CONFIG))')$(file >$(TRAIN_CONFIG),$(TRAIN_CONFIG_TEXT))
endif
endif

# Library sources, precisely: the CLI and benchmark modules drive no notebook, and the report
# modules only the steps that draw; editing them re-runs only those steps.
LIB := lib/medner
LIB_ALL := $(shell find $(LIB) -name '*.py')
# The command line, the benchmarks, the Slurm wrapper and the locks (where and when a step runs, not what it
# computes) and the stand-alone predict stage drive no notebook; display code only shows results (editing it
# re-runs nothing).
LIB_CLI := $(LIB)/cli.py $(LIB)/predict.py $(LIB)/slurm.py $(LIB)/locks.py \
	$(wildcard $(LIB)/*commands.py $(LIB)/*/commands.py $(LIB)/bench/*.py)
LIB_DISPLAY := $(LIB)/display.py
LIB_REPORT := $(wildcard $(LIB)/comparison/*.py) $(LIB)/figures.py $(LIB)/tables.py $(LIB)/report_folder.py \
	$(LIB)/study_order.py $(LIB)/error_browser.py
LIB_BASE := $(LIB)/__init__.py $(LIB)/paths.py $(LIB)/checks.py $(LIB)/files.py $(filter-out $(LIB_CLI),$(wildcard $(LIB)/corpus/*.py))
LIB_EMBED := $(LIB_BASE) $(filter-out $(LIB_CLI),$(wildcard $(LIB)/embeddings/*.py)) $(LIB)/training.py
# What only the relation runs compute with: editing it re-runs the relation runs, not the NER runs.
LIB_RELATION := $(LIB)/relation_runs.py $(LIB)/relation_training.py $(LIB)/model/relations.py $(LIB)/evaluation/relations.py
# The reference systems' code (medner.reference) trains only the reference runs: the study's runs never import it.
LIB_REFERENCE := $(wildcard $(LIB)/reference/*.py)
LIB_RUN := $(filter-out $(LIB_CLI) $(LIB_REPORT) $(LIB_DISPLAY) $(LIB_RELATION) $(LIB_REFERENCE),$(LIB_ALL)) $(wildcard $(LIB)/model/fused/*.cpp)
# The comparison data (medner compare: seed spreads, bootstrap, significance) and the drawing (notebook 03
# reading comparison.json): editing a figure or a table redraws without computing the statistics again.
LIB_COMPARE := $(LIB_BASE) $(wildcard $(LIB)/comparison/*.py) $(filter-out $(LIB_CLI),$(wildcard $(LIB)/evaluation/*.py)) \
	$(LIB)/run_folder.py $(LIB)/relation_runs.py $(LIB)/study_order.py
LIB_DRAW := $(LIB_BASE) $(LIB)/figures.py $(LIB)/tables.py $(LIB)/report_folder.py $(LIB)/study_order.py $(wildcard $(LIB)/*.mplstyle)
LIB_ERRORS := $(LIB_BASE) $(LIB)/run_folder.py $(LIB)/error_browser.py

NB := notebooks
STATS := $(CORPUS_DIR)/corpus-stats.json
# With FOLDS=k every step but the corpus report runs once per fold (1..k): fold 0 stands for no folds.
FOLD_IDS := $(if $(FOLDS),$(shell seq 1 $(FOLDS)),0)
fold_suffix = $(if $(filter-out 0,$1),-fold-$1-of-$(FOLDS))
fold_params = $(if $(filter-out 0,$1), -p folds $(FOLDS) -p fold $1)
EMBEDDING_REPORTS := $(foreach e,$(EMBEDDINGS),$(foreach i,$(FOLD_IDS),$(CORPUS_DIR)/embeddings/$(e)$(call fold_suffix,$i).json))
# The run folder of (embedding, seed, fraction) comes from medner itself (medner.run_folder.RunFolder,
# through `medner runs folders --make`), written to an included file that make remakes, and then
# restarts, whenever the study's runs or the layout code change.
RUNS_CONFIG := $(CORPUS_DIR)/.make/runs.txt
RUNS_CONFIG_TEXT := corpus=$(CORPUS) path=$(CORPUS_ABS) results=$(abspath $(RESULTS)) embeddings=$(EMBEDDINGS) seeds=$(SEEDS) fractions=$(FRACTIONS) folds=$(FOLDS) relation_seeds=$(RELATION_SEEDS) references=$(REFERENCES) reference_embeddings=$(REFERENCE_EMBEDDINGS)
RUN_FOLDERS := $(CORPUS_DIR)/.make/run-folders.mk
ifneq ($(STUDY_GOALS),)
ifneq ($(RUNS_CONFIG_TEXT),$(file <$(RUNS_CONFIG)))
$(shell mkdir -p '$(dir $(RUNS_CONFIG))')$(file >$(RUNS_CONFIG),$(RUNS_CONFIG_TEXT))
endif
-include $(RUN_FOLDERS)
endif
$(RUN_FOLDERS): $(RUNS_CONFIG) $(LIB)/run_folder.py $(LIB)/study_order.py $(LIB)/corpus/registry.py | $(STAMP)
	$(BIN)/medner runs folders '$(CORPUS)' $(if $(CORPUS_ABS),--path '$(CORPUS_ABS)') --results '$(abspath $(RESULTS))' \
		--embeddings $(EMBEDDINGS) --seeds $(SEEDS) --fractions $(FRACTIONS) $(if $(FOLDS),--folds $(FOLDS)) \
		$(if $(REFERENCES),--references $(REFERENCES) --reference-embeddings $(REFERENCE_EMBEDDINGS)) --make > $@.$$$$.part \
		&& mv -f $@.$$$$.part $@
run_dir = $(run_dir.$1.$2.$3.$4)
# The systems a study trains: its embeddings (the BiLSTM-CRF on their vectors), then the reference systems of
# REFERENCES (finetune-bert, finetune-crf-bert, scratch-crf: named, with their kind and spec, by run-folders.mk).
SYSTEMS = $(EMBEDDINGS) $(reference_systems)
run_spec = $(or $(reference_embedding.$1),$1)
# A study run reads its embedding's prepared vectors; a reference run trains on the words and reads none.
run_inputs = $(if $(reference_kind.$1),$(LIB_REFERENCE),$(CORPUS_DIR)/embeddings/$1$(call fold_suffix,$2).json)
run_what = -r embedding '$(call run_spec,$1)'$(if $(reference_kind.$1), -r kind '$(reference_kind.$1)')
RUN_DIRS := $(foreach e,$(SYSTEMS),$(foreach s,$(SEEDS),$(foreach f,$(FRACTIONS),$(foreach i,$(FOLD_IDS),$(call run_dir,$e,$s,$f,$i)))))
RUN_METRICS := $(addsuffix /metrics.json,$(RUN_DIRS))
ERROR_PAGES := $(addsuffix /errors.html,$(RUN_DIRS))
# The relation study (RELATIONS=1, a corpus with relations, its own split): embedding x variant x seed, each
# executed by 05-relations into <results>/<corpus>/relations/<embedding>/<variant>/seed-<n>. Folders from
# `medner relations folders --make`, as the runs' (relation_dir.*, the pipeline's NER run relation_ner.*, and
# relation_study := 1 when the corpus has relations).
RELATION_FOLDERS := $(CORPUS_DIR)/.make/relation-folders.mk
ifneq ($(STUDY_GOALS),)
ifeq ($(RELATIONS),1)
-include $(RELATION_FOLDERS)
endif
endif
$(RELATION_FOLDERS): $(RUNS_CONFIG) $(LIB)/relation_runs.py $(LIB)/relation_commands.py $(LIB)/run_folder.py $(LIB)/corpus/registry.py | $(STAMP)
	$(BIN)/medner relations folders '$(CORPUS)' $(if $(CORPUS_ABS),--path '$(CORPUS_ABS)') --results '$(abspath $(RESULTS))' \
		--embeddings $(EMBEDDINGS) --seeds $(RELATION_SEEDS) --make > $@.$$$$.part && mv -f $@.$$$$.part $@
RELATION_VARIANTS := pipeline shared
relation_dir = $(relation_dir.$1.$2.$3)
RELATION_DIRS := $(if $(and $(filter 1,$(RELATIONS)),$(relation_study)),$(if $(FOLDS),,$(foreach e,$(EMBEDDINGS),$(foreach v,$(RELATION_VARIANTS),$(foreach s,$(RELATION_SEEDS),$(call relation_dir,$e,$v,$s))))))
RELATION_METRICS := $(addsuffix /metrics.json,$(RELATION_DIRS))
# A cross-validation is compared on its own, beside the study on the corpus's own split: figures/<corpus>/folds-<k>/.
FIGURES_DIR := $(FIGURES)/$(CORPUS)$(if $(FOLDS),/folds-$(FOLDS))
COMPARISON := $(FIGURES_DIR)/comparison.json
COMPARE := $(CORPUS_DIR)/03-compare$(if $(FOLDS),-folds-$(FOLDS)).ipynb
# Every finished run of the corpus of this evaluation (the corpus's own split, or these folds), those the variables
# above do not name too: the comparison reads them all.
FINISHED_RELATIONS := $(if $(FOLDS),,$(wildcard $(CORPUS_DIR)/relations/*/*/seed-*/metrics.json))
FINISHED_METRICS := $(if $(FOLDS),$(wildcard $(CORPUS_DIR)/*/seed-*/fold-*-of-$(FOLDS)/metrics.json $(CORPUS_DIR)/*/seed-*/fold-*-of-$(FOLDS)/frac-*/metrics.json),$(wildcard $(CORPUS_DIR)/*/seed-*/metrics.json $(CORPUS_DIR)/*/seed-*/frac-*/metrics.json))
COMPARISON_ARGS = '$(CORPUS)' $(if $(CORPUS_ABS),--path '$(CORPUS_ABS)') $(if $(LABEL_MAP_ABS),--label-map '$(LABEL_MAP_ABS)') \
	$(if $(filter demo,$(CORPUS)),--demo-size $(DEMO_SIZE)) --stats '$(abspath $(STATS))' --results '$(abspath $(RESULTS))' \
	$(if $(FOLDS),--folds $(FOLDS))
COMPARE_PARAMS = $(CORPUS_PARAMS) -r stats_path '$(abspath $(STATS))' -r results_root '$(abspath $(RESULTS))' \
	-r figures_dir '$(abspath $(FIGURES_DIR))' -r comparison_path '$(abspath $(COMPARISON))' -p progress lines \
	$(if $(FOLDS),-p folds $(FOLDS))
# A figure or table deleted by hand makes the comparison out of date (03-compare lists what it wrote).
define newline


endef
COMPARE_WROTE := $(subst $(newline), ,$(file <$(FIGURES_DIR)/files.txt))
ifneq ($(filter-out $(wildcard $(COMPARE_WROTE)),$(COMPARE_WROTE)),)
$(COMPARE): .FORCE
endif
.PHONY: .FORCE
# What the steps build: kept by make on errors and interrupts; the step's lock holder removes what a failed step wrote.
.PRECIOUS: $(STATS) $(EMBEDDING_REPORTS) $(RUN_METRICS) $(RELATION_METRICS) $(ERROR_PAGES) $(COMPARISON) $(COMPARE)

all: $(STAMP) corpus embeddings runs relations errors compare ## Run the whole study: corpus report, embeddings, runs, relation runs, error pages, comparison

corpus: $(STAMP) $(STATS) ## Corpus statistics, label distribution and overlap drops (results/<corpus>/00-corpus.ipynb)

$(STATS): $(NB)/00-corpus.ipynb $(LIB_BASE) $(LIB)/figures.py $(wildcard $(LIB)/*.mplstyle) $(CORPUS_CONFIG) $(CORPUS_FILES) | $(STAMP)
	$(call execute,$<,$(CORPUS_DIR)/00-corpus.ipynb,$(CORPUS_PARAMS) -r stats_path '$(abspath $@)' -r figure_path '$(abspath $(CORPUS_DIR))/label-distribution')

embeddings: $(STAMP) $(EMBEDDING_REPORTS) ## Prepare every embedding (train in-domain vectors/LMs, fill the cache)

# One embedding's preparation (per fold with FOLDS): its runs wait for it, so parallel runs never train the
# same LM twice. $1 embedding, $2 fold (0: none).
define embedding_rule
$(CORPUS_DIR)/embeddings/$1$(call fold_suffix,$2).json: $(NB)/01-embeddings.ipynb $(LIB_EMBED) $(CORPUS_CONFIG) $(CORPUS_FILES) $(wildcard embeddings/$1.yaml) | $(STAMP) $(STATS)
	$$(call execute,$$<,$(CORPUS_DIR)/embeddings/01-embeddings-$1$(call fold_suffix,$2).ipynb,$(CORPUS_PARAMS) -r embedding '$1'$(call fold_params,$2) -r report_path '$$(abspath $$@)' -p progress lines,EMBED)
endef
$(foreach e,$(EMBEDDINGS),$(foreach i,$(FOLD_IDS),$(eval $(call embedding_rule,$e,$i))))

runs: $(STAMP) $(RUN_METRICS) ## Train every run (embedding x seed x fraction, and the REFERENCES); each writes its metrics.json last

# $1 system (an embedding, or a reference system), $2 seed, $3 fraction, $4 fold (0: none): one run, executed by
# 02-train into its run folder.
define run_rule
$(call run_dir,$1,$2,$3,$4)/metrics.json: $(NB)/02-train.ipynb $(LIB_RUN) $(call run_inputs,$1,$4) $(TRAIN_CONFIG) $(CORPUS_CONFIG) $(wildcard embeddings/$(call run_spec,$1).yaml) | $(STAMP)
	$$(call execute,$$<,$(call run_dir,$1,$2,$3,$4)/02-train.ipynb,$(CORPUS_PARAMS) $(call run_what,$1) -p seed $2 -p fraction $3$(call fold_params,$4) -p max_epochs $(EPOCHS) -p num_threads $$(RUN_THREADS) -r results_root '$(abspath $(RESULTS))' -p force True -p progress lines,RUN)
	@test -f $$@ || { echo "$$@ was not written by 02-train" >&2; exit 1; }

$(call run_dir,$1,$2,$3,$4)/errors.html: $(call run_dir,$1,$2,$3,$4)/metrics.json $(NB)/04-errors.ipynb $(LIB_ERRORS) | $(STAMP)
	$$(call execute,$(NB)/04-errors.ipynb,$(call run_dir,$1,$2,$3,$4)/04-errors.ipynb,$(CORPUS_PARAMS) -r run_dir '$(abspath $(call run_dir,$1,$2,$3,$4))' -r page_path '$$(abspath $$@)' -p worst_n $(ERRORS_N))
endef
# A run's rules exist once its folder is known (the included run-folders.mk is read).
$(foreach e,$(SYSTEMS),$(foreach s,$(SEEDS),$(foreach f,$(FRACTIONS),$(foreach i,$(FOLD_IDS),$(if $(call run_dir,$e,$s,$f,$i),$(eval $(call run_rule,$e,$s,$f,$i)))))))

relations: $(STAMP) $(RELATION_METRICS) ## Train every relation run (embedding x pipeline/shared x seed) when the corpus has relations (RELATIONS=0: none)

# $1 embedding, $2 variant, $3 seed: one relation run, executed by 05-relations. The pipeline builds on the NER run
# of the same embedding and seed (trained by its own rule when the study has it, by the notebook otherwise).
define relation_rule
$(call relation_dir,$1,$2,$3)/metrics.json: $(NB)/05-relations.ipynb $(LIB_RUN) $(LIB_RELATION) $(CORPUS_DIR)/embeddings/$1.json $(TRAIN_CONFIG) $(CORPUS_CONFIG) $(wildcard embeddings/$1.yaml) $(if $(filter pipeline,$2),$(addsuffix /metrics.json,$(filter $(relation_ner.$1.$3),$(RUN_DIRS)))) | $(STAMP)
	$$(call execute,$$<,$(call relation_dir,$1,$2,$3)/05-relations.ipynb,$(CORPUS_PARAMS) -r embedding '$1' -r variant $2 -p seed $3 -p max_epochs $(EPOCHS) -p num_threads $$(RUN_THREADS) -r results_root '$(abspath $(RESULTS))' -p force True -p progress lines,RUN)
	@test -f $$@ || { echo "$$@ was not written by 05-relations" >&2; exit 1; }
endef
$(foreach e,$(EMBEDDINGS),$(foreach v,$(RELATION_VARIANTS),$(foreach s,$(RELATION_SEEDS),$(if $(filter $(call relation_dir,$e,$v,$s),$(RELATION_DIRS)),$(eval $(call relation_rule,$e,$v,$s))))))

errors: $(STAMP) $(ERROR_PAGES) ## Static HTML page of the worst documents in every run folder (errors.html)

compare: $(STAMP) $(COMPARE) ## Tables and figures over every run of the corpus (figures/<corpus>[/folds-<k>]/), drawn from comparison.json

.PHONY: comparison
comparison: $(STAMP) $(COMPARISON) ## Only the comparison data: every run of the corpus -> figures/<corpus>/comparison.json

# The data: computed again when a run, the comparison code or what the corpus statistics are made of
# change, never for a figure. The statistics file itself is order-only: 00-corpus rewrites it, with the
# same counts, whenever the label distribution figure is redrawn (notebook 03 compares the counts).
$(COMPARISON): $(sort $(RUN_METRICS) $(FINISHED_METRICS) $(RELATION_METRICS) $(FINISHED_RELATIONS)) $(LIB_COMPARE) $(NB)/00-corpus.ipynb $(CORPUS_CONFIG) $(CORPUS_FILES) | $(STAMP) $(STATS)
	$(call locked,$@) $(BIN)/medner compare $(COMPARISON_ARGS) --out '$(abspath $@)' --progress none

# The pictures: 03-compare draws every table and figure from comparison.json.
$(COMPARE): $(NB)/03-compare.ipynb $(COMPARISON) $(LIB_DRAW) | $(STAMP)
	$(call execute,$<,$@,$(COMPARE_PARAMS))

figures: $(STAMP) ## Redraw the tables and figures from the runs already finished (trains nothing; recomputes comparison.json only when a run changed)
	$(call execute,$(NB)/03-compare.ipynb,$(COMPARE),$(COMPARE_PARAMS),,$(COMPARE))

lab: $(STAMP) ## Start JupyterLab on the notebooks
	$(BIN)/jupyter lab --notebook-dir=$(NB) $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_FLAGS)

bench: $(STAMP) ## Benchmarks on PHEE: training speed vs flair's own trainer (both on THREADS threads), BERT embedder vs a bare forward pass, cache
	$(BIN)/medner bench --threads $(RUN_THREADS) --out $(RESULTS)/bench/training.json
	$(BIN)/medner bench-embeddings --out $(RESULTS)/bench/embeddings.json

bench-finetune: $(STAMP) ## Fine-tuning speed: our epoch vs the Hugging Face Trainer, same model, sentences, batch and threads (THREADS; GPU when present)
	$(BIN)/medner bench-finetune --threads $(RUN_THREADS) --out $(RESULTS)/bench/finetune.json

bench-growth: $(STAMP) ## How the steps grow: corpus report, GloVe preparation and a 2-epoch run on demo corpora of 1x, 3x, 10x PHEE's tokens (seconds, peak MiB, exponent)
	$(BIN)/medner bench-growth --out $(RESULTS)/bench/growth.json

strip: $(STAMP) ## Remove outputs and execution counts from the committed notebooks
	$(PY) tools/strip_notebook_outputs.py $(NB)/*.ipynb

check-notebooks: $(STAMP) ## Fail when a committed notebook carries outputs
	$(PY) tools/strip_notebook_outputs.py --check $(NB)/*.ipynb

clean: ## Remove results, figures and the embedding cache (keeps data and trained embeddings)
	rm -rf '$(RESULTS)' '$(FIGURES)' '$(MEDNER_ROOT)/embeddings/cache'

distclean: clean ## Also remove trained embeddings and .venv (keeps the committed specs)
	find '$(MEDNER_ROOT)/embeddings' -mindepth 1 -maxdepth 1 ! -name '*.yaml' ! -name 'README.md' -exec rm -rf {} +
	rm -rf $(VENV)
