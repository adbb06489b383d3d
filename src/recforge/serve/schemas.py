"""Request and response bodies of the recommendation service (pydantic models).

Raw ids are integers or strings, exactly as in the training data's vocabulary; strict types
keep ``true`` or ``1.5`` from being coerced into an id silently.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, model_validator

RawId = Annotated[StrictInt | Annotated[StrictStr, Field(min_length=1, max_length=256)],
                  Field(description="a raw user or item id (integer or string, as in the data)")]


class RecommendRequest(BaseModel):
    """Exactly one of ``users`` (known or unknown raw user ids) or ``history`` (item ids of
    an anonymous user, scored by fold-in where the model supports it)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"users": [1, 2], "k": 10}, {"history": [1, 50, 260], "k": 5}],
    })

    users: list[RawId] | None = Field(default=None, min_length=1, description="raw user ids")
    history: list[RawId] | None = Field(default=None, min_length=1, description="raw item ids of an anonymous user")
    k: int = Field(default=10, ge=1, description="list length")

    @model_validator(mode="after")
    def _one_of(self) -> RecommendRequest:
        if (self.users is None) == (self.history is None):
            raise ValueError("give exactly one of 'users' or 'history'")
        return self


class Recommendation(BaseModel):
    """A top-k list for one user or history, best first."""

    user: int | str | None = Field(default=None, description="the user id (null for an anonymous history)")
    items: list[int | str]
    scores: list[float]
    fallback: bool = Field(default=False, description="true when popularity was served instead of the model")
    reason: str | None = Field(default=None, description="why the fallback was used")
    unknown_items: list[int | str] = Field(default_factory=list,
                                           description="history items not in the catalogue (ignored)")


class RecommendResponse(BaseModel):
    """Answer of ``POST /recommend``: one list per requested user (or one for a history)."""

    model: str
    k: int
    results: list[Recommendation]


class SimilarResponse(BaseModel):
    """Items most similar to ``item``, best first."""

    model: str
    item: int | str
    items: list[int | str]
    scores: list[float]


class Health(BaseModel):
    status: str
    model: str
    n_users: int
    n_items: int


class Problem(BaseModel):
    """Error body for 404 and 503 answers."""

    detail: str
