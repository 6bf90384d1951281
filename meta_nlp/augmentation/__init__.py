"""Task augmentation for meta-training, in one place: more, and more varied, training tasks from the same data.

- SMLMT (samplers.py; Bansal et al., 2020): a share of the episodes (`--smlmt-ratio`) are self-supervised
  tasks built from the training languages' text without its labels: N words, masked in K+Q sentences each,
  the word is the label.
- Cross-lingual support (samplers.py): a share of each episode's support examples
  (`--cross-lingual-support-ratio`) is replaced by a translation into another training language, from the
  task's `parallel_task`, where one exists; the label is kept.
- Task interpolation (interpolation.py; MLTI, Yao et al., 2022, `--mlti-ratio`): a share of the tasks are
  replaced by a mix of two tasks of different languages, on the input token embeddings, so it needs the
  model: the meta-learning objective applies it to the task batch after these samplers.
- Label permutation is always on (EpisodeSampler permutes label ids in every episode).

Every decision is a pure function of (seed, index or (step, task)[, language]) drawn from a random stream
of its own (below), apart from EpisodeSampler's: switching an augmentation on changes which episodes are
augmented, never what the plain episode of an index is, and an augmented run is the same on any number of
processes and after a resume. Only training languages are read; meta-validation and evaluation episodes are
never augmented.
"""
# The random streams of the augmentations (the multitask baseline's batches use 11).
SMLMT_STREAM, MIX_STREAM, TRANSLATE_STREAM, MLTI_STREAM = 101, 102, 103, 104
