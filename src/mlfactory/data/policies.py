"""What to do with each class of bad input: fail, drop the rows, repair them, or keep them with a warning."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Policy = Literal["fail", "drop", "repair", "warn"]

# Which actions make sense for each problem class (validated when the config is read).
ALLOWED: dict[str, tuple[str, ...]] = {
    "missing_price": ("fail", "drop"),
    "non_positive_price": ("fail", "drop", "warn"),
    "negative_volume": ("fail", "drop", "repair", "warn"),
    "missing_volume": ("fail", "drop", "repair"),
    "out_of_order": ("fail", "repair"),
    "duplicates": ("fail", "drop", "repair"),
    "ohlc_inconsistent": ("fail", "drop", "repair", "warn"),
    "zero_volume": ("fail", "drop", "warn"),
    "out_of_session": ("fail", "drop", "warn"),
    "price_spike": ("fail", "drop", "warn"),
    "implausible_value": ("fail", "drop", "warn"),
    "bar_spacing": ("fail", "drop", "warn"),
    "probable_roll": ("fail", "warn"),
}

DESCRIPTIONS: dict[str, str] = {
    "missing_price": "an open/high/low/close value is empty or NaN",
    "non_positive_price": "a price is zero or negative (allowed only for instruments with allow_non_positive_prices)",
    "negative_volume": "volume is negative (repair sets it to 0)",
    "missing_volume": "volume is empty or NaN (repair sets it to 0)",
    "out_of_order": "a timestamp is earlier than the row before it (repair sorts the file)",
    "duplicates": "a timestamp appears more than once (drop keeps the first row; repair merges the rows into one bar)",
    "ohlc_inconsistent": "high < max(open, close), low > min(open, close) or high < low (repair widens high/low to the body)",
    "zero_volume": "a bar has zero volume",
    "out_of_session": "a bar falls outside the exchange session (daily break, weekend, holiday or after an early close)",
    "price_spike": "a 1-minute log return has a robust z-score above spike_z",
    "implausible_value": (
        "a value is infinite, or a price lies outside the plausible band around the robust trailing price "
        "level (level ÷ or × implausible_factor, or implausible_ticks ticks away, whichever is wider), or a volume is above 1e12"
    ),
    "bar_spacing": (
        "a timestamp is not on a whole minute: the file holds bars shorter than 1 minute (e.g. 1-second bars); "
        "resample it to 1-minute bars first"
    ),
    "probable_roll": (
        "the price level jumps and stays there: the file probably joins two contracts; build a continuous "
        "series with `mlfactory data stitch`"
    ),
}


class ValidationPolicies(BaseModel):
    """Per-class policies. Defaults repair what is unambiguous and stop on what would change results."""

    model_config = ConfigDict(extra="forbid")

    missing_price: Policy = "fail"
    non_positive_price: Policy = "fail"
    negative_volume: Policy = "fail"
    missing_volume: Policy = "fail"
    out_of_order: Policy = "repair"
    duplicates: Policy = "drop"
    ohlc_inconsistent: Policy = "repair"
    zero_volume: Policy = "warn"
    out_of_session: Policy = "warn"
    price_spike: Policy = "warn"
    implausible_value: Policy = "fail"
    bar_spacing: Policy = "fail"
    probable_roll: Policy = "warn"
    implausible_factor: float = Field(
        default=4.0, gt=1, description="plausible band: between the trailing level ÷ and × this factor"
    )
    implausible_ticks: float = Field(
        default=10_000, gt=0, description="plausible band: at least this many ticks either side of the level"
    )
    spike_z: float = Field(default=15.0, gt=0, description="robust z-score above which a return is a spike")
    unexpected_gap_minutes: int = Field(
        default=30, ge=2, description="intra-session gaps longer than this are 'unexpected'"
    )

    @model_validator(mode="after")
    def _check_allowed(self) -> ValidationPolicies:
        for cls, allowed in ALLOWED.items():
            value = getattr(self, cls)
            if value not in allowed:
                raise ValueError(f"{cls}: policy {value!r} is not allowed; use one of {', '.join(allowed)}")
        return self

    def with_overrides(self, overrides: dict[str, str]) -> ValidationPolicies:
        data = self.model_dump()
        data.update(overrides)
        return ValidationPolicies.model_validate(data)
