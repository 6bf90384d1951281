"""meta_nlp: meta-learning on pretrained transformers for multilingual NLP."""
__version__ = "0.1.0"

from meta_nlp.config import MetaConfig  # noqa: E402
from meta_nlp.errors import MetaNLPError  # noqa: E402


def __getattr__(name):  # lazy: `import meta_nlp` stays cheap
    if name in ("MetaLearner", "Classifier"):
        from meta_nlp import learner
        return getattr(learner, name)
    raise AttributeError(name)


__all__ = ["Classifier", "MetaConfig", "MetaLearner", "MetaNLPError", "__version__"]
