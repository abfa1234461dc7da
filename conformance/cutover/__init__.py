"""Cutover from legacy to v2: the two-target comparison, baselines, and the client traffic audit."""
