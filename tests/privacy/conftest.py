"""The research fixtures, for the rights of study participants."""

from tests.research.conftest import make_study, study_campaign

__all__ = ["make_study", "study_campaign"]
