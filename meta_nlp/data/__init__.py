"""Data: task registry (tasks/*.yaml), sources, language splits and episode samplers."""
from meta_nlp.data.episodes import Episode, EpisodeSampler, split_for_validation
from meta_nlp.data.registry import TaskSpec, find_task, list_tasks, load_corpus, load_pairs
from meta_nlp.data.sources import read_tatoeba_pairs

__all__ = ["Episode", "EpisodeSampler", "split_for_validation", "TaskSpec", "find_task", "list_tasks", "load_corpus",
           "load_pairs", "read_tatoeba_pairs"]
