"""Loss advice: profile a target, pick a loss from the decision table, explain why.

``losskit.advise`` (:func:`losskit.advisor.recommend.advise`) is the entry point; the table
itself is :data:`losskit.advisor.table.DECISION_TABLE`.
"""

from losskit.advisor.advice import Advice
from losskit.advisor.profile import TargetProfile, profile_target
from losskit.advisor.recommend import advise
from losskit.advisor.table import DECISION_TABLE, decision_table_markdown

__all__ = ["DECISION_TABLE", "Advice", "TargetProfile", "advise", "decision_table_markdown", "profile_target"]
