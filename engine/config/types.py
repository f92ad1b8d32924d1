"""Field types of the config schema that refuse YAML's near-misses.

pydantic's lax mode would read `true` as the number 1, `"nan"` or `.inf` as a
float, the integer 1514764800 as a date (seconds since 1970) and `"120"` as
120. A config is hand-written YAML, where each of those is far more likely a
mistake than an intent, and a NaN or an infinity poisons every statistic
silently. So: numbers are YAML numbers (not booleans, not quoted text) and
finite; dates are YAML dates or 'YYYY-MM-DD' text within FIRST_YEAR..LAST_YEAR.
A whole float such as 20.0 still reads as the integer 20 (sweep ranges with a
float step produce those).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import AfterValidator, AllowInfNan, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from engine.limits import FIRST_YEAR, LAST_YEAR
from strategies.params import plain_number

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _date_input(value: Any) -> Any:
    """Accept a YAML date or 'YYYY-MM-DD' text; refuse numbers (epoch seconds) and others."""
    if isinstance(value, dt.date) or (isinstance(value, str) and _ISO_DATE.match(value)):
        return value
    raise PydanticCustomError(
        "date_form", "must be a date written YYYY-MM-DD, not {value}", {"value": repr(value)[:40]}
    )


def _date_years(value: dt.date) -> dt.date:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise PydanticCustomError(
            "date_range",
            "must be in the years {first} to {last}, not {value}",
            {"first": FIRST_YEAR, "last": LAST_YEAR, "value": value.isoformat()},
        )
    return value


Number = Annotated[float, BeforeValidator(plain_number), AllowInfNan(False)]
Whole = Annotated[int, BeforeValidator(plain_number)]
Date = Annotated[dt.date, BeforeValidator(_date_input), AfterValidator(_date_years)]
Weight = Annotated[Number, Field(ge=0.0, le=1.0)]
