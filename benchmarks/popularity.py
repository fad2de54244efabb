"""Which prompt each request carries: a catalogue of copilot prompts with Zipf popularity.

A prompt id is ``template * entities + entity``: one of the copilot's tasks (summarise
a pipeline, draft outreach, ...) about one candidate. Popularity is Zipf over the whole
catalogue: the prompt of rank r (1-based) is drawn with probability ∝ r^-skew, so a
higher skew repeats the popular prompts more often and ``skew=0`` is uniform.

Ranks map to ids through a fixed affine permutation, ``id = (rank · stride) mod size``
with ``stride`` near ``size/φ`` and coprime to it: the same prompts are popular for
every seed, and the popular ones spread over many templates and entities.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


_TASKS = (
    (
        "Summarise the hiring pipeline for candidate {cid} ({name}, applying for {role}) in three"
        " bullet points, highlighting the current stage and any blockers."
    ),
    (
        "Draft a friendly outreach email to {name} (candidate {cid}) about the {role} opening on"
        " the {team} team. Keep it under 120 words and mention one specific detail from their"
        " profile."
    ),
    (
        "List the top three strengths and the two biggest risks of candidate {cid}, {name}, based"
        " on their interview feedback for the {role} position."
    ),
    (
        "Write a short follow-up message to {name} (candidate {cid}) thanking them for the onsite"
        " interview for {role} and explaining the next steps."
    ),
    (
        "Compare candidate {cid}, {name}, against the {role} job description and flag any"
        " must-have skills that seem to be missing."
    ),
    (
        "Suggest five tailored interview questions for candidate {cid}, {name}, who is"
        " interviewing for {role} on the {team} team, focusing on gaps in their experience."
    ),
    (
        "Summarise the feedback from all interviewers of candidate {cid} ({name}) and recommend"
        " whether to move forward with an offer for {role}."
    ),
    (
        "Draft a polite rejection email to {name} (candidate {cid}) for the {role} position that"
        " keeps the door open for future roles on the {team} team."
    ),
    (
        "Extract the key dates from the application history of candidate {cid}, {name}, and"
        " present them as a short timeline for the {role} requisition."
    ),
    (
        "Write a two-sentence summary of the background of {name} (candidate {cid}) for the"
        " hiring manager of the {team} team, who is reviewing candidates for {role}."
    ),
    (
        "Draft a LinkedIn InMail to {name} (candidate {cid}) introducing the {role} role on our"
        " {team} team. Make it personal and concise, and avoid buzzwords."
    ),
    (
        "Estimate how well candidate {cid}, {name}, fits the {role} salary band and seniority"
        " level, and explain your reasoning in a short paragraph."
    ),
    (
        "Prepare a briefing for the recruiter who will call {name} (candidate {cid}) tomorrow"
        " about the {role} offer, including likely objections."
    ),
    (
        "Identify any scheduling conflicts or delays in the interview loop of candidate {cid},"
        " {name}, and propose a plan to close the {role} process this week."
    ),
    (
        "Rewrite the notes from the phone screen with {name} for the {role} position into a"
        " clean, neutral summary for the record of candidate {cid}."
    ),
    (
        "Draft a reference check request to the former manager of {name} (candidate {cid}), a"
        " finalist for {role} on the {team} team, with four concrete questions."
    ),
    (
        "Explain why candidate {cid}, {name}, stalled in the {role} pipeline and suggest one"
        " action that could re-engage them."
    ),
    (
        "Create a short scorecard for {name} (candidate {cid}) covering technical skills,"
        " communication and team fit for the {role} position, scoring each from 1 to 5."
    ),
    (
        "Write a warm welcome message for {name} (candidate {cid}), who just accepted the {role}"
        " offer on the {team} team, including what to expect in the first week."
    ),
    (
        "List the open questions the {team} hiring committee still has about candidate {cid},"
        " {name}, before deciding on the {role} offer."
    ),
    (
        "Draft a reminder to the interviewers of candidate {cid}, {name}, asking them to submit"
        " their {role} feedback by the end of the day."
    ),
    (
        "Turn the application of {name} (candidate {cid}) for {role} into a brief summary that a"
        " non-technical executive can read in thirty seconds."
    ),
    (
        "Suggest three other open roles besides {role} that candidate {cid}, {name}, might fit"
        " well, and explain each choice in one sentence."
    ),
    (
        "Check the notes on candidate {cid}, {name}, for biased or non-job-related language and"
        " suggest neutral wording for the {role} review."
    ),
)
_STYLES = (
    "",
    " Answer in plain English.",
    " Use a professional but warm tone.",
    " Keep the answer under 100 words.",
    " Format the answer as a short list.",
)
MAX_TEMPLATES = len(_TASKS) * len(_STYLES)

# Lengths are pairwise coprime, so neighbouring entities differ in every part.
_FIRST_NAMES = (
    "Priya", "Lukas", "Amara", "Mateo", "Sofia", "Kenji", "Olivia", "Tariq", "Ingrid",
    "Daniel", "Mei", "Samuel", "Fatima", "Jonas", "Chloe", "Ravi", "Elena",
)  # fmt: skip
_LAST_NAMES = (
    "Shah", "Becker", "Okafor", "García", "Rossi", "Tanaka", "Brown", "Haddad", "Larsen",
    "Novak", "Chen", "Dubois", "Kowalski", "Silva", "Murphy", "Nakamura", "Ahmed", "Fischer",
    "Jensen",
)  # fmt: skip
_ROLES = (
    ("Senior Backend Engineer", "Payments"),
    ("Product Designer", "Growth"),
    ("Data Analyst", "Data"),
    ("Engineering Manager", "Platform"),
    ("Account Executive", "Sales"),
    ("Customer Success Manager", "Customer Success"),
    ("Site Reliability Engineer", "Infrastructure"),
    ("Technical Recruiter", "Talent"),
    ("Machine Learning Engineer", "Search"),
    ("Frontend Engineer", "Web"),
    ("Security Engineer", "Security"),
    ("Finance Business Partner", "Finance"),
    ("Mobile Engineer", "Mobile"),
)
_INT32_MAX = 2**31 - 1
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


@dataclass(frozen=True)
class PromptCatalogue:
    """``templates x entities`` distinct prompts, drawn by Zipf popularity with ``skew``."""

    templates: int = 20
    entities: int = 500
    skew: float = 1.1

    def __post_init__(self) -> None:
        if not 1 <= self.templates <= MAX_TEMPLATES:
            raise ValueError(f"templates must be in [1, {MAX_TEMPLATES}], got {self.templates!r}")
        if self.entities < 1:
            raise ValueError(f"entities must be >= 1, got {self.entities!r}")
        if self.size > _INT32_MAX:
            raise ValueError(f"templates * entities must fit in int32, got {self.size}")
        if not (math.isfinite(self.skew) and self.skew >= 0):
            raise ValueError(f"skew must be finite and >= 0, got {self.skew!r}")

    @property
    def size(self) -> int:
        """The number of distinct prompts."""
        return self.templates * self.entities

    def probabilities(self) -> npt.NDArray[np.float64]:
        """The probability of each rank, most popular first."""
        weights = np.arange(1, self.size + 1, dtype=np.float64) ** -self.skew
        weights /= weights.sum()
        return weights

    def id_for_rank(self, rank: npt.NDArray[np.int64]) -> npt.NDArray[np.int32]:
        """The prompt ids of 0-based popularity ranks."""
        ids = np.asarray(rank, dtype=np.int64) * self._stride() % self.size
        return ids.astype(np.int32)

    def sample(self, n: int, rng: np.random.Generator) -> npt.NDArray[np.int32]:
        """``n`` prompt ids in [0, size), independent draws by popularity."""
        cdf = np.cumsum(self.probabilities())
        cdf[-1] = 1.0
        rank = np.searchsorted(cdf, rng.random(n), side="right")
        return self.id_for_rank(rank)

    def template_and_entity(self, prompt_id: int) -> tuple[int, int]:
        """The template and entity of a prompt id."""
        prompt_id = operator.index(prompt_id)
        if not 0 <= prompt_id < self.size:
            raise ValueError(f"prompt_id must be in [0, {self.size}), got {prompt_id}")
        template, entity = divmod(prompt_id, self.entities)
        return template, entity

    def text(self, prompt_id: int) -> str:
        """The prompt's text: its template filled with its entity; the same id, the same text."""
        template, entity = self.template_and_entity(prompt_id)
        first = _FIRST_NAMES[entity % len(_FIRST_NAMES)]
        last = _LAST_NAMES[entity % len(_LAST_NAMES)]
        role, team = _ROLES[entity % len(_ROLES)]
        task = _TASKS[template % len(_TASKS)]
        style = _STYLES[template // len(_TASKS)]
        filled = task.format(cid=1000 + entity, name=f"{first} {last}", role=role, team=team)
        return filled + style

    def _stride(self) -> int:
        """The multiplier of the rank → id permutation: near size/φ, coprime to size."""
        stride = max(1, round(self.size * _GOLDEN))
        while math.gcd(stride, self.size) != 1:
            stride += 1
        return stride
