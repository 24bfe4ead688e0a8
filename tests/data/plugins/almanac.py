"""Tools a user might add: an almanac, a currency converter, a ski report."""

from typing import Literal

from assistant.tools import tool

POPULATION = {("california", 1970): 19_953_134, ("texas", 1970): 11_196_730}


@tool
def us_population_by_state_year(state: str, year: int) -> int:
    """The population of a US state in a given year, from the census.

    Args:
        state: the state's name, such as California
        year: the census year, such as 1970
    """
    return POPULATION.get((state.strip().lower(), year), 0)


@tool
def convert_currency(amount: float, to: Literal["EUR", "USD", "GBP", "JPY"]) -> str:
    """Convert an amount of money into another currency.

    Args:
        amount: how much money
        to: the currency code to convert into
    """
    return f"{amount} in {to}"


@tool(examples=["snow report for Whistler"])
def ski_resort_weather(resort: str) -> str:
    """Snow depth and weather at a ski resort.

    Args:
        resort: the ski resort's name
    """
    return f"{resort}: 120 cm of snow, -4 °C"
