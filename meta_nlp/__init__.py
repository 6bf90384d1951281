"""meta_nlp: meta-learning on pretrained transformers for multilingual NLP."""
__version__ = "0.1.0"

from meta_nlp.config import MetaConfig  # noqa: E402
from meta_nlp.errors import MetaNLPError  # noqa: E402


def __getattr__(name):  # lazy: `import meta_nlp` stays cheap
    if name == "MetaLearner":
        from meta_nlp.learner import MetaLearner
        return MetaLearner
    raise AttributeError(name)


__all__ = ["MetaConfig", "MetaLearner", "MetaNLPError", "__version__"]
