"""Training: the Accelerate meta-trainer and the multitask (ERM) baseline."""
