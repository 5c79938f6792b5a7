"""The recipes Outcrop trains, the library algorithm behind each, and the hyperparameters it honours."""

from __future__ import annotations

from dataclasses import dataclass

from outcrop.personalize.errors import InvalidInput

RECIPE_ARN = "arn:aws:personalize:::recipe/{}"
ALGORITHM_ARN = "arn:aws:personalize:::algorithm/{}"
FEATURE_ARN = "arn:aws:personalize:::feature-transformation/{}"


@dataclass(frozen=True)
class Recipe:
    name: str
    recipe_type: str  # USER_PERSONALIZATION, PERSONALIZED_RANKING, RELATED_ITEMS
    algorithm: str  # als, bpr, item-cosine, als-similar, popularity
    description: str
    hyperparameters: dict[str, tuple[int, int, int]]  # name: (default, min, max)

    @property
    def arn(self) -> str:
        return RECIPE_ARN.format(self.name)


_ALS = {"hidden_dimension": (64, 8, 512), "training_iterations": (15, 1, 200)}
_BPR = {"hidden_dimension": (64, 8, 512), "training_iterations": (200, 1, 2000)}
RECIPES = {
    recipe.name: recipe
    for recipe in (
        Recipe(
            "aws-user-personalization",
            "USER_PERSONALIZATION",
            "als",
            "Recommends items per user: implicit-feedback matrix factorization (implicit's ALS).",
            _ALS,
        ),
        Recipe(
            "aws-user-personalization-v2",
            "USER_PERSONALIZATION",
            "als",
            "Recommends items per user: implicit-feedback matrix factorization (implicit's ALS).",
            _ALS,
        ),
        Recipe(
            "aws-personalized-ranking",
            "PERSONALIZED_RANKING",
            "bpr",
            "Ranks a given list of items per user: Bayesian personalized ranking (implicit's BPR).",
            _BPR,
        ),
        Recipe(
            "aws-personalized-ranking-v2",
            "PERSONALIZED_RANKING",
            "bpr",
            "Ranks a given list of items per user: Bayesian personalized ranking (implicit's BPR).",
            _BPR,
        ),
        Recipe(
            "aws-similar-items",
            "RELATED_ITEMS",
            "als-similar",
            "Items similar to an item: cosine of ALS item factors learnt from interactions.",
            _ALS,
        ),
        Recipe(
            "aws-sims",
            "RELATED_ITEMS",
            "item-cosine",
            "Items similar to an item: item-to-item co-occurrence cosine (implicit's CosineRecommender).",
            {"neighbours": (100, 10, 1000)},
        ),
        Recipe(
            "aws-popularity-count",
            "USER_PERSONALIZATION",
            "popularity",
            "The most popular items by interaction count: a baseline.",
            {},
        ),
    )
}


def recipe_for(arn: str | None) -> Recipe:
    """The recipe an ARN names, or InvalidInput listing those served."""
    if not arn:
        raise InvalidInput("recipeArn is required: Outcrop does not run AutoML (performAutoML).")
    name = arn.removeprefix(RECIPE_ARN.format(""))
    if name not in RECIPES or arn != RECIPE_ARN.format(name):
        raise InvalidInput(
            f"The recipe {arn} is not served by Outcrop. Served: "
            + ", ".join(r.arn for r in RECIPES.values())
        )
    return RECIPES[name]


def hyperparameters(recipe: Recipe, given: dict[str, str] | None) -> dict[str, int]:
    """The recipe's honoured hyperparameters with the given values; any other is refused, not ignored."""
    values = {name: default for name, (default, _, _) in recipe.hyperparameters.items()}
    for name, raw in (given or {}).items():
        if name not in recipe.hyperparameters:
            honoured = ", ".join(recipe.hyperparameters) or "none"
            raise InvalidInput(
                f"The hyperparameter {name} is not supported for {recipe.name} in Outcrop "
                f"(honoured: {honoured})."
            )
        _, low, high = recipe.hyperparameters[name]
        try:
            value = int(raw)
        except ValueError:
            raise InvalidInput(f"The hyperparameter {name} must be an integer, not {raw!r}.") from None
        if not low <= value <= high:
            raise InvalidInput(f"The hyperparameter {name} must be between {low} and {high}.")
        values[name] = value
    return values


@dataclass(frozen=True)
class UseCase:
    """A domain dataset group's use case (a recommender's recipe): a recipe's algorithm on chosen events."""

    name: str
    domain: str
    recipe_type: str
    algorithm: str
    event_type: str | None  # trained on these events only (case-insensitive); None: all of them
    exclude_seen: bool = False  # related items leave out what the user already interacted with

    @property
    def arn(self) -> str:
        return RECIPE_ARN.format(self.name)


_VOD, _SHOP = "VIDEO_ON_DEMAND", "ECOMMERCE"
USE_CASES = {
    case.name: case
    for case in (
        UseCase("aws-vod-top-picks", _VOD, "USER_PERSONALIZATION", "als", None),
        UseCase("aws-vod-because-you-watched-x", _VOD, "RELATED_ITEMS", "als-similar", "Watch", True),
        UseCase("aws-vod-more-like-x", _VOD, "RELATED_ITEMS", "als-similar", None),
        UseCase("aws-vod-most-popular", _VOD, "USER_PERSONALIZATION", "popularity", "Watch"),
        UseCase("aws-ecomm-recommended-for-you", _SHOP, "USER_PERSONALIZATION", "als", None),
        UseCase(
            "aws-ecomm-customers-who-viewed-x-also-viewed", _SHOP, "RELATED_ITEMS", "item-cosine", "View"
        ),
        UseCase("aws-ecomm-frequently-bought-together", _SHOP, "RELATED_ITEMS", "item-cosine", "Purchase"),
        UseCase(
            "aws-ecomm-popular-items-by-purchases", _SHOP, "USER_PERSONALIZATION", "popularity", "Purchase"
        ),
        UseCase("aws-ecomm-popular-items-by-views", _SHOP, "USER_PERSONALIZATION", "popularity", "View"),
    )
}


def use_case_for(arn: str, domain: str | None) -> UseCase:
    """The use case a recommender's recipe ARN names, for the dataset group's domain."""
    name = arn.removeprefix(RECIPE_ARN.format(""))
    case = USE_CASES.get(name)
    if case is None or arn != case.arn:
        raise InvalidInput(
            f"The recipe {arn} is not a use case Outcrop serves. Served: "
            + ", ".join(c.arn for c in USE_CASES.values())
        )
    if domain != case.domain:
        raise InvalidInput(
            f"The use case {name} is for {case.domain} dataset groups; this dataset group's domain is "
            f"{domain or 'none (a custom dataset group)'}."
        )
    return case


def default_hyperparameters(algorithm: str) -> dict[str, int]:
    recipe = next(r for r in RECIPES.values() if r.algorithm == algorithm)
    return hyperparameters(recipe, None)
